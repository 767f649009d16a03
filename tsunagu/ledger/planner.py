"""Ledger rows to commands, in world-date order: what the city would have sent, had it used
Tsunagu then. Pure: rows in, steps out; the sender sends them.

Every command id derives from the row's key in the ledger (not from its position), so the
same file sent again lands on the same commands and the platform replays the replies.
Ids the platform creates (case, enrollment, plan, meeting) are not known in advance: a
step names them as ``Ref`` placeholders, filled from the replies of earlier steps.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from contracts.common import Concern, Program
from contracts.jst import JST
from contracts.meeting import MeetingKind
from tsunagu.ledger import sheets as s
from tsunagu.ledger.rows import Ledger, MeetingRow, PersonRow, PlanRow, UseRow
from tsunagu.ledger.validate import opened_on

MIGRATED = "（台帳から移行）"
PURPOSE = "重層的支援体制整備事業による支援"
#: A ledger has dates, not times: each fact is dated in the first minutes of its day, in the
#: order facts depend on each other (a row dated today is then not in the future, and the
#: same file always sends the same bodies).
ORDER = (
    "schedule_meeting", "submit_referral", "triage_referral", "open_case", "start_enrollment",
    "record_application", "record_intake_assessment", "invite_case_member", "draft_plan",
    "table_case", "acknowledge_confidentiality", "record_meeting_held", "record_decision",
    "end_enrollment",
)
AT = {command: time(0, n) for n, command in enumerate(ORDER, start=1)}
AT["open_case"] = AT["triage_referral"]  # one or the other opens a case
MEETING_TIME = time(14, 0)


@dataclass(frozen=True)
class Ref:
    """An id another step's reply will give: ``Ref("case", "A-0001")``."""

    kind: str
    key: str


@dataclass(frozen=True)
class Step:
    """One command: who sends it, what, when in the world, and which ids its reply gives.

    ``Step("相談者", 2, "shakyo", "open_case", {...}, at, (Ref("case", "A-1"),))``
    """

    sheet: str
    row: int
    agency: str
    command: str
    payload: dict[str, Any]
    at: datetime
    captures: tuple[Ref, ...] = ()
    label: str = ""
    #: What must go in order with it: its case (``case:<key>``), its meeting.
    lanes: tuple[str, ...] = ()


def refs_in(value: Any) -> list[Ref]:
    if isinstance(value, Ref):
        return [value]
    if isinstance(value, dict):
        return [r for v in value.values() for r in refs_in(v)]
    if isinstance(value, list | tuple):
        return [r for v in value for r in refs_in(v)]
    return []


def command_id(*parts: str) -> str:
    return "lg-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def at(day: date, command: str) -> datetime:
    return datetime.combine(day, AT[command], tzinfo=JST)


def person_id_for(key: str) -> str:
    """The person of a case opened without a referral (outreach, participation)."""
    return "lp-" + hashlib.sha256(f"ledger-person\x1f{key}".encode()).hexdigest()[:32]


@dataclass
class Planner:
    """Rows to steps, sorted by world time: ``steps = Planner(ledger).run()``."""

    ledger: Ledger
    steps: list[Step] = field(default_factory=list)

    def add(self, sheet: s.Sheet, row: int, agency: str, command: str, day: date,
            payload: dict[str, Any], key: tuple[str, ...], captures: tuple[Ref, ...] = (),
            ) -> None:
        moment = at(day, command)
        body = {"command_id": command_id(sheet.name, *key, command),
                "occurred_at": moment.isoformat(), **payload}
        # A step goes after the earlier steps of every case and meeting it names.
        lanes = tuple(dict.fromkeys(f"{r.kind}:{r.key}" for r in refs_in(payload)
                                    if r.kind in ("case", "meeting")))
        if sheet is s.PERSONS or not lanes:
            lanes = (f"case:{key[0]}",) if sheet is not s.MEETINGS else (f"meeting:{key[0]}",)
        self.steps.append(Step(sheet.name, row, agency, command, body, moment, captures,
                               f"{sheet.name} {' '.join(key)}", lanes))

    def run(self) -> list[Step]:
        uses: dict[str, list[UseRow]] = {}
        for u in self.ledger.uses:
            uses.setdefault(u.key, []).append(u)
        for p in self.ledger.persons:
            self.person(p, uses.get(p.key, []))
        for m in self.ledger.meetings:
            self.meeting(m)
        for link in self.ledger.links:
            self.add(s.LINKS, link.row, self.intake(link.key), "invite_case_member", link.on,
                     {"case_id": Ref("case", link.key), "agency_id": link.agency,
                      "joined_on": link.on}, (link.key, link.agency))
        for plan in self.ledger.plans:
            self.draft(plan)
        return sorted(self.steps, key=lambda st: st.at)

    def intake(self, key: str) -> str:
        return next(p.intake for p in self.ledger.persons if p.key == key)

    # ----- persons and their uses of the programs -------------------------------------
    def person(self, p: PersonRow, uses: list[UseRow]) -> None:
        if not uses:
            return
        first = opened_on(uses)
        if first.program is Program.multi_agency:
            self.referral(p, first)
        else:
            self.open_case(p, first)
        for u in uses:
            if u is not first:
                self.add(s.USES, u.row, p.intake, "start_enrollment", u.start,
                         {"case_id": Ref("case", p.key), "program": u.program.value,
                          "started_on": u.start}, self.use_key(u),
                         (Ref("enrollment", self.use_ref(u)),))
            if u.end is not None:
                self.add(s.USES, u.row, p.intake, "end_enrollment", u.end,
                         {"case_id": Ref("case", p.key),
                          "enrollment_id": Ref("enrollment", self.use_ref(u)),
                          "ended_on": u.end, "reason": u.reason or "終了"},
                         self.use_key(u))
        self.application(p)

    @staticmethod
    def use_key(u: UseRow) -> tuple[str, ...]:
        return (u.key, u.program.value, u.start.isoformat())

    def use_ref(self, u: UseRow) -> str:
        return "/".join(self.use_key(u))

    def referral(self, p: PersonRow, first: UseRow) -> None:
        assert p.referrer is not None
        note = f"紹介元機関（{p.referrer}）を通じて連絡{MIGRATED}"
        personal = {"summary": p.summary or MIGRATED, "name": p.name,
                    "birth_date": p.birth_date, "contact_note": note}
        self.add(s.PERSONS, p.row, p.referrer, "submit_referral", first.start, {
            "contact_route": "via_agency", "concerns": [(p.concern or Concern.other).value],
            "sex": p.sex.value, "age_band": p.age_band.value, "personal": personal,
        }, (p.key,), (Ref("referral", p.key),))
        self.add(s.PERSONS, p.row, p.intake, "triage_referral", first.start, {
            "referral_id": Ref("referral", p.key), "outcome": "complex",
            "triaged_on": first.start,
        }, (p.key,), (Ref("case", p.key), Ref("enrollment", self.use_ref(first))))

    def open_case(self, p: PersonRow, first: UseRow) -> None:
        subject = ({"agency_id": p.subject_agency} if p.subject_agency
                   else {"person_id": person_id_for(p.key)})
        personal = None
        if not p.subject_agency and (p.name or p.birth_date):
            personal = {"name": p.name, "birth_date": p.birth_date}
        self.add(s.PERSONS, p.row, p.intake, "open_case", first.start, {
            "program": first.program.value, "subject": subject, "opened_on": first.start,
            "sex": p.sex.value, "age_band": p.age_band.value, "personal": personal,
        }, (p.key,), (Ref("case", p.key), Ref("enrollment", self.use_ref(first))))

    def application(self, p: PersonRow) -> None:
        case = Ref("case", p.key)
        if p.applied_on is not None and p.consent is not None:
            scope = None
            if p.consent:
                agencies = list(dict.fromkeys(a for a in (p.intake, p.referrer) if a))
                # The ledger names neither who obtained the consent nor the form: say so.
                scope = {"agencies": agencies, "purposes": [PURPOSE], "method": "written",
                         "given_on": p.applied_on, "obtained_by_staff": MIGRATED,
                         "form_ref": f"{MIGRATED} {p.key}"}
            self.add(s.PERSONS, p.row, p.intake, "record_application", p.applied_on, {
                "case_id": case, "applied_on": p.applied_on, "with_consent": p.consent,
                "consent": scope}, (p.key,))
        if p.assessed_on is not None:
            items = {"household": p.household, "route": p.route,
                     "main_concern": (p.concern or Concern.other).value, "urgency": p.urgency}
            self.add(s.PERSONS, p.row, p.intake, "record_intake_assessment", p.assessed_on, {
                "case_id": case, "assessed_on": p.assessed_on, "national_items": items,
                "personal": {"situation": p.situation or MIGRATED}}, (p.key,))

    # ----- plans and meetings ---------------------------------------------------------
    def draft(self, plan: PlanRow) -> None:
        drafted = plan.drafted_on or plan.approved_on
        roles = plan.roles or (self.intake(plan.key),)
        self.add(s.PLANS, plan.row, self.intake(plan.key), "draft_plan", drafted, {
            "case_id": Ref("case", plan.key), "program": plan.program.value,
            "drafted_on": drafted,
            "roles": [{"agency_id": a, "role": "支援"} for a in roles],
            "personal": {"long_term_goal": plan.goal or MIGRATED, "short_term_goals": [],
                         "direction": plan.direction or MIGRATED},
        }, (plan.key, plan.meeting), (Ref("plan", f"{plan.key}/{plan.meeting}"),))

    def meeting(self, m: MeetingRow) -> None:
        ref, key = Ref("meeting", m.key), (m.key,)
        when = datetime.combine(m.held_on, MEETING_TIME, tzinfo=JST)
        self.add(s.MEETINGS, m.row, m.convener, "schedule_meeting", m.held_on, {
            "kind": m.kind.value, "scheduled_for": when.isoformat(),
            "members": [a for a in m.attendees if a != m.convener], "title": f"台帳 {m.key}",
        }, key, (ref,))
        if m.kind is MeetingKind.confidential:
            for a in m.attendees:
                self.add(s.MEETINGS, m.row, a, "acknowledge_confidentiality", m.held_on,
                         {"meeting_id": ref}, (m.key, a))
        plans = {p.key: p for p in self.ledger.plans if p.meeting == m.key}
        cases = list(dict.fromkeys([*m.cases, *plans]))
        for n, case in enumerate(cases, start=1):
            item: dict[str, Any] = {"meeting_id": ref, "case_id": Ref("case", case),
                                    "item_id": f"item-{n}", "asks": ["share_information"]}
            if case in plans:
                item.update(asks=["approve_plan"], plan_version=1,
                            plan_id=Ref("plan", f"{case}/{m.key}"))
            self.add(s.MEETINGS, m.row, m.convener, "table_case", m.held_on, item, (m.key, case))
        # The row's attendees attended for each case the row lists (attendance is per item).
        per_item = [{"item_id": f"item-{n}", "agencies": list(m.attendees)}
                    for n in range(1, len(cases) + 1)]
        self.add(s.MEETINGS, m.row, m.convener, "record_meeting_held", m.held_on, {
            "meeting_id": ref, "held_on": m.held_on, "attendees": list(m.attendees),
            "item_attendees": per_item}, key)
        for n, case in enumerate(cases, start=1):
            if case in plans:
                self.add(s.MEETINGS, m.row, m.convener, "record_decision", m.held_on, {
                    "meeting_id": ref, "item_id": f"item-{n}", "decision": "approve_plan",
                    "reason": f"プラン承認{MIGRATED}"}, (m.key, case))


def plan_steps(ledger: Ledger) -> list[Step]:
    return Planner(ledger).run()
