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
