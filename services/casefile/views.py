"""What one agency may see of a case: the full view (personal data) only on a basis from
``contracts.visibility.disclosure_basis`` (a valid consent covers it as a member, judged
today; or a bound seat at a 支援会議 on the case); otherwise the redacted view (case id,
stage, its own role and tasks). Used by the feeds (inside the projection's transaction) and
by the queries, so both say exactly the same thing. ``on`` only dates the tasks: consent is
always judged on ``today``, so asking "as of" an earlier day never shows more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Connection, RowMapping, and_, bindparam, select

from contracts.consent import (
    ApplicationRecorded,
    ConsentEvent,
    ConsentRecorded,
    ConsentRecorderNamed,
    ConsentRefused,
    ConsentWithdrawn,
)
from contracts.visibility import Basis, Seat, disclosure_basis
from services.casefile import tables as t

_consent_adapter: TypeAdapter[Any] = TypeAdapter(
    ApplicationRecorded | ConsentRecorded | ConsentWithdrawn | ConsentRefused
    | ConsentRecorderNamed
)

# Built once: building a statement (and its cache key) costs more than running it here.
_CASE: Any = bindparam("case_id")
_CASE_ROW = select(t.cases).where(t.cases.c.case_id == _CASE)
_CONSENT = select(t.consent.c.event).where(t.consent.c.case_id == _CASE).order_by(t.consent.c.seq)
_MEMBERS = (select(t.members).where(t.members.c.case_id == _CASE)
            .order_by(t.members.c.joined_on, t.members.c.agency_id))
_MEMBER_IDS = select(t.members.c.agency_id).where(t.members.c.case_id == _CASE)
_SEATS = (
    select(t.meeting_members.c.meeting_id, t.meeting_members.c.agency_id,
           t.meeting_members.c.acknowledged_on)
    .join(t.meeting_cases, t.meeting_cases.c.meeting_id == t.meeting_members.c.meeting_id)
    .join(t.meetings, t.meetings.c.meeting_id == t.meeting_members.c.meeting_id)
    .where(
        t.meeting_cases.c.case_id == _CASE,
        t.meetings.c.kind == "confidential",
        t.meetings.c.cancelled.is_(False),
        t.meeting_members.c.acknowledged.is_(True),
    )
)
_ENROLLMENTS = (select(t.enrollments).where(t.enrollments.c.case_id == _CASE)
                .order_by(t.enrollments.c.started_on, t.enrollments.c.enrollment_id))
_PLANS = (select(t.plans).where(t.plans.c.case_id == _CASE)
          .order_by(t.plans.c.plan_id, t.plans.c.version))
_ASSESSMENTS = (select(t.assessments).where(t.assessments.c.case_id == _CASE)
                .order_by(t.assessments.c.assessed_on, t.assessments.c.assessment_id))
_MONITORINGS = (select(t.monitorings).where(t.monitorings.c.case_id == _CASE)
                .order_by(t.monitorings.c.recorded_on, t.monitorings.c.monitoring_id))
_REFERRAL_PERSONAL = select(t.referrals.c.personal).where(
    t.referrals.c.referral_id == bindparam("referral_id"))


@dataclass(frozen=True)
class CaseData:
    """Everything any agency's view of one case is made of, read once: the feeds of a case
    go to every agency in its audience, and each view is then computed without a query."""

    case: RowMapping
    members: list[RowMapping]
    seats: tuple[Seat, ...]
    consent: list[ConsentEvent]
    plans: list[RowMapping]
    enrollments: list[RowMapping]
    assessments: list[RowMapping]
    monitorings: list[RowMapping]
    personal: dict[str, Any] | None

    @property
    def member_ids(self) -> frozenset[str]:
        return frozenset(m["agency_id"] for m in self.members)

    @property
    def bound(self) -> frozenset[str]:
        """Agencies with a bound seat at a 支援会議 on the case."""
        return frozenset(s.agency_id for s in self.seats)

    @property
    def audience(self) -> list[str]:
        """Every agency that gets a feed of the case."""
        return sorted(self.member_ids | self.bound)


def load_case(conn: Connection, case_id: str) -> CaseData | None:
    """The case's rows, or None when there is no such case."""
    key = {"case_id": case_id}
    case = conn.execute(_CASE_ROW, key).mappings().first()
    if case is None:
        return None
    return CaseData(
        case,
        members=list(conn.execute(_MEMBERS, key).mappings()),
        seats=tuple(Seat(r.meeting_id, r.agency_id, r.acknowledged_on)
                    for r in conn.execute(_SEATS, key)),
        consent=[_consent_adapter.validate_python(r)
                 for r in conn.execute(_CONSENT, key).scalars()],
        plans=list(conn.execute(_PLANS, key).mappings()),
        enrollments=list(conn.execute(_ENROLLMENTS, key).mappings()),
        assessments=list(conn.execute(_ASSESSMENTS, key).mappings()),
        monitorings=list(conn.execute(_MONITORINGS, key).mappings()),
        personal=None if case["erased"] else _subject_personal(conn, case),
    )


def audience(conn: Connection, case_id: str) -> list[str]:
    """Every agency that gets a feed of the case."""
    key = {"case_id": case_id}
    members = set(conn.execute(_MEMBER_IDS, key).scalars())
    return sorted(members | {r.agency_id for r in conn.execute(_SEATS, key)})


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _roles_of(data: CaseData, agency_id: str) -> list[dict[str, Any]]:
    """The agency's roles in each program's approved plan (its latest approved version)."""
    approved = sorted((p for p in data.plans if p["approved_on"] is not None),
                      key=lambda p: (p["program"], p["approved_on"], p["version"]))
    latest: dict[str, Any] = {}
    for row in approved:
        latest[row["program"]] = row
    out = []
    for program, row in sorted(latest.items()):
        for role in row["roles"]:
            if role["agency_id"] == agency_id:
                out.append({"program": program, "plan_id": row["plan_id"],
                            "version": row["version"], **{k: role.get(k) for k in
                            ("role", "frequency", "period_from", "period_to")}})
    return out


def _tasks(
    case: Any, agency_id: str, roles: list[dict[str, Any]], on: date
) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = []
    responsible = case["lead_agency"] or case["coordinator"]
    due = case["next_monitoring_on"]
    if case["status"] == "open" and agency_id == responsible and due is not None:
        tasks.append({"task": "monitoring", "due_on": due.isoformat(), "overdue": due < on})
    for role in roles:
        to = role.get("period_to")
        if case["status"] == "open" and to:
            tasks.append({"task": "plan_role_period_ends", "program": role["program"],
                          "due_on": to, "overdue": date.fromisoformat(to) < on})
    return tasks


def case_view(
    conn: Connection, case_id: str, agency_id: str, on: date, today: date | None = None
) -> dict[str, Any] | None:
    """The view for ``agency_id`` (tasks as of ``on``, consent judged on ``today``), or None
    when the case is not its business."""
    data = load_case(conn, case_id)
    return view_of(data, agency_id, on, today) if data else None


def basis_of(data: CaseData, agency_id: str, today: date) -> Basis | None:
    """On what basis ``agency_id`` may see the case's personal data today (None: redacted)."""
    return disclosure_basis(agency_id, consent=data.consent, today=today,
                            takes_part=agency_id in data.member_ids, seats=data.seats)


def view_of(
    data: CaseData, agency_id: str, on: date, today: date | None = None
) -> dict[str, Any] | None:
    """The view for ``agency_id`` (no I/O), or None when not its business. ``on`` dates the
    tasks; consent is judged on ``today`` (the feed passes the day the change was stored,
    which was today then), never on an earlier asked-for day."""
    members = data.member_ids
    if agency_id not in members and agency_id not in data.bound:
        return None
    case = data.case
    roles = _roles_of(data, agency_id)
    view: dict[str, Any] = {
        "case_id": case["case_id"],
        "stage": case["stage"],
        "my_roles": roles,
        "my_tasks": _tasks(case, agency_id, roles, on),
    }
    basis = basis_of(data, agency_id, on if today is None else today)
    if basis is None:
        view["redacted"] = True
        return view
    view.update(_full(data))
    view["redacted"] = False
    view["access"] = "consent" if basis.kind == "consent" else "confidential_meeting"
    view["basis"] = basis.as_dict()
    return view


def _full(data: CaseData) -> dict[str, Any]:
    case = data.case
    erased = bool(case["erased"])
    return {
        "status": case["status"],
        "origin": case["origin"],
        "opened_on": _iso(case["opened_on"]),
        "coordinator": case["coordinator"],
        "lead_agency": case["lead_agency"],
        "next_monitoring_on": _iso(case["next_monitoring_on"]),
        "erased": erased,
        "subject": {
            "person_id": case["person_id"],
            "agency_id": case["subject_agency_id"],
            "sex": case["sex"],
            "age_band": case["age_band"],
            "personal": None if erased else data.personal,
        },
        "members": [
            {"agency_id": m["agency_id"], "joined_on": _iso(m["joined_on"]), "how": m["how"]}
            for m in data.members
        ],
        "enrollments": [
            {"enrollment_id": e["enrollment_id"], "program": e["program"],
             "started_on": _iso(e["started_on"]), "ended_on": _iso(e["ended_on"]),
             "end_reason": e["end_reason"]}
            for e in data.enrollments
        ],
        "plans": [
            {"plan_id": p["plan_id"], "version": p["version"], "program": p["program"],
             "drafted_by": p["drafted_by"], "drafted_on": _iso(p["drafted_on"]),
             "roles": p["roles"], "monitoring_on": _iso(p["monitoring_on"]),
             "tabled_at": p["tabled_at"], "approved_on": _iso(p["approved_on"]),
             "personal": None if erased else p["personal"]}
            for p in data.plans
        ],
        "assessments": [
            {"assessment_id": a["assessment_id"], "assessed_on": _iso(a["assessed_on"]),
             "assessed_by": a["assessed_by"], "national_items": a["national_items"],
             "attachment": None if erased else a["attachment"],
             "personal": None if erased else a["personal"]}
            for a in data.assessments
        ],
        "monitoring": [
            {"monitoring_id": m["monitoring_id"], "program": m["program"],
             "recorded_on": _iso(m["recorded_on"]), "recorded_by": m["recorded_by"],
             "next_monitoring_on": _iso(m["next_monitoring_on"]),
             "personal": None if erased else m["personal"]}
            for m in data.monitorings
        ],
    }


def _subject_personal(conn: Connection, case: Any) -> dict[str, Any] | None:
    if case["personal"]:
        return dict(case["personal"])
    if case["referral_id"]:
        row = conn.execute(_REFERRAL_PERSONAL, {"referral_id": case["referral_id"]}).scalar()
        return dict(row) if row else None
    return None


def timeline(conn: Connection, case_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(t.timeline).where(t.timeline.c.case_id == case_id).order_by(t.timeline.c.seq)
    ).mappings().all()
    return [{"seq": r["seq"], "type": r["type"], "occurred_at": r["occurred_at"],
             "agency_id": r["agency_id"], "summary": r["summary"]} for r in rows]


def my_cases(
    conn: Connection, agency_id: str, on: date, today: date | None = None
) -> list[dict[str, Any]]:
    """The cases an agency takes part in (member, or bound member of a 支援会議 on it)."""
    member_of = select(t.members.c.case_id).where(t.members.c.agency_id == agency_id)
    bound_of = (
        select(t.meeting_cases.c.case_id)
        .join(t.meeting_members, t.meeting_members.c.meeting_id == t.meeting_cases.c.meeting_id)
        .join(t.meetings, t.meetings.c.meeting_id == t.meeting_cases.c.meeting_id)
        .where(and_(t.meeting_members.c.agency_id == agency_id,
                    t.meeting_members.c.acknowledged.is_(True),
                    t.meetings.c.kind == "confidential", t.meetings.c.cancelled.is_(False)))
    )
    ids = sorted(set(conn.execute(member_of).scalars()) | set(conn.execute(bound_of).scalars()))
    out = []
    for case_id in ids:
        view = case_view(conn, case_id, agency_id, on, today)
        if view is None:
            continue
        name = None
        if not view["redacted"] and view["subject"]["personal"]:
            name = view["subject"]["personal"].get("name")
        out.append({
            "case_id": case_id,
            "stage": view["stage"],
            "redacted": view["redacted"],
            "name": name,
            "next_monitoring_on": view.get("next_monitoring_on"),
            "overdue": [task for task in view["my_tasks"] if task["overdue"]],
            "my_roles": [r["role"] for r in view["my_roles"]],
        })
    return out
