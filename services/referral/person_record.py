"""What the referral service holds about one person, for the person's own request
(開示請求): each referral (つなぐシート) about them with its sheet and who did what.
Operator-only (``ServiceSpec.operator_queries``): no agency asks this."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from eventstore.db import in_thread
from eventstore.disclosure import DisclosureLog, to_operator
from eventstore.errors import InvalidInput
from eventstore.service import Runtime
from services.referral.projection import referrals
from services.referral.sheets import sheet_of


def _ids(engine: Engine, person_id: str) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(
            select(referrals.c.referral_id).where(referrals.c.person_id == person_id)
            .order_by(referrals.c.submitted_at, referrals.c.referral_id)).scalars())


async def person_record(rt: Runtime, operator: str, args: dict[str, Any]) -> dict[str, Any]:
    """Each referral about the person; recorded (to the operator, for the person's request)
    before it is answered."""
    person_id = args.get("person_id")
    if not isinstance(person_id, str) or not person_id or len(person_id) > 64:
        raise InvalidInput("person_id: required (a person id string)",
                           details={"field": "person_id"})
    out = []
    for referral_id in await in_thread(_ids, rt.engine, person_id):
        history, sheet = await sheet_of(rt, referral_id)
        out.append({
            "referral_id": referral_id, **(sheet or {}),
            "history": [{"type": env.type, "occurred_at": env.occurred_at.isoformat(),
                         "agency": env.actor.agency_id, "staff": env.actor.staff}
                        for env in history],
        })
    records = []
    for r in out:
        fields = [f"referral.{k}" for k, v in (r.get("personal") or {}).items() if v]
        fields += ["referral.attachment"] if r.get("attachment") else []
        if fields:
            records.append(to_operator(operator, args, person_id, r.get("case_id"), fields))
    await DisclosureLog(rt.broker.connection, rt.topology).record(*records)
    return {"referrals": out}


OPERATOR_QUERIES = {"person_record": person_record}
