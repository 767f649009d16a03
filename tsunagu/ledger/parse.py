"""Cells to typed rows: each value checked where it stands, every error naming its sheet,
row and column. Rules across sheets are in ``validate``."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, TypeVar

from contracts.base import ID_PATTERN, MAX_DATE, MIN_DATE
from contracts.common import AgeBand, Sex
from services.referral.directory_file import parse_date
from tsunagu.ledger import sheets as s
from tsunagu.ledger.reader import Table, cell_text
from tsunagu.ledger.rows import (
    Ledger,
    LedgerError,
    LinkRow,
    MeetingRow,
    PersonRow,
    PlanRow,
    UseRow,
)

T = TypeVar("T")
_ID = re.compile(ID_PATTERN)
_SPLIT = re.compile("[" + re.escape(s.LIST_SEPARATORS) + "]+")
MAX_TEXT = 200


class Cells:
    """One row's cells; each getter records an error and returns None when a cell is bad.

    ``Cells(s.PERSONS, 2, {"sex": "男性"}, errors).choice("sex", s.SEXES) is Sex.male``
    """

    def __init__(self, sheet: s.Sheet, line: int, values: Mapping[str, Any],
                 errors: list[LedgerError]) -> None:
        self.sheet, self.line, self.values, self.errors = sheet, line, values, errors

    def fail(self, field: str, message: str) -> None:
        self.errors.append(LedgerError(self.sheet.name, self.line, self.sheet.header(field),
                                       message))

    def text(self, field: str, required: bool = False, limit: int = MAX_TEXT) -> str | None:
        value = cell_text(self.values.get(field))
        if value is None and required:
            self.fail(field, "required")
        if value is not None and len(value) > limit:
            self.fail(field, f"longer than {limit} characters")
            return None
        return value

    def ident(self, field: str, required: bool = False) -> str | None:
        value = self.text(field, required)
        if value is not None and not _ID.match(value):
            self.fail(field, f"{value!r} is not an id (letters, digits, - and _, at most 64)")
            return None
        return value

    def ids(self, field: str, required: bool = False) -> tuple[str, ...]:
        value = self.text(field, required, limit=4000)
        out = tuple(dict.fromkeys(p for p in _SPLIT.split(value or "") if p))
        bad = [p for p in out if not _ID.match(p)]
        if bad:
            self.fail(field, f"not ids: {', '.join(bad)}")
            return ()
        return out

    def day(self, field: str, required: bool = False) -> date | None:
        raw = self.values.get(field)
        if isinstance(raw, datetime):
            value: date | None = raw.date()
        elif isinstance(raw, date):
            value = raw
        else:
            text = cell_text(raw)
            if text is None:
                value = None
            else:
                try:
                    value = parse_date(text)
                except ValueError:
                    self.fail(field, f"{text!r} is not a date (2025-04-01, 2025/4/1, R7.4.1)")
                    return None
        if value is None and required:
            self.fail(field, "required")
        if value is not None and not MIN_DATE <= value <= MAX_DATE:
            self.fail(field, f"{value} is outside {MIN_DATE} .. {MAX_DATE}")
            return None
        return value

    def choice(self, field: str, words: Mapping[str, T], required: bool = False) -> T | None:
        text = self.text(field, required)
        if text is None:
            return None
        # Cells are compared NFKC-normalised (full-width ～ and ~ are the same word).
        by_norm = {unicodedata.normalize("NFKC", k): v for k, v in words.items()}
        if text not in by_norm:
            self.fail(field, f"{text!r} is not one of: {' / '.join(words)}")
            return None
        return by_norm[text]


def _person(c: Cells) -> PersonRow | None:
    key, intake = c.ident("key", True), c.ident("intake", True)
    subject = c.choice("subject", s.SUBJECTS) or "person"
    subject_agency = c.ident("subject_agency")
    if subject == "agency" and subject_agency is None:
        c.fail("subject_agency", "required when 種別 is 関係機関")
    if subject == "person" and subject_agency is not None:
        c.fail("subject_agency", "only when 種別 is 関係機関")
    birth, band = c.day("birth_date"), c.choice("age_band", s.BANDS)
    if birth is not None and band not in (None, AgeBand.unknown):
        c.fail("age_band", "give 生年月日 or 年代, not both (the age comes from the birth date)")
    row = PersonRow(
        row=c.line, key=key or "", intake=intake or "",
        subject_agency=subject_agency if subject == "agency" else None,
        referrer=c.ident("referrer"), name=c.text("name"),
        sex=c.choice("sex", s.SEXES) or Sex.unknown, birth_date=birth,
        age_band=band or AgeBand.unknown, summary=c.text("summary", limit=4000),
        concern=c.choice("concern", s.CONCERNS), applied_on=c.day("applied_on"),
        consent=c.choice("consent", s.YES_NO), assessed_on=c.day("assessed_on"),
        household=c.choice("household", s.HOUSEHOLDS), route=c.choice("route", s.ROUTES),
        urgency=c.choice("urgency", s.URGENCIES), situation=c.text("situation", limit=4000),
    )
    return row if key and intake else None


def _use(c: Cells) -> UseRow | None:
    key, program = c.ident("key", True), c.choice("program", s.PROGRAMS, True)
    start, end = c.day("start", True), c.day("end")
    if start and end and end < start:
        c.fail("end", f"{end} is before 開始日 ({start})")
        return None
    reason = c.text("reason")
    if not (key and program and start):
        return None
    return UseRow(c.line, key, program, start, end, reason)


def _link(c: Cells) -> LinkRow | None:
    key, agency, on = c.ident("key", True), c.ident("agency", True), c.day("on", True)
    how = c.choice("how", s.HOWS) or "invitation"
    return LinkRow(c.line, key, agency, on, how) if key and agency and on else None


def _plan(c: Cells) -> PlanRow | None:
    key, program = c.ident("key", True), c.choice("program", s.PROGRAMS, True)
    approved, drafted = c.day("approved_on", True), c.day("drafted_on")
    meeting = c.ident("meeting", True)
    if approved and drafted and drafted > approved:
        c.fail("drafted_on", f"{drafted} is after 承認日 ({approved})")
        return None
    row = PlanRow(c.line, key or "", program or s.PROGRAMS["多機関協働"], approved or MIN_DATE,
                  meeting or "", drafted, c.ids("roles"), c.text("goal", limit=4000),
                  c.text("direction", limit=4000))
    return row if key and program and approved and meeting else None


def _meeting(c: Cells) -> MeetingRow | None:
    key, kind = c.ident("key", True), c.choice("kind", s.KINDS, True)
    held, convener = c.day("held_on", True), c.ident("convener", True)
    attendees, cases = c.ids("attendees", True), c.ids("cases")
    if not (key and kind and held and convener and attendees):
        return None
    return MeetingRow(c.line, key, kind, held, convener, attendees, cases)


PARSERS: dict[str, Any] = {
    s.PERSONS.name: (_person, "persons"), s.USES.name: (_use, "uses"),
    s.LINKS.name: (_link, "links"), s.PLANS.name: (_plan, "plans"),
    s.MEETINGS.name: (_meeting, "meetings"),
}


def parse(tables: Mapping[str, Table]) -> tuple[Ledger, list[LedgerError]]:
    ledger, errors = Ledger(), list[LedgerError]()
    for sheet in s.SHEETS:
        table = tables.get(sheet.name)
        if table is None:
            continue
        parser, attr = PARSERS[sheet.name]
        for line, values in table.rows:
            row = parser(Cells(sheet, line, values, errors))
            if row is not None:
                getattr(ledger, attr).append(row)
    return ledger, errors
