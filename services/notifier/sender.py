"""Deliveries out: a task that sends what is due, retries what failed with exponential
backoff and dead-letters what still fails after ``MAX_ATTEMPTS``.

Its whole state is the deliveries table (``status``, ``attempts``, ``next_at``), so a
restart resumes where it stopped. A delivery is marked sent after the receiver took it: a
crash in between sends it again with the same idempotency key (``Tsunagu-Idempotency-Key``
header, the mail's ``Message-ID``), by which the receiver sees one message. A daily digest
(rows sharing a ``group_key``) is one mail, keyed by the group.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from nats.aio.client import Client
from sqlalchemy import Engine, func, select, update

from contracts.base import Sealed
from contracts.notify import WebhookSecret
from contracts.webhook import sign
from eventstore.crypto import KeyRing, unseal
from eventstore.db import in_thread
from eventstore.topology import Topology
from services.notifier import tables as t
from services.notifier.channels import DeliveryFailed, SmtpConfig, post_webhook, send_mail
from services.notifier.intake import ms
from services.notifier.policy import MAX_ATTEMPTS, backoff, is_dead
from services.notifier.render import render, render_digest

log = structlog.get_logger("tsunagu.notifier.sender")
BATCH = 50
#: What the notifier's dead letters name as their "projection" (see ``_dead_letter``).
DEAD_LETTERS = "notifier.deliveries"
#: The admin action ``tsunagu dlq retry`` asks for such a letter (``services/notifier/app.py``,
#: ``tsunagu/ops/dlq.py`` RETRIES), with the letter's ``Tsunagu-Retry-Args``.
RESEND = "resend_delivery"
Clock = Callable[[], datetime]


@dataclass
class Unit:
    """What one attempt sends: one row, or a digest's rows."""

    channel: str
    agency: str
    key: str
    rows: list[Any]


@dataclass
class Sender:
    """    sender = Sender(nc, topology, engine, keyring, smtp, clock)
        asyncio.create_task(sender.run(every=1.0)); sender.wake()  # after new deliveries
    """

    nc: Client
    topology: Topology
    engine: Engine
    keyring: KeyRing
    smtp: SmtpConfig | None
    clock: Clock
    first_retry_s: float = 10.0
    max_attempts: int = MAX_ATTEMPTS
    allow_private: bool = False  # webhooks to private addresses (settings; tests)
    ca_file: str | None = None  # a CA trusted besides the system's (settings)
    counts: dict[str, int] = field(default_factory=dict)
    _due: asyncio.Event = field(default_factory=asyncio.Event)

    def wake(self) -> None:
        self._due.set()

    async def run(self, every: float = 1.0) -> None:
        while True:
            try:
                await self.send_due()
                self.counts = await in_thread(self._count)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database away for a moment: next tick
                log.warning("deliveries not sent, retrying", code="sender_retry",
                            error=type(exc).__name__)
            self._due.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._due.wait(), timeout=every)

    async def send_due(self) -> int:
        units = await in_thread(self._due_units, ms(self.clock()))
        for unit in units:
            await self._attempt(unit)
        return len(units)

    def _due_units(self, now_ms: int) -> list[Unit]:
        d = t.deliveries.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.deliveries).where(d.status == "pending",
                                                           d.next_at <= now_ms)
                                .order_by(d.next_at, d.feed_seq).limit(BATCH)).all()
            units: dict[str, Unit] = {}
            for r in rows:
                if r.group_key and r.group_key not in units:
                    group = conn.execute(select(t.deliveries).where(
                        d.group_key == r.group_key, d.status == "pending",
                        d.next_at <= now_ms).order_by(d.feed_seq)).all()
                    units[r.group_key] = Unit("mail", r.agency_id, r.group_key, list(group))
                elif not r.group_key:
                    units[r.key] = Unit(r.channel, r.agency_id, r.idempotency_key, [r])
            return list(units.values())

    async def _attempt(self, unit: Unit) -> None:
        settings = await in_thread(self._settings, unit.agency)
        try:
            if unit.channel == "mail":
                if not settings or not settings.mail_to or self.smtp is None:
                    return await in_thread(self._finish, unit, "dropped", None)
                await in_thread(self._mail, unit, list(settings.mail_to))
            else:
                if not settings or not settings.webhook_url or not settings.secret:
                    return await in_thread(self._finish, unit, "dropped", None)
                secret = await self._secret(settings.secret)
                await self._post(unit, settings.webhook_url, secret)
        except DeliveryFailed as exc:
            await self._failed(unit, exc.code)
            return None
        await in_thread(self._finish, unit, "sent", None)
        log.info("notification sent", code="notification_sent", channel=unit.channel,
                 agency=unit.agency, kind=unit.rows[0].kind, count=len(unit.rows))
        return None

    def _mail(self, unit: Unit, to: list[str]) -> None:
        assert self.smtp is not None
        if len(unit.rows) == 1 and not unit.rows[0].group_key:
            r = render(unit.rows[0].notice, unit.agency, unit.key)
            send_mail(self.smtp, to, r.subject, r.text, unit.key)
            return
        day = unit.key.rsplit(":", 1)[-1]
        subject, text = render_digest([r.notice for r in unit.rows], unit.agency, day)
        send_mail(self.smtp, to, subject, text, unit.key)

    async def _post(self, unit: Unit, url: str, secret: str) -> None:
        body = render(unit.rows[0].notice, unit.agency, unit.key).body
        headers = sign(secret, body, int(_time.time()), unit.key)
        headers["Tsunagu-Kind"] = unit.rows[0].kind
        await in_thread(post_webhook, url, body, headers, self.allow_private, self.ca_file)

    async def _secret(self, stored: dict[str, Any]) -> str:
        sealed = Sealed.model_validate(stored)
        key = await self.keyring.get(sealed.key_id)
        if key is None:
            raise DeliveryFailed("secret_key_missing")
        block = unseal(sealed, WebhookSecret, key)
        assert isinstance(block, WebhookSecret)
        return block.value

    def _settings(self, agency: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(select(t.settings)
                                .where(t.settings.c.agency_id == agency)).first()

    async def _failed(self, unit: Unit, code: str) -> None:
        attempts = max(r.attempts for r in unit.rows) + 1
        dead = is_dead(attempts, self.max_attempts)
        if dead:
            await self._dead_letter(unit, code, attempts)
        wait = backoff(attempts, self.first_retry_s).total_seconds()
        await in_thread(self._finish, unit, "dead" if dead else "pending", code, attempts,
                        ms(self.clock()) + int(wait * 1000))
        log.warning("notification not delivered", code="notification_failed",
                    channel=unit.channel, agency=unit.agency, error=code, attempts=attempts,
                    dead=dead)

    def _finish(self, unit: Unit, status: str, error: str | None, attempts: int | None = None,
                next_at: int | None = None) -> None:
        values: dict[str, Any] = {"status": status, "last_error": error}
        if status == "sent":
            values["sent_at"] = ms(self.clock())
        if attempts is not None:
            values.update(attempts=attempts, next_at=next_at)
        with self.engine.begin() as conn:
            conn.execute(update(t.deliveries)
                         .where(t.deliveries.c.key.in_([r.key for r in unit.rows]))
                         .values(**values))

    async def _dead_letter(self, unit: Unit, error: str, attempts: int) -> None:
        """The kit's dead-letter stream, headers only (``tsunagu dlq list`` shows it). Named
        after the deliveries, not the settings projection: its sequence is the feed's, and a
        ``tsunagu dlq retry`` must not replay event number ``feed_seq`` into the settings:
        the operator's retry asks the notifier to send it again instead (``resend``).
        The subject stays ``dlq.notifier``: ``tsunagu status`` counts it on the notifier."""
        headers = {
            # One letter per death: a crash before the row is marked dead gives the same id
            # (deduplicated); a resent delivery that dies again is due at another time.
            "Nats-Msg-Id": f"notifier-{unit.channel}-{unit.rows[0].next_at}-{unit.key}"[:250],
            "Tsunagu-Projection": DEAD_LETTERS,
            "Tsunagu-Stream-Seq": str(unit.rows[0].feed_seq),
            "Tsunagu-Subject": f"{unit.channel}:{unit.agency}:{unit.rows[0].kind}",
            "Tsunagu-Error": error, "Tsunagu-Attempts": str(attempts),
            "Tsunagu-Idempotency-Key": unit.key[:250],
            "Tsunagu-Retry-Args": json.dumps({"channel": unit.channel, "key": unit.key[:250]}),
        }
        await self.nc.jetstream().publish(self.topology.dlq_subject("notifier"), b"",
                                          headers=headers)

    async def resend(self, channel: str, key: str) -> int:
        """Dead deliveries of ``channel`` keyed ``key`` (a row's idempotency key, or a
        digest's group) are due again now, with a fresh count of attempts; how many."""
        d = t.deliveries.c
        dead = ((d.status == "dead") & (d.channel == channel)
                & ((d.idempotency_key == key) | (d.group_key == key)))

        def reset() -> int:
            with self.engine.begin() as conn:
                return conn.execute(update(t.deliveries).where(dead).values(
                    status="pending", attempts=0, next_at=ms(self.clock()),
                    last_error=None)).rowcount

        count = await in_thread(reset)
        if count:
            self.wake()
        return int(count)

    def _count(self) -> dict[str, int]:
        d = t.deliveries.c
        failed = (d.status == "pending") & (d.attempts > 0)
        with self.engine.connect() as conn:
            rows = conn.execute(select(d.status, failed.label("failed"), func.count())
                                .group_by(d.status, failed)).all()
        out = {"pending": 0, "failed": 0, "sent": 0, "dead": 0, "dropped": 0}
        for status, is_failed, n in rows:
            name = "failed" if is_failed else status
            out[name] = out.get(name, 0) + n
        return out
