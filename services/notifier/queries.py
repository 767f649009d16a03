"""Queries of the notifier: an agency's own settings (the secret masked) and deliveries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from eventstore.db import in_thread
from eventstore.errors import InvalidInput
from eventstore.service import Runtime
from services.notifier import tables as t


def settings_of(engine: Engine, agency: str) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(select(t.settings).where(t.settings.c.agency_id == agency)).first()
    if row is None:
        return {"agency_id": agency, "configured": False, "mail_to": [], "webhook_url": None,
                "delivery": "immediate", "digest_hour": 8, "quiet_hours": None,
                "webhook_secret": None}
    quiet = {"start": row.quiet_start, "end": row.quiet_end} if row.quiet_start else None
    return {"agency_id": agency, "configured": True, "mail_to": list(row.mail_to),
            "webhook_url": row.webhook_url, "delivery": row.delivery,
            "digest_hour": row.digest_hour, "quiet_hours": quiet,
            # Never the secret: its last characters, to recognise which one is in use.
            "webhook_secret": f"…{row.secret_hint}" if row.secret else None}


def deliveries_of(engine: Engine, agency: str, limit: int) -> list[dict[str, Any]]:
    d = t.deliveries.c
    with engine.connect() as conn:
        rows = conn.execute(select(t.deliveries).where(d.agency_id == agency)
                            .order_by(d.feed_seq.desc(), d.channel).limit(limit)).all()
    return [{"idempotency_key": r.idempotency_key, "channel": r.channel, "kind": r.kind,
             "status": r.status, "attempts": r.attempts, "last_error": r.last_error,
             "case_id": r.notice.get("case_id"), "meeting_id": r.notice.get("meeting_id"),
             "referral_id": r.notice.get("referral_id")} for r in rows]


async def notification_settings(rt: Runtime, agency: str, args: dict[str, Any]) -> Any:
    return await in_thread(settings_of, rt.engine, agency)


async def notification_deliveries(rt: Runtime, agency: str, args: dict[str, Any]) -> Any:
    limit = args.get("limit", 50)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 500:
        raise InvalidInput("limit must be an integer from 1 to 500",
                           details={"field": "limit", "rule": "range"})
    return await in_thread(deliveries_of, rt.engine, agency, limit)


QUERIES = {"notification_settings": notification_settings,
           "notification_deliveries": notification_deliveries}
