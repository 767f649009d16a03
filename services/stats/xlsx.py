"""The report as an Excel workbook: one sheet per program in seed 004's layout, cells as
``current (prior)``, and a ``data`` sheet with one figure per row (numbers, for formulas)."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.worksheet.worksheet import Worksheet

from services.stats.render import CSV_HEADER, csv_rows, footnote, grid_rows, pair

GRID_TOP = 4  # row of the grid's header
_thin = Side(style="thin")
BORDER = Border(left=_thin, right=_thin, top=_thin, bottom=_thin)


def _program_sheet(ws: Worksheet, report: dict[str, Any], program: dict[str, Any]) -> None:
    ws["A1"] = program["title"]
    ws["A1"].font = Font(bold=True, size=14)
    ws["A2"] = f"1. 相談者数 {pair(program['persons']['total'], '名')}"
    ws["A3"] = "(実数・内訳は下記のとおり)"
    rows = list(grid_rows(program))
    for r, row in enumerate(rows, start=GRID_TOP):
        for c, value in enumerate(row, start=1):
            cell = ws.cell(row=r, column=c, value=value)
            cell.border = BORDER
            cell.alignment = Alignment(horizontal="left" if c == 1 else "center")
            if r == GRID_TOP or c == 1:
                cell.font = Font(bold=True)
    r = GRID_TOP + len(rows) + 1
    linked = pair(program["linked_agencies"]["total"], "件")
    ws.cell(row=r, column=1, value=f"2. 連携した機関数 {linked}")
    ws.cell(row=r + 1, column=1, value="連携した機関の分類").font = Font(bold=True)
    ws.cell(row=r + 1, column=2, value="機関数").font = Font(bold=True)
    for i, c in enumerate(program["linked_agencies"]["by_category"], start=r + 2):
        ws.cell(row=i, column=1, value=c["category"])
        ws.cell(row=i, column=2, value=pair(c)).alignment = Alignment(horizontal="center")
    r = r + 3 + len(program["linked_agencies"]["by_category"])
    ws.cell(row=r, column=1, value=f"3. {program['plans']['label']} {pair(program['plans'], '件')}")
    for i, line in enumerate(footnote(report).splitlines(), start=r + 2):
        ws.cell(row=i, column=1, value=line.strip())
    ws.column_dimensions["A"].width = 28
    for col in "BCDE":
        ws.column_dimensions[col].width = 14


def to_xlsx(report: dict[str, Any]) -> bytes:
    wb = Workbook()
    first = wb.active
    assert first is not None
    wb.remove(first)
    for program in report["programs"]:
        # One sheet per program, named by its label (Excel allows 31 characters).
        _program_sheet(wb.create_sheet(program["label"][:31]), report, program)
    data = wb.create_sheet("data")
    data.append(list(CSV_HEADER))
    for row in csv_rows(report):
        data.append(list(row))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
