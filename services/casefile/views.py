"""What one agency may see of a case: the full view (personal data) only while a valid
consent covers it as a member, or as a bound member of a 支援会議 on the case; otherwise the
redacted view (case id, stage, its own role and tasks). Used by the feeds (inside the
projection's transaction) and by the queries, so both say exactly the same thing.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Connection, and_, select

from contracts.consent import (
    ApplicationRecorded,
    ConsentEvent,
    ConsentRecorded,
    ConsentRefused,
    ConsentWithdrawn,
    covers,
)
from services.casefile import tables as t

_consent_adapter: TypeAdapter[Any] = TypeAdapter(
    ApplicationRecorded | ConsentRecorded | ConsentWithdrawn | ConsentRefused
)


def consent_events(conn: Connection, case_id: str) -> list[ConsentEvent]:
    rows = conn.execute(
        select(t.consent.c.event).where(t.consent.c.case_id == case_id).order_by(t.consent.c.seq)
    ).scalars()
    return [_consent_adapter.validate_python(r) for r in rows]


def member_ids(conn: Connection, case_id: str) -> set[str]:
    return set(conn.execute(
        select(t.members.c.agency_id).where(t.members.c.case_id == case_id)
    ).scalars())


def bound_ids(conn: Connection, case_id: str) -> set[str]:
    """Agencies bound by confidentiality in a (not cancelled) 支援会議 where the case is tabled."""
    q = (
        select(t.meeting_members.c.agency_id)
        .join(t.meeting_cases, t.meeting_cases.c.meeting_id == t.meeting_members.c.meeting_id)
        .join(t.meetings, t.meetings.c.meeting_id == t.meeting_members.c.meeting_id)
        .where(
            t.meeting_cases.c.case_id == case_id,
            t.meetings.c.kind == "confidential",
            t.meetings.c.cancelled.is_(False),
            t.meeting_members.c.acknowledged.is_(True),
        )
    )
    return set(conn.execute(q).scalars())


def audience(conn: Connection, case_id: str) -> list[str]:
    """Every agency that gets a feed of the case."""
    return sorted(member_ids(conn, case_id) | bound_ids(conn, case_id))


def may_see_personal(conn: Connection, case_id: str, agency_id: str, on: date) -> bool:
    if agency_id in bound_ids(conn, case_id):
        return True
    return agency_id in member_ids(conn, case_id) and covers(
        consent_events(conn, case_id), agency_id, on
    )


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _roles_of(conn: Connection, case_id: str, agency_id: str) -> list[dict[str, Any]]:
    """The agency's roles in each program's approved plan (its latest approved version)."""
    rows = conn.execute(
        select(t.plans).where(t.plans.c.case_id == case_id, t.plans.c.approved_on.is_not(None))
        .order_by(t.plans.c.program, t.plans.c.approved_on, t.plans.c.version)
    ).mappings().all()
    latest: dict[str, Any] = {}
    for row in rows:
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


def case_view(conn: Connection, case_id: str, agency_id: str, on: date) -> dict[str, Any] | None:
    """The view for ``agency_id`` on day ``on``, or None when the case is not its business."""
    case = conn.execute(select(t.cases).where(t.cases.c.case_id == case_id)).mappings().first()
    if case is None:
        return None
    members = member_ids(conn, case_id)
    bound = bound_ids(conn, case_id)
    if agency_id not in members and agency_id not in bound:
        return None
    roles = _roles_of(conn, case_id, agency_id)
    view: dict[str, Any] = {
        "case_id": case_id,
        "stage": case["stage"],
        "my_roles": roles,
        "my_tasks": _tasks(case, agency_id, roles, on),
    }
    full = agency_id in bound or (
        agency_id in members and covers(consent_events(conn, case_id), agency_id, on)
    )
    if not full:
        view["redacted"] = True
        return view
    view.update(_full(conn, case, members))
    view["redacted"] = False
    view["access"] = "consent" if agency_id in members and covers(
        consent_events(conn, case_id), agency_id, on) else "confidential_meeting"
    return view


def _full(conn: Connection, case: Any, members: set[str]) -> dict[str, Any]:
    case_id = case["case_id"]
    enrollment_rows = conn.execute(
        select(t.enrollments).where(t.enrollments.c.case_id == case_id)
        .order_by(t.enrollments.c.started_on, t.enrollments.c.enrollment_id)
    ).mappings().all()
    plan_rows = conn.execute(
        select(t.plans).where(t.plans.c.case_id == case_id)
        .order_by(t.plans.c.plan_id, t.plans.c.version)
    ).mappings().all()
    assessment_rows = conn.execute(
        select(t.assessments).where(t.assessments.c.case_id == case_id)
        .order_by(t.assessments.c.assessed_on, t.assessments.c.assessment_id)
    ).mappings().all()
    monitoring_rows = conn.execute(
        select(t.monitorings).where(t.monitorings.c.case_id == case_id)
        .order_by(t.monitorings.c.recorded_on, t.monitorings.c.monitoring_id)
    ).mappings().all()
    member_rows = conn.execute(
        select(t.members).where(t.members.c.case_id == case_id).order_by(t.members.c.joined_on,
                                                                          t.members.c.agency_id)
    ).mappings().all()
    personal = None if case["erased"] else _subject_personal(conn, case)
    return {
        "status": case["status"],
        "origin": case["origin"],
        "opened_on": _iso(case["opened_on"]),
        "coordinator": case["coordinator"],
        "lead_agency": case["lead_agency"],
        "next_monitoring_on": _iso(case["next_monitoring_on"]),
        "erased": bool(case["erased"]),
        "subject": {
            "person_id": case["person_id"],
            "agency_id": case["subject_agency_id"],
            "sex": case["sex"],
            "age_band": case["age_band"],
            "personal": personal,
        },
        "members": [
            {"agency_id": m["agency_id"], "joined_on": _iso(m["joined_on"]), "how": m["how"]}
            for m in member_rows if m["agency_id"] in members
        ],
        "enrollments": [
            {"enrollment_id": e["enrollment_id"], "program": e["program"],
             "started_on": _iso(e["started_on"]), "ended_on": _iso(e["ended_on"]),
             "end_reason": e["end_reason"]}
            for e in enrollment_rows
        ],
        "plans": [
            {"plan_id": p["plan_id"], "version": p["version"], "program": p["program"],
             "drafted_by": p["drafted_by"], "drafted_on": _iso(p["drafted_on"]),
             "roles": p["roles"], "monitoring_on": _iso(p["monitoring_on"]),
             "tabled_at": p["tabled_at"], "approved_on": _iso(p["approved_on"]),
             "personal": None if case["erased"] else p["personal"]}
            for p in plan_rows
        ],
        "assessments": [
            {"assessment_id": a["assessment_id"], "assessed_on": _iso(a["assessed_on"]),
             "assessed_by": a["assessed_by"], "national_items": a["national_items"],
             "attachment": None if case["erased"] else a["attachment"],
             "personal": None if case["erased"] else a["personal"]}
            for a in assessment_rows
        ],
        "monitoring": [
            {"monitoring_id": m["monitoring_id"], "program": m["program"],
             "recorded_on": _iso(m["recorded_on"]), "recorded_by": m["recorded_by"],
             "next_monitoring_on": _iso(m["next_monitoring_on"]),
             "personal": None if case["erased"] else m["personal"]}
            for m in monitoring_rows
        ],
    }


def _subject_personal(conn: Connection, case: Any) -> dict[str, Any] | None:
    if case["personal"]:
        return dict(case["personal"])
    if case["referral_id"]:
        row = conn.execute(
            select(t.referrals.c.personal).where(t.referrals.c.referral_id == case["referral_id"])
        ).scalar()
        return dict(row) if row else None
    return None


def timeline(conn: Connection, case_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(t.timeline).where(t.timeline.c.case_id == case_id).order_by(t.timeline.c.seq)
    ).mappings().all()
    return [{"seq": r["seq"], "type": r["type"], "occurred_at": r["occurred_at"],
             "agency_id": r["agency_id"], "summary": r["summary"]} for r in rows]


def my_cases(conn: Connection, agency_id: str, on: date) -> list[dict[str, Any]]:
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
        view = case_view(conn, case_id, agency_id, on)
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
