"""The notifier's projection of settings (events of the aggregate ``notify``). Deliveries
are written by the feed intake (``intake.py``) and the sender (``sender.py``) into the same
database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from contracts.envelope import Envelope
from contracts.notify import NotificationSettingsSet
from eventstore.db import upsert
from eventstore.projection import ApplyContext
from services.notifier import tables as t


class NotifierProjection:
    """Settings per agency; the secret stays sealed (unsealed only to sign).

        runner = ProjectionRunner(nc, topology, NotifierProjection(), engine)
    """

    name = "notifier"
    metadata = t.metadata
    aggregates: tuple[str, ...] | None = ("notify",)
    needs_personal = False

    def apply(self, conn: Connection, env: Envelope, ctx: ApplyContext) -> None:
        event = env.event
        if not isinstance(event, NotificationSettingsSet):
            return
        values: dict[str, Any] = {
            "agency_id": event.agency_id, "mail_to": list(event.mail_to),
            "webhook_url": event.webhook_url, "delivery": event.delivery,
            "digest_hour": event.digest_hour, "seq": ctx.seq,
            "quiet_start": event.quiet_hours.start.strftime("%H:%M")
            if event.quiet_hours else None,
            "quiet_end": event.quiet_hours.end.strftime("%H:%M") if event.quiet_hours else None,
        }
        if event.secret is not None:  # a new secret; otherwise the previous one stays
            values["secret"] = event.secret.model_dump(mode="json")
            values["secret_hint"] = event.secret_hint
        upsert(conn, t.settings, values, ["agency_id"])
