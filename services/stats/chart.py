"""The 年代 × 性別 grid per program as a PNG: current fiscal year and, beside each bar, the
prior year (hatched). Matplotlib's Agg backend, no display needed.

Japanese labels need a CJK font (here: IPAGothic from fonts-ipafont); without one the labels
are romanised rather than drawn as tofu.
"""

from __future__ import annotations

import functools
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.ticker import MaxNLocator

CJK_FONTS = ("Noto Sans CJK JP", "Noto Sans JP", "IPAexGothic", "IPAGothic", "TakaoGothic")
EN_BANDS = {
    "under_20": "<=19", "20s": "20s", "30s": "30s", "40s": "40s", "50s": "50s",
    "60_64": "60-64", "65_plus": "65+", "unknown": "unknown",
}
EN_PROGRAMS = {
    "multi_agency": "Multi-agency collaboration",
    "outreach": "Outreach / continuous support",
    "participation": "Participation support",
}
SEXES = (("male", "Male", "男性", "#4477aa"), ("female", "Female", "女性", "#cc6677"),
         ("unknown", "Unknown", "性別不明", "#999933"))


@functools.cache
def japanese_font() -> str | None:
    """A font family that renders Japanese, if one is installed. Matplotlib's font list is
    cached on disk: a font installed after the cache was written is looked for once."""
    found = _cjk_family()
    if found is None:
        for path in font_manager.findSystemFonts():
            if any(hint in path.lower() for hint in ("ipag", "ipaex", "notosanscjk", "takao")):
                font_manager.fontManager.addfont(path)
        found = _cjk_family()
    return found


def _cjk_family() -> str | None:
    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((n for n in CJK_FONTS if n in names), None)


def to_png(report: dict[str, Any]) -> bytes:
    font = japanese_font()
    # Fonts apply to text created inside the context, so the whole figure is drawn in it.
    with plt.rc_context({"font.family": font} if font else {}):
        return _draw(report, ja=font is not None)


def _draw(report: dict[str, Any], *, ja: bool) -> bytes:
    fig = figure(report, ja=ja)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def figure(report: dict[str, Any], *, ja: bool) -> Any:
    """The chart as a matplotlib figure (the caller closes it)."""
    programs = report["programs"]
    fig, axes = plt.subplots(len(programs), 1, figsize=(10, 3.6 * len(programs)))
    cur, pri = report["current"], report["prior"]
    for ax, program in zip(axes, programs, strict=True):
        grid = program["persons"]["grid"]
        xs = range(len(grid))
        width = 0.13
        for i, (key, en, jp, color) in enumerate(SEXES):
            offset = (i - 1) * 2 * width
            ax.bar([x + offset - width / 2 for x in xs], [r[key]["current"] for r in grid],
                   width, color=color, label=f"{jp if ja else en} {cur['short']}")
            ax.bar([x + offset + width / 2 for x in xs], [r[key]["prior"] for r in grid],
                   width, color=color, alpha=0.45, hatch="//",
                   label=f"{jp if ja else en} {pri['short']}")
        ax.set_xticks(list(xs))
        ax.set_xticklabels([r["label"] if ja else EN_BANDS[r["age_band"]] for r in grid])
        total = program["persons"]["total"]
        title = program["label"] if ja else EN_PROGRAMS.get(program["program"], program["program"])
        agencies = program["persons"]["agencies"]
        if agencies["current"] or agencies["prior"]:  # the 関係機関 column has no age or sex
            label = "関係機関" if ja else "agencies"
            title += f" / {label} {agencies['current']} ({agencies['prior']})"
        ax.set_title(f"{title}: {total['current']} ({total['prior']})")
        ax.set_ylabel("人数" if ja else "persons")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # persons come whole
        ax.legend(ncol=3, fontsize=7)
    fig.suptitle(
        f"年代別・性別の相談者数 {cur['as_of_wareki']}時点（{cur['short']}）"
        f"と前年度（{pri['short']}）"
        if ja else f"as of {cur['as_of']} ({cur['short']}) vs {pri['as_of']} ({pri['short']})"
    )
    return fig
