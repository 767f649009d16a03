"""The report (its JSON form) as a terminal table in seed 004's layout, Markdown, CSV, JSON.

Every figure is printed as ``current (prior)``, as the seed does.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

SEX_COLUMNS = (("male", "男性"), ("female", "女性"), ("unknown", "性別不明"))
AGENCY_COLUMN = "関係機関"


def pair(p: dict[str, int], unit: str = "") -> str:
    return f"{p['current']}{unit} ({p['prior']}{unit})"


def has_agency_column(program: dict[str, Any]) -> bool:
    """参加支援 always shows 関係機関; the others only if they have agency subjects."""
    agencies = program["persons"]["agencies"]
    return bool(program["program"] == "participation" or agencies["current"] or agencies["prior"])


def grid_rows(program: dict[str, Any]) -> Iterator[list[str]]:
    """The 年代 × 性別 grid as text cells: header, one row per band, 合計."""
    persons = program["persons"]
    agency = has_agency_column(program)
    yield ["年代", *(label for _, label in SEX_COLUMNS), *([AGENCY_COLUMN] if agency else [])]
    for row in persons["grid"]:
        cells = [pair(row[key]) for key, _ in SEX_COLUMNS]
        yield [row["label"], *cells, *(["-"] if agency else [])]
    yield [
        "合計",
        *(pair(persons["totals"][key]) for key, _ in SEX_COLUMNS),
        *([pair(persons["agencies"])] if agency else []),
    ]


def footnote(report: dict[str, Any]) -> str:
    cur, pri = report["current"], report["prior"]
    return (
        f"※数字は{cur['short']}時点での実績（{cur['as_of_wareki']}、{cur['from']}〜{cur['to']}）\n"
        f" () 内の数字は{pri['short']}実績（{pri['as_of_wareki']}、{pri['from']}〜{pri['to']}）"
    )


def _program_lines(program: dict[str, Any]) -> tuple[str, str, str]:
    persons = pair(program["persons"]["total"], "名")
    linked = pair(program["linked_agencies"]["total"], "件")
    plans = pair(program["plans"], "件")
    return (
        f"1. 相談者数 {persons}",
        f"2. 連携した機関数 {linked}",
        f"3. {program['plans']['label']} {plans}",
    )


# ----- terminal -------------------------------------------------------------------------


def table_renderables(report: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    for program in report["programs"]:
        line1, line2, line3 = _program_lines(program)
        grid = Table(box=box.SQUARE, show_header=True, header_style="bold")
        rows = list(grid_rows(program))
        for i, header in enumerate(rows[0]):
            grid.add_column(header, justify="left" if i == 0 else "right")
        for row in rows[1:]:
            grid.add_row(*row, end_section=row[0] == rows[-2][0])
        categories = Table(box=box.SIMPLE, show_header=True, header_style="bold")
        categories.add_column("連携した機関の分類")
        categories.add_column("機関数", justify="right")
        for c in program["linked_agencies"]["by_category"]:
            categories.add_row(c["category"], pair(c))
        out.append(Group(
            Text(program["title"], style="bold underline"),
            Text(f"{line1}  (実数・内訳は以下のとおり)"), grid,
            Text(line2), categories,
            Text(line3), Text(footnote(report), style="dim"), Text(""),
        ))
    meetings = Table(box=box.SQUARE, title="会議・終結")
    meetings.add_column("")
    meetings.add_column("件数", justify="right")
    for m in report["meetings"].values():
        meetings.add_row(f"{m['label']}の開催", pair(m, "回"))
    meetings.add_row("終結したケース", pair(report["cases_closed"], "件"))
    out.append(meetings)
    return out


def to_table(report: dict[str, Any], width: int = 100) -> str:
    """The terminal table as text (what `tsunagu report` prints)."""
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    for item in table_renderables(report):
        console.print(item)
    return console.export_text()


# ----- Markdown -------------------------------------------------------------------------


def to_markdown(report: dict[str, Any]) -> str:
    cur = report["current"]
    lines = [f"# 重層的支援体制整備事業の実施状況（{cur['as_of_wareki']}時点）", ""]
    for program in report["programs"]:
        line1, line2, line3 = _program_lines(program)
        rows = list(grid_rows(program))
        lines += [f"## {program['title']}", "", f"### {line1}", "",
                  "| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
        lines += ["", f"### {line2}", "", "| 分類 | 機関数 |", "|---|---|"]
        categories = program["linked_agencies"]["by_category"]
        lines += [f"| {c['category']} | {pair(c)} |" for c in categories]
        lines += ["", f"### {line3}", ""]
    lines += ["## 会議・終結", "", "| | 件数 |", "|---|---|"]
    lines += [f"| {m['label']}の開催 | {pair(m, '回')} |" for m in report["meetings"].values()]
    lines += [f"| 終結したケース | {pair(report['cases_closed'], '件')} |", ""]
    lines += [line for line in footnote(report).splitlines()]
    return "\n".join(lines) + "\n"


# ----- CSV (tidy: one figure per line, labels as seed 004 prints them) -------------------

CSV_HEADER = ("基準日", "事業", "項目", "行", "列", "今年度", "前年度")
SEX_LABELS = dict(SEX_COLUMNS)
#: The CLI writes CSV with a BOM by default: Japanese Excel reads BOM-less UTF-8 as Shift_JIS.
CSV_ENCODINGS = ("utf-8-sig", "cp932", "utf-8")


def csv_rows(report: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
    """One figure per row, every key a label a person reads (年代, 性別, 分類), numbers as
    numbers; the JSON form keeps the codes."""
    as_of = report["as_of"]
    for program in report["programs"]:
        p, persons = program["label"], program["persons"]
        yield as_of, p, "相談者数", "合計", "", *_cp(persons["total"])
        for row in persons["grid"]:
            for key, label in SEX_COLUMNS:
                yield as_of, p, "相談者数", row["label"], label, *_cp(row[key])
        for key, label in SEX_COLUMNS:
            yield as_of, p, "相談者数", "合計", label, *_cp(persons["totals"][key])
        yield as_of, p, "相談者数", "合計", AGENCY_COLUMN, *_cp(persons["agencies"])
        linked = program["linked_agencies"]
        yield as_of, p, "連携した機関数", "合計", "", *_cp(linked["total"])
        for c in linked["by_category"]:
            yield as_of, p, "連携した機関数", c["category"], "", *_cp(c)
        yield as_of, p, program["plans"]["label"], "合計", "", *_cp(program["plans"])
    for m in report["meetings"].values():
        yield as_of, "", "会議の開催", m["label"], "", *_cp(m)
    yield as_of, "", "終結したケース", "合計", "", *_cp(report["cases_closed"])


def _cp(p: dict[str, Any]) -> tuple[int, int]:
    return p["current"], p["prior"]


def to_csv(report: dict[str, Any]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")  # what Excel writes and expects
    writer.writerow(CSV_HEADER)
    writer.writerows(csv_rows(report))
    return buf.getvalue()


def encode_csv(text: str, encoding: str) -> bytes:
    """CSV text as bytes for Excel; a character cp932 cannot hold is named, not dropped."""
    if encoding not in CSV_ENCODINGS:
        raise ValueError(f"encoding {encoding!r}: choose one of {', '.join(CSV_ENCODINGS)}")
    try:
        return text.encode(encoding)
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start:exc.end]
        raise ValueError(
            f"{bad!r} cannot be written in {encoding}; use --encoding utf-8-sig"
        ) from exc


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2) + "\n"
