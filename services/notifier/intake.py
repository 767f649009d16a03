"""Feed messages in: each typed notice in an agency's feed becomes deliveries (a mail, a
webhook) in the notifier's database, with the feed checkpoint in the same transaction.

Reads the feed stream (every agency's feed, ``<prefix>.feed.>``) with an ephemeral consumer
from the checkpoint + 1; a lost delivery (a gap in the consumer sequence) sends it back to
the checkpoint (``eventstore.delivery.admit``). A delivery row's key is the channel and the
feed message's ``Nats-Msg-Id``, inserted only if absent: a message read twice is delivered
once. Case views (kind ``case``, replaced at each change) are not notified; messages stored
more than ``STALE_DAYS`` before the notifier first reads them (a first start on an old feed,
a restored backup) are skipped rather than flood mailboxes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import Connection, Engine, select

from contracts.feed import KIND_HEADER
from eventstore.db import in_thread, read_checkpoint, upsert, write_checkpoint
from eventstore.delivery import Delivery, admit
from eventstore.topology import Topology
from services.notifier import tables as t
from services.notifier.policy import MailPlan, digest_group, mail_due
from services.notifier.render import safe

log = structlog.get_logger("tsunagu.notifier.intake")
CHECKPOINT = "notifier.feed"
STALE_DAYS = 3
#: Not notified: the case view is state (replaced at each change), not something happening.
SKIPPED_KINDS = frozenset({"case"})
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class FeedMessage:
    seq: int
    agency: str
    msg_id: str
    notice: dict[str, Any]
    stored_at: datetime


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def agency_of(prefix: str, subject: str) -> str:
    """``<prefix>.feed.<agency>.…`` → the agency.

    >>> agency_of("tsunagu", "tsunagu.feed.npo.c1.task_due.monitoring.case.2026-05-01")
    'npo'
    """
    return subject[len(prefix) + len(".feed."):].split(".", 1)[0]


def _plan(row: Any) -> MailPlan:
    def hm(value: str | None) -> time | None:
        return time.fromisoformat(value) if value else None

    return MailPlan(row.delivery, row.digest_hour, hm(row.quiet_start), hm(row.quiet_end))


def plan_deliveries(conn: Connection, m: FeedMessage, now: datetime) -> list[dict[str, Any]]:
    """The delivery rows one feed message makes, by the agency's settings (pure but for
    reading the settings row)."""
    row = conn.execute(select(t.settings).where(t.settings.c.agency_id == m.agency)).first()
    kind = str(m.notice.get("kind", ""))
    if row is None or kind in SKIPPED_KINDS or m.notice.get("too_large"):
        return []
    base = {"agency_id": m.agency, "idempotency_key": m.msg_id, "kind": kind,
            "notice": safe(m.notice), "feed_seq": m.seq, "status": "pending", "attempts": 0}
    rows = []
    if row.mail_to:
        due = mail_due(now, _plan(row))
        group = digest_group(m.agency, due) if row.delivery == "daily_digest" else None
        rows.append({**base, "key": f"mail:{m.msg_id}", "channel": "mail",
                     "next_at": ms(due), "group_key": group})
    if row.webhook_url:
        rows.append({**base, "key": f"webhook:{m.msg_id}", "channel": "webhook",
                     "next_at": ms(now), "group_key": None})
    return rows


def record(engine: Engine, messages: list[FeedMessage], upto: int, now: datetime) -> int:
    """One transaction: the deliveries of ``messages`` and the checkpoint ``upto``."""
    written = 0
    with engine.begin() as conn:
        for m in messages:
            for row in plan_deliveries(conn, m, now):
                upsert(conn, t.deliveries, row, ["key"], overwrite=False)
                written += 1
        write_checkpoint(conn, CHECKPOINT, upto)
    return written


def _parse(prefix: str, msg: Msg) -> FeedMessage | None:
    meta = msg.metadata
    try:
        notice = json.loads(msg.data)
    except ValueError:
        return None
    if not isinstance(notice, dict) or "at" not in notice:
        return None
    notice.setdefault("kind", (msg.headers or {}).get(KIND_HEADER, ""))
    msg_id = (msg.headers or {}).get("Nats-Msg-Id") or f"feed-{meta.sequence.stream}"
    return FeedMessage(meta.sequence.stream, agency_of(prefix, msg.subject), msg_id[:240],
                       notice, meta.timestamp)


class Intake:
    """The feed consumer task of the notifier.

        intake = Intake(nc, topology, engine, clock, woken=sender.wake)
        task = asyncio.create_task(intake.run())
    """

    def __init__(self, nc: Client, topology: Topology, engine: Engine, clock: Clock,
                 woken: Callable[[], None]) -> None:
        self.nc, self.topology, self.engine = nc, topology, engine
        self.clock, self.woken = clock, woken
        self.checkpoint = 0

    async def _subscribe(self) -> Any:
        self.checkpoint = await in_thread(self._read_checkpoint)
        start = ({"deliver_policy": DeliverPolicy.BY_START_SEQUENCE,
                  "opt_start_seq": self.checkpoint + 1} if self.checkpoint
                 else {"deliver_policy": DeliverPolicy.ALL})
        return await self.nc.jetstream().pull_subscribe(
            self.topology.feed_subjects, stream=self.topology.feed_stream,
            config=ConsumerConfig(ack_policy=AckPolicy.NONE, inactive_threshold=120.0,
                                  **start))

    def _read_checkpoint(self) -> int:
        with self.engine.connect() as conn:
            return read_checkpoint(conn, CHECKPOINT)

    async def run(self) -> None:
        while True:
            sub = await self._subscribe()
            try:
                await self._consume(sub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a lost connection, a database error: read again
                log.warning("feed intake interrupted, resuming", code="intake_retry",
                            error=type(exc).__name__)
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()

    async def _consume(self, sub: Any) -> None:
        last_consumer = 0
        while True:
            try:
                msgs = await sub.fetch(200, timeout=1.0)
            except TimeoutError:
                continue
            batch = [Delivery(m.metadata.sequence.consumer, m.metadata.sequence.stream)
                     for m in msgs]
            ok = admit(batch, self.checkpoint, last_consumer)
            fresh = [m for m in msgs[:ok.count] if m.metadata.sequence.stream > self.checkpoint]
            if fresh:
                # Staleness by the real time (the clock may be a test's: a reminder's day).
                recent = datetime.now(UTC) - timedelta(days=STALE_DAYS)
                parsed = [p for m in fresh if (p := _parse(self.topology.prefix, m))
                          and p.stored_at >= recent]
                upto = fresh[-1].metadata.sequence.stream
                if await in_thread(record, self.engine, parsed, upto, self.clock()):
                    self.woken()
                self.checkpoint = upto
            last_consumer = ok.last_consumer_seq
            if not ok.complete:
                return  # a delivery was lost: subscribe again from the checkpoint
