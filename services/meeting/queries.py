"""Read side: what an agency may see of meetings.

- An agency sees the meetings it is a member of (invited, or convening), nothing else.
- A 支援会議 (confidential) does not exist for non-members (not_found, never forbidden), and
  its members see only its date until they acknowledge the duty of confidentiality; its
  agenda, materials, minutes and decisions are for bound members only.
- An agenda item's material and minutes are a person's data: they go to a bound member only
  on a basis from ``contracts.visibility.disclosure_basis`` — at a 重層的支援会議, a consent
  that covers it for that case **today**; at a 支援会議, its acknowledged seat. Rows it has no
  basis for are left out; each row shown names its basis.
- Counts per month carry no content and are open to every agency (statistics).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, and_, or_, select

from eventstore.db import in_thread
from eventstore.errors import DomainError, Forbidden, InvalidInput, NotFound
from eventstore.service import Runtime
from services.meeting import disclosures
from services.meeting.projection import (
    counts,
    decisions,
    gaps,
    item_minutes,
    items,
    materials,
    meetings,
    members,
    minutes,
    utc_text,
)
from services.meeting.visibility import item_rule, world_today

CONFIDENTIAL = "confidential"


def _header(row: Row[Any], me: Row[Any] | None) -> dict[str, Any]:
    bound = _bound(row, me)
    return {
        "meeting_id": row.meeting_id,
        "kind": row.kind,
        "regular": row.regular,
        "series_id": row.series_id,
        # A 支援会議's title may name the person: hidden until the duty is acknowledged.
        "title": row.title if bound else None,
        "scheduled_for": row.scheduled_at,
        "status": row.status,
        "held_on": row.held_on.isoformat() if row.held_on else None,
        "convened_by": row.convened_by,
        "acknowledged": bool(me.acknowledged) if me is not None else False,
        "needs_acknowledgement": row.kind == CONFIDENTIAL and not bound,
    }


def _bound(row: Row[Any], me: Row[Any] | None) -> bool:
    if me is None:
        return False
    return row.kind != CONFIDENTIAL or bool(me.acknowledged)


def _access(conn: Connection, agency: str, meeting_id: str) -> Row[Any]:
    """The meeting row if ``agency`` is a bound member; otherwise a refusal."""
    row = conn.execute(select(meetings).where(meetings.c.meeting_id == meeting_id)).first()
    me = _me(conn, agency, meeting_id)
    if row is None or (me is None and row.kind == CONFIDENTIAL):
        raise NotFound(f"meeting_id: no meeting {meeting_id!r} visible to {agency}",
                       details={"field": "meeting_id"})
    if me is None:
        raise Forbidden(f"agency {agency} is not a member of meeting {meeting_id}")
    if not _bound(row, me):
        raise DomainError(
            f"agency {agency} has not acknowledged the duty of confidentiality of 支援会議 "
            f"{meeting_id}; send acknowledge_confidentiality first (Art. 106-6)",
            code="not_acknowledged", details={"meeting_id": meeting_id},
        )
    return row


def _me(conn: Connection, agency: str, meeting_id: str) -> Row[Any] | None:
    return conn.execute(
        select(members).where(members.c.meeting_id == meeting_id, members.c.agency_id == agency)
    ).first()


def list_meetings(conn: Connection, agency: str, *, upcoming_only: bool = True,
                  now: datetime | None = None) -> list[dict[str, Any]]:
    """The meetings ``agency`` is invited to, soonest first."""
    query = (
        select(meetings, members.c.acknowledged)
        .join(members, and_(members.c.meeting_id == meetings.c.meeting_id,
                            members.c.agency_id == agency))
        .order_by(meetings.c.scheduled_at, meetings.c.meeting_id)
    )
    if upcoming_only:
        query = query.where(meetings.c.status == "scheduled",
                            meetings.c.scheduled_at >= utc_text(now or datetime.now(UTC)))
    return [_header(row, row) for row in conn.execute(query)]


def agenda(conn: Connection, agency: str, meeting_id: str) -> dict[str, Any]:
    row = _access(conn, agency, meeting_id)
    member_rows = conn.execute(
        select(members).where(members.c.meeting_id == meeting_id).order_by(members.c.member)
    ).all()
    decided: dict[str, list[dict[str, Any]]] = {}
    for d in conn.execute(select(decisions).where(decisions.c.meeting_id == meeting_id)
                          .order_by(decisions.c.seq)):
        decided.setdefault(d.item_id, []).append(_decision(d))
    return {
        **_header(row, _me(conn, agency, meeting_id)),
        "members": [
            {"agency_id": m.agency_id, "external_id": m.external_id,
             "profession": m.profession, "name": m.name,
             "acknowledged": bool(m.acknowledged), "attended": bool(m.attended)}
            for m in member_rows
        ],
        "items": [
            {"item_id": i.item_id, "case_id": i.case_id, "asks": list(i.asks),
             "plan_id": i.plan_id, "plan_version": i.plan_version, "program": i.program,
             "moved_to": i.moved_to, "decisions": decided.get(i.item_id, [])}
            for i in conn.execute(select(items).where(items.c.meeting_id == meeting_id)
                                  .order_by(items.c.position))
        ],
        "resource_gaps": [
            {"gap_id": g.gap_id, "description": g.description}
            for g in conn.execute(select(gaps).where(gaps.c.meeting_id == meeting_id)
                                  .order_by(gaps.c.seq))
        ],
    }


def _decision(d: Row[Any]) -> dict[str, Any]:
    return {
        "decision_id": d.decision_id, "meeting_id": d.meeting_id, "item_id": d.item_id,
        "case_id": d.case_id, "decision": d.decision, "reason": d.reason,
        "decided_on": d.decided_on.isoformat(), "plan_id": d.plan_id,
        "plan_version": d.plan_version, "lead_agency": d.lead_agency, "program": d.program,
    }


def read_minutes(conn: Connection, agency: str, meeting_id: str,
                 today: date | None = None) -> dict[str, Any]:
    """The meeting's own minutes and each item's the agency has a basis for. A text whose
    key was destroyed (the person erased) is None with ``erased`` true: never ciphertext."""
    row = _access(conn, agency, meeting_id)
    basis = item_rule(conn, row, _me(conn, agency, meeting_id), agency, today or world_today())
    meeting_row = conn.execute(select(minutes).where(minutes.c.meeting_id == meeting_id)).first()
    per_item = conn.execute(select(item_minutes).where(item_minutes.c.meeting_id == meeting_id)
                            .order_by(item_minutes.c.seq)).all()
    if meeting_row is None and not per_item:
        raise NotFound(f"meeting {meeting_id} has no minutes yet", code="no_minutes")
    shown = [(i, b) for i in per_item if (b := basis(i.case_id)) is not None]
    return {
        "meeting_id": meeting_id,
        "recorded_by": meeting_row.recorded_by if meeting_row else None,
        "text": meeting_row.text if meeting_row else None,
        "erased": meeting_row is not None and meeting_row.text is None,
        "items": [{"item_id": i.item_id, "case_id": i.case_id, "recorded_by": i.recorded_by,
                   "text": i.text, "erased": i.text is None, "basis": b.as_dict()}
                  for i, b in shown],
    }


def read_materials(conn: Connection, agency: str, meeting_id: str,
                   today: date | None = None) -> list[dict[str, Any]]:
    """The meeting's materials, and each item's the agency has a basis for (``basis``:
    None for material of the whole meeting, which is about no one person)."""
    row = _access(conn, agency, meeting_id)
    basis = item_rule(conn, row, _me(conn, agency, meeting_id), agency, today or world_today())
    out = []
    for m in conn.execute(select(materials).where(materials.c.meeting_id == meeting_id)
                          .order_by(materials.c.seq)):
        b = basis(m.case_id) if m.case_id else None
        if m.case_id and b is None:
            continue  # an item's material without a basis for this agency: not shown
        out.append({"material_id": m.material_id, "item_id": m.item_id, "case_id": m.case_id,
                    "shared_by": m.shared_by, "title": m.title, "text": m.text,
                    "attachment": m.attachment, "erased": m.title is None,
                    "basis": b.as_dict() if b else None})
    return out


def case_decisions(conn: Connection, agency: str, case_id: str) -> list[dict[str, Any]]:
    """Decisions on a case made by meetings ``agency`` is a bound member of (a 支援会議's
    decisions never show to an agency that was not bound by it)."""
    query = (
        select(decisions)
        .join(meetings, meetings.c.meeting_id == decisions.c.meeting_id)
        .join(members, and_(members.c.meeting_id == decisions.c.meeting_id,
                            members.c.agency_id == agency))
        .where(decisions.c.case_id == case_id,
               or_(meetings.c.kind != CONFIDENTIAL, members.c.acknowledged.is_(True)))
        .order_by(decisions.c.seq)
    )
    return [_decision(d) for d in conn.execute(query)]


def meeting_counts(conn: Connection, first_month: str | None = None,
                   last_month: str | None = None) -> list[dict[str, Any]]:
    """Meetings held per kind and month (YYYY-MM, of the day they were held)."""
    query = select(counts).order_by(counts.c.month, counts.c.kind)
    if first_month:
        query = query.where(counts.c.month >= first_month)
    if last_month:
        query = query.where(counts.c.month <= last_month)
    return [{"month": r.month, "kind": r.kind, "held": r.held} for r in conn.execute(query)]


# ---- over NATS ------------------------------------------------------------------------


def _arg(args: dict[str, Any], name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{name}: required (a string)", details={"field": name})
    return value


def _month(args: dict[str, Any], name: str) -> str | None:
    value = args.get(name)
    if value is None:
        return None
    try:
        date.fromisoformat(f"{value}-01")
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{name}: expected YYYY-MM, got {value!r}",
                           details={"field": name}) from exc
    return str(value)


def _run(runtime: Runtime, fn: Any, *args: Any, **kw: Any) -> Any:
    engine: Engine = runtime.engine

    def body() -> Any:
        with engine.connect() as conn:
            return fn(conn, *args, **kw)

    return in_thread(body)


async def q_meetings(runtime: Runtime, agency: str, args: dict[str, Any]) -> Any:
    return await _run(runtime, list_meetings, agency,
                      upcoming_only=not bool(args.get("include_past")))


async def q_agenda(runtime: Runtime, agency: str, args: dict[str, Any]) -> Any:
    return await _run(runtime, agenda, agency, _arg(args, "meeting_id"))


async def q_minutes(runtime: Runtime, agency: str, args: dict[str, Any]) -> Any:
    return await disclosures.answered(runtime, agency, _arg(args, "meeting_id"),
                                      read_minutes, disclosures.of_minutes)


async def q_materials(runtime: Runtime, agency: str, args: dict[str, Any]) -> Any:
    return await disclosures.answered(runtime, agency, _arg(args, "meeting_id"),
                                      read_materials, disclosures.of_materials)


async def q_case_decisions(runtime: Runtime, agency: str, args: dict[str, Any]) -> Any:
    return await _run(runtime, case_decisions, agency, _arg(args, "case_id"))


async def q_counts(runtime: Runtime, agency: str, args: dict[str, Any]) -> Any:
    return await _run(runtime, meeting_counts, _month(args, "from_month"),
                      _month(args, "to_month"))


QUERIES = {
    "meetings": q_meetings,
    "meeting_agenda": q_agenda,
    "meeting_minutes": q_minutes,
    "meeting_materials": q_materials,
    "case_decisions": q_case_decisions,
    "meeting_counts": q_counts,
}
