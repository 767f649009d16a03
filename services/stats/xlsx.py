"""The report as an Excel workbook that a city can sum, print and file.

One sheet per program in seed 004's order (headline figures, the 年代 × 性別 grid, the
linked agencies by category, meetings and closures), every figure a number in its own cell
with the current and the prior year side by side; print area, repeated title rows and
landscape fit-to-width set; and a ``データ`` sheet with one figure per row (the CSV's rows).
"""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from services.stats.render import (
    AGENCY_COLUMN,
    CSV_HEADER,
    SEX_COLUMNS,
    csv_rows,
    footnote,
    has_agency_column,
)

DATA_SHEET = "データ"
CUR, PRI = "今年度", "前年度"
_thin = Side(style="thin")
BORDER = Border(left=_thin, right=_thin, top=_thin, bottom=_thin)
HEAD_FILL = PatternFill("solid", fgColor="DDE7F3")


def _cell(ws: Worksheet, r: int, c: int, value: Any, *, head: bool = False) -> None:
    cell = ws.cell(row=r, column=c, value=value)
    cell.border = BORDER
    if isinstance(value, int):
        cell.number_format = "#,##0"
        cell.alignment = Alignment(horizontal="right")
    if head:
        cell.font = Font(bold=True)
        cell.fill = HEAD_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center")


def _pairs_block(ws: Worksheet, r: int, title: str, rows: list[tuple[str, dict]]) -> int:
    """A 項目 | 今年度 | 前年度 table; returns the next free row."""
    for c, head in enumerate((title, CUR, PRI), start=1):
        _cell(ws, r, c, head, head=True)
    for i, (label, p) in enumerate(rows, start=r + 1):
        _cell(ws, i, 1, label)
        _cell(ws, i, 2, p["current"])
        _cell(ws, i, 3, p["prior"])
    return r + len(rows) + 2


def _grid(ws: Worksheet, r: int, program: dict[str, Any]) -> int:
    """The 年代 × 性別 grid: two header rows (sex, then 今年度/前年度), numbers below."""
    persons = program["persons"]
    columns = [(key, label) for key, label in SEX_COLUMNS]
    agency = has_agency_column(program)
    _cell(ws, r, 1, "年代", head=True)
    ws.merge_cells(start_row=r, start_column=1, end_row=r + 1, end_column=1)
    heads = [label for _, label in columns] + ([AGENCY_COLUMN] if agency else [])
    for i, head in enumerate(heads):
        c = 2 + 2 * i
        _cell(ws, r, c, head, head=True)
        _cell(ws, r, c + 1, None, head=True)
        ws.merge_cells(start_row=r, start_column=c, end_row=r, end_column=c + 1)
        _cell(ws, r + 1, c, CUR, head=True)
        _cell(ws, r + 1, c + 1, PRI, head=True)
    rows = [(row["label"], [row[key] for key, _ in columns]) for row in persons["grid"]]
    rows.append(("合計", [persons["totals"][key] for key, _ in columns]))
    for n, (label, pairs) in enumerate(rows, start=r + 2):
        _cell(ws, n, 1, label, head=label == "合計")
        for i, p in enumerate(pairs):
            _cell(ws, n, 2 + 2 * i, p["current"])
            _cell(ws, n, 3 + 2 * i, p["prior"])
        if agency:  # 関係機関 (agency subjects) have no age or sex: only the total row
            c = 2 + 2 * len(columns)
            total = label == "合計"
            _cell(ws, n, c, persons["agencies"]["current"] if total else "-")
            _cell(ws, n, c + 1, persons["agencies"]["prior"] if total else "-")
    return r + 2 + len(rows) + 1


def _program_sheet(ws: Worksheet, report: dict[str, Any], program: dict[str, Any]) -> None:
    ws["A1"] = program["title"]
    ws["A1"].font = Font(bold=True, size=14)
    note = footnote(report).splitlines()
    ws["A2"] = note[0].strip()
    ws["A3"] = note[1].strip()
    r = _pairs_block(ws, 5, "項目", [
        ("1. 相談者数（名）", program["persons"]["total"]),
        ("2. 連携した機関数（件）", program["linked_agencies"]["total"]),
        (f"3. {program['plans']['label']}（件）", program["plans"]),
    ])
    ws.cell(row=r, column=1, value="相談者数の内訳（年代・性別、名）").font = Font(bold=True)
    r = _grid(ws, r + 1, program)
    categories = [(c["category"], c) for c in program["linked_agencies"]["by_category"]]
    r = _pairs_block(ws, r, "連携した機関の分類（件）", categories)
    meetings = [(f"{m['label']}の開催（回）", m) for m in report["meetings"].values()]
    last = _pairs_block(ws, r, "会議・終結（全事業）",
                        [*meetings, ("終結したケース（件）", report["cases_closed"])]) - 2
    _layout(ws, last)


def _layout(ws: Worksheet, last_row: int) -> None:
    ws.column_dimensions["A"].width = 34
    for c in range(2, ws.max_column + 1):
        ws.column_dimensions[get_column_letter(c)].width = 10
    ws.print_area = f"A1:{get_column_letter(ws.max_column)}{last_row}"
    ws.print_title_rows = "1:3"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def to_xlsx(report: dict[str, Any]) -> bytes:
    wb = Workbook()
    first = wb.active
    assert first is not None
    wb.remove(first)
    for program in report["programs"]:
        # One sheet per program, named by its label (Excel allows 31 characters).
        _program_sheet(wb.create_sheet(program["label"][:31]), report, program)
    data = wb.create_sheet(DATA_SHEET)
    data.append(list(CSV_HEADER))
    for row in csv_rows(report):
        data.append(list(row))
    data.print_title_rows = "1:1"
    data.auto_filter.ref = data.dimensions
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
