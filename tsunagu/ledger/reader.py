"""Reading a ledger file (xlsx, or the sectioned CSV) into raw tables: sheet -> rows of
header -> cell, each row with its number in the file (the Excel row, or the CSV line).

Nothing here knows what a cell means; ``parse`` turns the tables into typed rows.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from services.referral.directory_file import decode
from tsunagu.ledger import sheets as s
from tsunagu.ledger.rows import LedgerError

MAX_BYTES = 50 * 1024 * 1024
MAX_ROWS = 100_000
MAX_COLUMNS = 64
_SECTION = re.compile(r"^\[(.+)\]$")


@dataclass
class Table:
    """One sheet's cells by field: ``tables, errors = read_file(path)`` then
    ``for line, cells in tables["相談者"].rows: cells["key"]``."""

    sheet: str
    headers: dict[str, str] = field(default_factory=dict)  # field -> header as written
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


def _norm(text: Any) -> str:
    return unicodedata.normalize("NFKC", str(text)).strip()


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _table(sheet: s.Sheet, header: list[Any], body: list[tuple[int, list[Any]]],
           errors: list[LedgerError]) -> Table:
    known = {_norm(c.header): c.field for c in sheet.columns}
    table = Table(sheet.name)
    positions: dict[int, str] = {}
    for i, raw in enumerate(header):
        if _blank(raw):
            continue
        name = _norm(raw)
        if name not in known:
            errors.append(LedgerError(sheet.name, 1, name, "unknown column (see the template)"))
            continue
        positions[i] = known[name]
        table.headers[known[name]] = name
    for col in sheet.columns:
        if col.required and col.field not in table.headers:
            errors.append(LedgerError(sheet.name, 1, col.header, "required column is missing"))
    for line, values in body:
        cells = {positions[i]: v for i, v in enumerate(values) if i in positions}
        if all(_blank(v) for v in cells.values()):
            continue  # an empty row
        table.rows.append((line, cells))
    return table


def read_xlsx(raw: bytes) -> tuple[dict[str, Table], list[LedgerError]]:
    try:
        wb = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ValueError(f"not a readable .xlsx workbook: {exc}") from exc
    errors: list[LedgerError] = []
    tables: dict[str, Table] = {}
    for sheet in s.SHEETS:
        if sheet.name not in wb.sheetnames:
            errors.append(LedgerError(sheet.name, 0, "", "sheet is missing (see the template)"))
            continue
        ws = wb[sheet.name]
        if (ws.max_column or 0) > MAX_COLUMNS:
            errors.append(LedgerError(sheet.name, 1, "", f"more than {MAX_COLUMNS} columns "
                                      "(see the template)"))
        # Bounded: a sheet that declares a huge range is not padded out in memory.
        rows = ws.iter_rows(values_only=True, max_col=MAX_COLUMNS)
        header = list(next(rows, ()) or ())
        body = []
        for n, values in enumerate(rows, start=2):
            if n > MAX_ROWS:
                errors.append(LedgerError(sheet.name, n, "", f"more than {MAX_ROWS} rows"))
                break
            body.append((n, list(values)))
        tables[sheet.name] = _table(sheet, header, body, errors)
    wb.close()
    return tables, errors


Section = tuple[list[Any], list[tuple[int, list[Any]]]]  # header, numbered rows


def _split_sections(lines: list[tuple[int, list[str]]], errors: list[LedgerError]
                    ) -> dict[str, Section]:
    """Lines to sections; lines of an unknown or repeated section are left out (and said)."""
    known = {sheet.name for sheet in s.SHEETS}
    sections: dict[str, Section] = {}
    current: Section | None = None
    seen_marker = False
    for line, values in lines:
        m = _SECTION.match(_norm(values[0]) if values else "")
        if m and all(_blank(v) for v in values[1:]):
            name, seen_marker, current = m.group(1), True, None
            if name not in known:
                errors.append(LedgerError(name, line, "", "unknown sheet"))
            elif name in sections:
                errors.append(LedgerError(name, line, "", "section appears twice"))
            else:
                current = sections[name] = ([], [])
        elif current is not None:
            header, body = current
            if header:
                body.append((line, list(values)))
            else:
                header.extend(values or [""])
        elif not seen_marker and any(not _blank(v) for v in values):
            errors.append(LedgerError("", line, "", "text before the first [シート名] line"))
    return sections


def read_csv(raw: bytes) -> tuple[dict[str, Table], list[LedgerError]]:
    """Sections: a line ``[相談者]``, its header line, its rows; then the next section."""
    errors: list[LedgerError] = []
    try:
        lines = list(enumerate(csv.reader(io.StringIO(decode(raw))), start=1))
    except csv.Error as exc:  # a NUL byte, a cell beyond the csv module's field limit
        raise ValueError(f"not a readable CSV file: {exc}") from exc
    if len(lines) > MAX_ROWS:
        raise ValueError(f"more than {MAX_ROWS:,} lines")
    sections = _split_sections(lines, errors)
    tables = {}
    for sheet in s.SHEETS:
        if sheet.name not in sections:
            errors.append(LedgerError(sheet.name, 0, "", f"section [{sheet.name}] is missing"))
            continue
        header, body = sections[sheet.name]
        tables[sheet.name] = _table(sheet, header, body, errors)
    return tables, errors


def read_file(path: Path) -> tuple[dict[str, Table], list[LedgerError]]:
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ValueError(f"{path.name} is {size:,} bytes; the limit is {MAX_BYTES:,}")
    raw = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return read_xlsx(raw)
    if suffix == ".csv":
        return read_csv(raw)
    raise ValueError(f"{path.name}: give an .xlsx workbook or a .csv file")


def cell_text(value: Any) -> str | None:
    if _blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel stores typed numbers as floats: 12 not 12.0
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return _norm(value)
