"""Turn the stats service's report (its own documented JSON) into tables and an SVG chart.

The console does not depend on the report's exact shape: it finds the three programs,
flattens their figures, pairs each figure with its prior-year twin (a path segment such as
``prior``), and charts the headline figures (the shortest paths) of each program.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from contracts.common import PROGRAM_LABELS_JA, Program

PRIOR_KEYS = {"prior", "previous", "prior_year", "prev", "last_year", "prior_fy"}
CURRENT_KEYS = {"current", "value", "this_year", "fy", "count"}
CHART_MAX = 10


@dataclass
class Figure:
    path: str
    value: float
    prior: float | None = None


@dataclass
class ProgramView:
    key: str
    label: str
    figures: list[Figure] = field(default_factory=list)
    chart_svg: str = ""


@dataclass
class ReportView:
    programs: list[ProgramView]
    meta: list[tuple[str, str]]
    raw: Any


def _flatten(obj: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], float]]:
    if isinstance(obj, bool):
        return []
    if isinstance(obj, int | float):
        return [(path, float(obj))]
    if isinstance(obj, dict):
        out = []
        for k, v in obj.items():
            out += _flatten(v, (*path, str(k)))
        return out
    if isinstance(obj, list):
        out = []
        for i, v in enumerate(obj):
            name = (v.get("name") or v.get("label") or v.get("category") or v.get("key")
                    if isinstance(v, dict) else None)
            out += _flatten(v, (*path, str(name or i)))
        return out
    return []


def _figures(obj: Any) -> list[Figure]:
    current: dict[tuple[str, ...], float] = {}
    prior: dict[tuple[str, ...], float] = {}
    for path, value in _flatten(obj):
        if any(p in PRIOR_KEYS for p in path):
            prior[tuple(p for p in path if p not in PRIOR_KEYS)] = value
        else:
            current[tuple(p for p in path if p not in CURRENT_KEYS)] = value
    return [
        Figure(" / ".join(path) or "total", value, prior.get(path))
        for path, value in current.items()
    ]


def _programs(result: Any) -> list[tuple[str, Any]]:
    if not isinstance(result, dict):
        return []
    source = result.get("programs", result)
    if isinstance(source, list):
        return [(str(p.get("program") or p.get("key") or i), p)
                for i, p in enumerate(source) if isinstance(p, dict)]
    if isinstance(source, dict):
        return [(k, v) for k, v in source.items() if k in {p.value for p in Program}]
    return []


def chart(figures: list[Figure], width: int = 560, sort: bool = True) -> str:
    """Horizontal bars, this year and (lighter) the prior year: a self-contained SVG."""
    shown = (sorted(figures, key=lambda f: (f.path.count("/"), f.path)) if sort
             else figures)[:CHART_MAX]
    if not shown:
        return ""
    top = max(max(f.value, f.prior or 0) for f in shown) or 1.0
    row, label_w, bar_w = 30, 220, width - 220 - 60
    rows = []
    for i, f in enumerate(shown):
        y = i * row + 6
        w = bar_w * f.value / top
        rows.append(f'<text x="0" y="{y + 12}" font-size="12">{_esc(f.path)[:32]}</text>')
        rows.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="11" fill="#2f6db5"/>')
        rows.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 10}" font-size="11">'
                    f'{f.value:g}</text>')
        if f.prior is not None:
            pw = bar_w * f.prior / top
            rows.append(f'<rect x="{label_w}" y="{y + 12}" width="{pw:.1f}" height="7" '
                        f'fill="#9db9dc"/>')
            rows.append(f'<text x="{label_w + pw + 4:.1f}" y="{y + 20}" font-size="10" '
                        f'fill="#555">({f.prior:g})</text>')
    height = len(shown) * row + 10
    return (f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{height}" role="img">{"".join(rows)}</svg>')


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


V1 = "tsunagu.stats.report/v1"
SEXES = (("male", "男性"), ("female", "女性"), ("unknown", "性別不明"))


def _pair(node: Any) -> tuple[int, int]:
    node = node if isinstance(node, dict) else {}
    return int(node.get("current") or 0), int(node.get("prior") or 0)


def _v1_program(p: dict[str, Any]) -> dict[str, Any]:
    """The seed's layout: headline figures, the 年代 × 性別 grid, linked agencies by category."""
    persons = p.get("persons") or {}
    headline = [("相談者数（実数）", *_pair(persons.get("total")))]
    if p.get("program") == Program.participation.value:
        headline.append(("うち関係機関", *_pair(persons.get("agencies"))))
    linked = p.get("linked_agencies") or {}
    headline.append(("連携した機関数", *_pair(linked.get("total"))))
    plans = p.get("plans") or {}
    headline.append((plans.get("label") or "プラン作成件数", *_pair(plans)))
    grid, bars = [], []
    for row in persons.get("grid") or []:
        cells = [_pair(row.get(sex)) for sex, _ in SEXES]
        total = (sum(c for c, _ in cells), sum(q for _, q in cells))
        grid.append((row.get("label") or row.get("age_band"), cells, total))
        bars.append(Figure(str(row.get("label") or row.get("age_band")), total[0], total[1]))
    totals = persons.get("totals") or {}
    total_cells = [_pair(totals.get(sex)) for sex, _ in SEXES]
    return {
        "key": p.get("program"), "label": p.get("title") or p.get("label"),
        "headline": headline, "grid": grid,
        "grid_total": (total_cells, (sum(c for c, _ in total_cells),
                                     sum(q for _, q in total_cells))),
        "categories": [(c.get("category"), *_pair(c)) for c in linked.get("by_category") or []],
        "chart_svg": chart(bars, sort=False),
    }


def report_view(result: Any) -> dict[str, Any]:
    if isinstance(result, dict) and result.get("format") == V1:
        current, prior = result.get("current") or {}, result.get("prior") or {}
        extra = [(m.get("label") or k, *_pair(m))
                 for k, m in (result.get("meetings") or {}).items() if isinstance(m, dict)]
        extra.append(("終結したケース", *_pair(result.get("cases_closed"))))
        return {
            "v1": True, "sexes": [label for _, label in SEXES],
            "title": (f"{current.get('as_of_wareki', '')}時点"
                      f"（（）内は{prior.get('as_of_wareki', '')}時点）"),
            "programs": [_v1_program(p) for p in result.get("programs") or []
                         if isinstance(p, dict)],
            "extra": extra, "meta": [], "figures": [], "raw": result,
        }
    labels = {p.value: label for p, label in PROGRAM_LABELS_JA.items()}
    programs = []
    for key, body in _programs(result):
        figures = _figures(body)
        programs.append(ProgramView(key, labels.get(key, key), figures, chart(figures)))
    meta = []
    if isinstance(result, dict):
        meta = [(k, str(v)) for k, v in result.items()
                if isinstance(v, str | int | float) and not isinstance(v, bool)]
    return {"programs": programs, "meta": meta, "raw": result,
            "figures": [] if programs else _figures(result)}
