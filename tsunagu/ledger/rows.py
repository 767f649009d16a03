"""Typed ledger rows, each knowing where it came from (sheet and row) for error messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from contracts.common import AgeBand, Concern, Program, Sex
from contracts.meeting import MeetingKind


@dataclass(frozen=True)
class LedgerError:
    """One problem in the file: ``相談者 row 12 column 性別: …``."""

    sheet: str
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"{self.sheet} row {self.row}" if self.row else self.sheet
        if self.column:
            where += f" column {self.column}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class PersonRow:
    """A 相談者 row: ``PersonRow(row=2, key="A-1", intake="shakyo", sex=Sex.female)``."""

    row: int
    key: str
    intake: str
    subject_agency: str | None = None
    referrer: str | None = None
    name: str | None = None
    sex: Sex = Sex.unknown
    birth_date: date | None = None
    age_band: AgeBand = AgeBand.unknown
    summary: str | None = None
    concern: Concern | None = None
    applied_on: date | None = None
    consent: bool | None = None
    assessed_on: date | None = None
    household: str | None = None
    route: str | None = None
    urgency: str | None = None
    situation: str | None = None


@dataclass(frozen=True)
class UseRow:
    """A 事業の利用 row: ``UseRow(3, "A-1", Program.outreach, date(2025, 5, 1))``."""

    row: int
    key: str
    program: Program
    start: date
    end: date | None = None
    reason: str | None = None


@dataclass(frozen=True)
class LinkRow:
    """A 連携機関 row: ``LinkRow(2, "A-1", "hw-1", date(2025, 6, 3))``."""

    row: int
    key: str
    agency: str
    on: date
    how: str = "invitation"


@dataclass(frozen=True)
class PlanRow:
    """A プラン row: ``PlanRow(2, "A-1", Program.multi_agency, date(2025, 5, 15), "M-1")``."""

    row: int
    key: str
    program: Program
    approved_on: date
    meeting: str
    drafted_on: date | None = None
    roles: tuple[str, ...] = ()
    goal: str | None = None
    direction: str | None = None


@dataclass(frozen=True)
class MeetingRow:
    """A 会議 row: ``MeetingRow(2, "M-1", MeetingKind.support_plan, day, "shakyo", ("shakyo",))``.
    """

    row: int
    key: str
    kind: MeetingKind
    held_on: date
    convener: str
    attendees: tuple[str, ...]
    cases: tuple[str, ...] = ()


@dataclass
class Ledger:
    """The typed rows of a ledger file: ``ledger, errors = parse(read_file(path)[0])``."""

    persons: list[PersonRow] = field(default_factory=list)
    uses: list[UseRow] = field(default_factory=list)
    links: list[LinkRow] = field(default_factory=list)
    plans: list[PlanRow] = field(default_factory=list)
    meetings: list[MeetingRow] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"相談者": len(self.persons), "事業の利用": len(self.uses),
                "連携機関": len(self.links), "プラン": len(self.plans), "会議": len(self.meetings)}
