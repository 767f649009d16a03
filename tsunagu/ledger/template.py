"""Writing the ledger: the blank template (Japanese headers, notes, drop-down lists), and the
same layout filled with rows (the shipped sample), as xlsx or as one sectioned CSV.

Usage::

    write_template(Path("台帳.xlsx"))                      # blank
    write_xlsx(Path("sample.xlsx"), {"相談者": [["A-1", …]]})  # filled, same layout
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from tsunagu.ledger import sheets as s

#: Drop-down lists offered in the template, by column field.
CHOICES: dict[tuple[str, str], Sequence[str]] = {
    (s.PERSONS.name, "subject"): list(s.SUBJECTS),
    (s.PERSONS.name, "sex"): ["男性", "女性", "不明"],
    (s.PERSONS.name, "age_band"): list(s.BANDS),
    (s.PERSONS.name, "consent"): ["あり", "なし"],
    (s.PERSONS.name, "concern"): list(s.CONCERNS),
    (s.PERSONS.name, "household"): list(s.HOUSEHOLDS),
    (s.PERSONS.name, "route"): list(s.ROUTES),
    (s.PERSONS.name, "urgency"): list(s.URGENCIES),
    (s.USES.name, "program"): list(s.PROGRAM_WORDS.values()),
    (s.PLANS.name, "program"): list(s.PROGRAM_WORDS.values()),
    (s.LINKS.name, "how"): list(s.HOWS),
    (s.MEETINGS.name, "kind"): list(s.KINDS),
}
ROWS_WITH_LISTS = 2000
_HEAD = Font(bold=True)
_REQUIRED = PatternFill("solid", fgColor="FFF2CC")


def _cell(value: Any) -> Any:
    return value if value is not None else None


def build_workbook(data: Mapping[str, Sequence[Sequence[Any]]] | None = None) -> Workbook:
    """One worksheet per sheet of the layout; required headers shaded; notes as comments."""
    wb = Workbook()
    assert wb.active is not None
    wb.remove(wb.active)
    for sheet in s.SHEETS:
        ws = wb.create_sheet(sheet.name)
        for i, col in enumerate(sheet.columns, start=1):
            cell = ws.cell(row=1, column=i, value=col.header)
            cell.font = _HEAD
            if col.required:
                cell.fill = _REQUIRED
            if col.note:
                cell.comment = Comment(col.note, "tsunagu")
            ws.column_dimensions[get_column_letter(i)].width = max(12, len(col.header) * 2 + 4)
            choices = CHOICES.get((sheet.name, col.field))
            if choices:
                dv = DataValidation(type="list", formula1='"' + ",".join(choices) + '"',
                                    allow_blank=True)
                letter = get_column_letter(i)
                dv.add(f"{letter}2:{letter}{ROWS_WITH_LISTS}")
                ws.add_data_validation(dv)
        ws.freeze_panes = "A2"
        for row in (data or {}).get(sheet.name, ()):
            ws.append([_cell(v) for v in row])
    notes = wb.create_sheet("説明")
    notes.append(["シート", "説明（黄色の列は必須）"])
    for sheet in s.SHEETS:
        notes.append([sheet.name, sheet.note])
    return wb


def write_template(path: Path) -> None:
    build_workbook().save(path)


def write_xlsx(path: Path, data: Mapping[str, Sequence[Sequence[Any]]]) -> None:
    build_workbook(data).save(path)


def to_csv(data: Mapping[str, Sequence[Sequence[Any]]]) -> str:
    """The CSV form: one file, each sheet a section that starts with ``[シート名]`` on its
    own line, then its header row, then its rows."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for sheet in s.SHEETS:
        writer.writerow([f"[{sheet.name}]"])
        writer.writerow([c.header for c in sheet.columns])
        for row in data.get(sheet.name, ()):
            writer.writerow(["" if v is None else v.isoformat() if isinstance(v, date) else v
                             for v in row])
    return buf.getvalue()
