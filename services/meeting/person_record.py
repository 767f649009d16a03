"""What the meeting service holds about one person's cases, for the person's own request
(開示請求): the agenda items they were tabled at (with the meeting), the decisions, the item
material and the item minutes. The meeting knows cases, not persons: the operator passes the
person's case ids (from casefile). Operator-only (``ServiceSpec.operator_queries``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from eventstore.db import in_thread
from eventstore.disclosure import Disclosure, DisclosureLog, to_operator
from eventstore.errors import InvalidInput
from eventstore.service import Runtime
from services.meeting.projection import decisions, item_minutes, items, materials, meetings


def _case_ids(args: dict[str, Any]) -> list[str]:
    ids = args.get("case_ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) and 0 < len(i) <= 64
                                            for i in ids) or len(ids) > 1000:
        raise InvalidInput("case_ids: required (a list of case id strings)",
                           details={"field": "case_ids"})
    return ids


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def held_about(engine: Engine, case_ids: list[str]) -> dict[str, Any]:
    with engine.connect() as conn:
        tabled = conn.execute(
            select(items, meetings.c.kind, meetings.c.title, meetings.c.scheduled_at,
                   meetings.c.held_on, meetings.c.status)
            .join(meetings, meetings.c.meeting_id == items.c.meeting_id)
            .where(items.c.case_id.in_(case_ids))
            .order_by(meetings.c.scheduled_at, items.c.position)).mappings().all()
        decided = conn.execute(select(decisions).where(decisions.c.case_id.in_(case_ids))
                               .order_by(decisions.c.seq)).mappings().all()
        shared = conn.execute(select(materials).where(materials.c.case_id.in_(case_ids))
                              .order_by(materials.c.seq)).mappings().all()
        minuted = conn.execute(select(item_minutes).where(item_minutes.c.case_id.in_(case_ids))
                               .order_by(item_minutes.c.seq)).mappings().all()
    return {
        "meeting_items": [{k: _iso(v) for k, v in r.items()} for r in tabled],
        "meeting_decisions": [{k: _iso(v) for k, v in r.items() if k != "seq"}
                              for r in decided],
        "meeting_materials": [{k: _iso(v) for k, v in r.items() if k != "seq"}
                              for r in shared],
        "meeting_minutes": [{k: _iso(v) for k, v in r.items() if k != "seq"}
                            for r in minuted],
    }


def _records(operator: str, args: dict[str, Any], held: dict[str, Any]) -> list[Disclosure]:
    per_case: dict[str, set[str]] = {}
    for section, prefix, names in (
            ("meeting_materials", "material", ("title", "text", "attachment")),
            ("meeting_minutes", "minutes", ("text",)),
            ("meeting_decisions", "decision", ("reason",)),
            ("meeting_items", "meeting", ("title",))):
        for row in held[section]:
            per_case.setdefault(row["case_id"], set()).update(
                f"{prefix}.{n}" for n in names if row.get(n))
    return [to_operator(operator, args, None, case_id, sorted(fields))
            for case_id, fields in sorted(per_case.items()) if fields]


async def person_record(rt: Runtime, operator: str, args: dict[str, Any]) -> dict[str, Any]:
    """Recorded per case (to the operator, for the person's request) before it is answered."""
    held = await in_thread(held_about, rt.engine, _case_ids(args))
    await DisclosureLog(rt.broker.connection, rt.topology).record(
        *_records(operator, args, held))
    return held


OPERATOR_QUERIES = {"person_record": person_record}
