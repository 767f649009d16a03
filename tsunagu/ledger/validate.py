"""Rules across sheets, checked before anything is sent: what the deciders would refuse
later, said now with the sheet, row and column of the ledger.

The deciders stay the judges (the import goes through them); these checks only make the
usual mistakes of a ledger show up all at once, in the ledger's own words.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from itertools import pairwise

from contracts.common import Program
from contracts.meeting import MeetingKind
from tsunagu.ledger import sheets as s
from tsunagu.ledger.rows import Ledger, LedgerError, PersonRow, PlanRow, UseRow


def opened_on(uses: list[UseRow]) -> UseRow:
    """The use that opens the case: the earliest start (then the ledger's order)."""
    return min(uses, key=lambda u: (u.start, u.row))


class Checker:
    """The rules across sheets, all errors at once: ``errors = Checker(ledger).run()``."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.errors: list[LedgerError] = []
        self.persons: dict[str, PersonRow] = {}
        self.uses: dict[str, list[UseRow]] = defaultdict(list)
        self.meetings = {m.key: m for m in ledger.meetings}

    def fail(self, sheet: s.Sheet, row: int, field: str, message: str) -> None:
        self.errors.append(LedgerError(sheet.name, row, sheet.header(field), message))

    def run(self) -> list[LedgerError]:
        self.check_persons()
        self.check_uses()
        self.check_meetings()
        self.check_plans()
        self.check_links()
        return sorted(self.errors, key=lambda e: ([x.name for x in s.SHEETS].index(e.sheet)
                                                  if e.sheet in [x.name for x in s.SHEETS]
                                                  else 9, e.row))

    def opened(self, key: str) -> date | None:
        uses = self.uses.get(key)
        return opened_on(uses).start if uses else None

    def check_persons(self) -> None:
        for p in self.ledger.persons:
            if p.key in self.persons:
                self.fail(s.PERSONS, p.row, "key",
                          f"{p.key} is also on row {self.persons[p.key].row}")
                continue
            self.persons[p.key] = p
            if (p.applied_on is None) != (p.consent is None):
                self.fail(s.PERSONS, p.row, "consent" if p.consent is None else "applied_on",
                          "申込日 and 本人同意 go together")
            if p.assessed_on is not None:
                for fld in ("household", "route", "concern", "urgency"):
                    if getattr(p, fld) is None:
                        self.fail(s.PERSONS, p.row, fld, "required for the intake assessment "
                                  "(アセスメント日 is given)")
            if p.subject_agency and (p.consent is not None or p.assessed_on is not None):
                self.fail(s.PERSONS, p.row, "subject", "a 関係機関 subject has no consent or "
                          "assessment (no person is identified yet)")

    def check_uses(self) -> None:
        for u in self.ledger.uses:
            if u.reason and u.end is None:
                self.fail(s.USES, u.row, "reason", "終了理由 without 終了日")
            if u.key not in self.persons:
                self.fail(s.USES, u.row, "key", f"no 相談者 {u.key}")
            else:
                self.uses[u.key].append(u)
        for key, p in self.persons.items():
            uses = self.uses.get(key)
            if not uses:
                self.fail(s.PERSONS, p.row, "key", "no 事業の利用 row: a case opens with its "
                          "first use of a program")
                continue
            first = opened_on(uses)
            self.check_unused(p, first)
            if p.subject_agency and any(u.program is not Program.participation for u in uses):
                bad = next(u for u in uses if u.program is not Program.participation)
                self.fail(s.USES, bad.row, "program", "a 関係機関 subject uses 参加支援 only")
            if first.program is Program.multi_agency and not p.referrer:
                self.fail(s.PERSONS, p.row, "referrer", "required: the case starts in "
                          "多機関協働, which a つなぐシート from this agency opens")
            self.check_periods(uses)
            self.check_after_open(p, first.start)

    def check_unused(self, p: PersonRow, first: UseRow) -> None:
        """Nothing written in the ledger may be dropped on the way in."""
        by_referral = first.program is Program.multi_agency
        if p.referrer and not by_referral:
            self.fail(s.PERSONS, p.row, "referrer", "only a case that starts in 多機関協働 "
                      "comes by a つなぐシート (its first 事業の利用 is not 多機関協働)")
        if p.summary and not by_referral:
            self.fail(s.PERSONS, p.row, "summary", "相談の概要 goes on the つなぐシート: only "
                      "for a case that starts in 多機関協働")
        if p.concern and not by_referral and p.assessed_on is None:
            self.fail(s.PERSONS, p.row, "concern", "主訴 goes on the つなぐシート or the "
                      "intake assessment: this case has neither")
        if p.assessed_on is None:
            for fld in ("household", "route", "urgency", "situation"):
                if getattr(p, fld):
                    self.fail(s.PERSONS, p.row, fld, "part of the intake assessment: give "
                              "its アセスメント日")
        if p.subject_agency:
            for fld in ("name", "birth_date", "summary"):
                if getattr(p, fld):
                    self.fail(s.PERSONS, p.row, fld, "a 関係機関 subject carries no personal "
                              "data (no person is identified yet)")
            if p.sex.value != "unknown" or p.age_band.value != "unknown":
                self.fail(s.PERSONS, p.row, "sex", "a 関係機関 subject has no 性別 or 年代")

    def check_periods(self, uses: list[UseRow]) -> None:
        by_program: dict[Program, list[UseRow]] = defaultdict(list)
        for u in uses:
            by_program[u.program].append(u)
        for periods in by_program.values():
            periods.sort(key=lambda u: u.start)
            for before, after in pairwise(periods):
                if before.end is None or after.start <= before.end:
                    self.fail(s.USES, after.row, "start", f"overlaps row {before.row}: the "
                              "earlier use of this program must end before this one starts")

    def check_after_open(self, p: PersonRow, start: date) -> None:
        for fld in ("applied_on", "assessed_on"):
            day = getattr(p, fld)
            if day is not None and day < start:
                self.fail(s.PERSONS, p.row, fld, f"{day} is before the case opened ({start}, "
                          "its first 事業の利用)")

    def check_meetings(self) -> None:
        seen: dict[str, int] = {}
        for m in self.ledger.meetings:
            if m.key in seen:
                self.fail(s.MEETINGS, m.row, "key", f"{m.key} is also on row {seen[m.key]}")
            seen.setdefault(m.key, m.row)
            for key in m.cases:
                self.check_tabled(m.row, "cases", key, m.held_on, m.kind)

    def check_tabled(self, row: int, field: str, key: str, held: date,
                     kind: MeetingKind) -> None:
        sheet = s.MEETINGS if field == "cases" else s.PLANS
        p, opened = self.persons.get(key), self.opened(key)
        if p is None or opened is None:
            self.fail(sheet, row, field, f"no 相談者 {key} with a 事業の利用")
        elif opened > held:
            self.fail(sheet, row, field, f"{key} opens on {opened}, after the meeting ({held})")
        elif kind is MeetingKind.support_plan and not self.consented(p, held):
            self.fail(sheet, row, field, f"{key} has no 本人同意 by {held}: without consent a "
                      "case goes to a 支援会議, not a 重層的支援会議")

    @staticmethod
    def consented(p: PersonRow, on: date) -> bool:
        return bool(p.consent) and p.applied_on is not None and p.applied_on <= on

    def check_plans(self) -> None:
        seen: dict[tuple[str, str], int] = {}
        for plan in self.ledger.plans:
            m = self.meetings.get(plan.meeting)
            if plan.key not in self.persons:
                self.fail(s.PLANS, plan.row, "key", f"no 相談者 {plan.key}")
                continue
            if m is None:
                self.fail(s.PLANS, plan.row, "meeting", f"no 会議 {plan.meeting}")
                continue
            if m.kind is not MeetingKind.support_plan:
                self.fail(s.PLANS, plan.row, "meeting", "a plan is approved by a 重層的支援会議")
            if m.held_on != plan.approved_on:
                self.fail(s.PLANS, plan.row, "approved_on", f"the meeting {m.key} was held on "
                          f"{m.held_on}: a plan is approved on the meeting's date")
            if (plan.key, plan.meeting) in seen:
                self.fail(s.PLANS, plan.row, "meeting", f"{plan.key} already has a plan at "
                          f"this meeting (row {seen[plan.key, plan.meeting]})")
            seen.setdefault((plan.key, plan.meeting), plan.row)
            self.check_plan_case(plan, self.persons[plan.key])

    def check_plan_case(self, plan: PlanRow, p: PersonRow) -> None:
        drafted = plan.drafted_on or plan.approved_on
        if p.subject_agency:
            self.fail(s.PLANS, plan.row, "key", "a 関係機関 subject gets no plan")
            return
        if not self.consented(p, drafted):
            self.fail(s.PLANS, plan.row, "key", f"{p.key} has no 本人同意 by {drafted} "
                      "(相談者 申込日/本人同意): no plan without consent")
        if p.assessed_on is None or p.assessed_on > drafted:
            self.fail(s.PLANS, plan.row, "key", f"{p.key} has no intake assessment by "
                      f"{drafted} (相談者 アセスメント日): a plan follows it")
        if not any(u.program is plan.program and u.start <= drafted
                   and (u.end is None or u.end >= plan.approved_on)
                   for u in self.uses.get(plan.key, [])):
            self.fail(s.PLANS, plan.row, "program", f"{p.key} does not use this program from "
                      f"{drafted} to {plan.approved_on} (事業の利用)")

    def check_links(self) -> None:
        joined: dict[tuple[str, str], str] = {}
        for p in self.persons.values():
            joined[p.key, p.intake] = "受付機関"
            if p.referrer:
                joined[p.key, p.referrer] = "紹介元機関"
        for link in sorted(self.ledger.links, key=lambda x: (x.on, x.row)):
            opened = self.opened(link.key)
            if link.key not in self.persons or opened is None:
                self.fail(s.LINKS, link.row, "key", f"no 相談者 {link.key} with a 事業の利用")
                continue
            if link.on < opened:
                self.fail(s.LINKS, link.row, "on", f"{link.on} is before the case opened "
                          f"({opened})")
            earlier = joined.get((link.key, link.agency)) or self.joined_before(link.key,
                                                                                 link.agency,
                                                                                 link.on)
            if earlier:
                self.fail(s.LINKS, link.row, "agency", f"{link.agency} already takes part in "
                          f"{link.key} ({earlier}): an agency joins a case once")
            joined[link.key, link.agency] = f"連携機関 row {link.row}"

    def joined_before(self, key: str, agency: str, on: date) -> str | None:
        for m in self.ledger.meetings:
            if m.held_on <= on and agency in m.attendees and key in self.tabled(m.key):
                return f"attended 会議 {m.key} on {m.held_on}"
        for plan in self.ledger.plans:
            roles = plan.roles or (self.persons[key].intake,)
            if plan.key == key and plan.approved_on <= on and agency in roles:
                return f"role in the プラン of row {plan.row}"
        return None

    def tabled(self, meeting: str) -> set[str]:
        m = self.meetings[meeting]
        return set(m.cases) | {p.key for p in self.ledger.plans if p.meeting == meeting}


def validate(ledger: Ledger) -> list[LedgerError]:
    return Checker(ledger).run()
