"""Rendering needs no service: the chart draws without tofu, with or without a CJK font."""

from __future__ import annotations

import warnings
from datetime import date

import pytest

from services.stats import chart
from services.stats.domain import Snapshot, compute_report
from services.stats.render import to_markdown, to_table

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("font", ["installed", "none"])
def test_the_chart_never_draws_missing_glyphs(font, monkeypatch):
    if font == "none":
        monkeypatch.setattr(chart, "japanese_font", lambda: None)
    report = compute_report(Snapshot(), date(2025, 11, 30))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns on every missing glyph
        assert chart.to_png(report)[:8] == PNG


def test_an_empty_report_still_has_the_seed_layout():
    report = compute_report(Snapshot(), date(2025, 11, 30))
    text = to_table(report)
    assert "1. 相談者数 0名 (0名)" in text and "関係機関" in text
    assert "※数字はR7.11時点での実績" in text
    assert "| 合計 | 0 (0) | 0 (0) | 0 (0) | 0 (0) |" in to_markdown(report)


def test_the_chart_counts_whole_persons_with_a_japanese_title():
    report = compute_report(Snapshot(), date(2025, 11, 30))
    for program in report["programs"]:  # small counts: matplotlib would step by 0.5
        program["persons"]["grid"][0]["male"] = {"current": 3, "prior": 1}
    if chart.japanese_font() is None:
        pytest.skip("no CJK font installed (CI installs fonts-ipafont-gothic)")
    with chart.plt.rc_context({"font.family": chart.japanese_font()}):
        fig = chart.figure(report, ja=True)
    try:
        fig.canvas.draw()
        for ax in fig.axes:
            ticks = [t for t in ax.get_yticks() if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]]
            assert ticks and all(float(t).is_integer() for t in ticks), ticks
        assert "年代別・性別の相談者数" in fig.get_suptitle()
    finally:
        chart.plt.close(fig)
