"""The notifier service: feed messages out by mail and signed webhooks (docs/NOTIFICATIONS.md).

Its spec: the ``set_notification_settings`` command, two queries, the settings projection,
the operators' ``resend_delivery`` (what ``tsunagu dlq retry`` asks for a dead delivery),
and two tasks started with it: the feed intake (``intake.py``) and the sender
(``sender.py``). Delivery counts go to ``tsunagu status``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from faststream import FastStream

from contracts.jst import JST
from eventstore.service import Runtime, ServiceSpec, build_app
from eventstore.settings import Settings, load_settings
from services.notifier import tables
from services.notifier.handlers import Deps, commands
from services.notifier.intake import Intake
from services.notifier.letters import resend_delivery
from services.notifier.policy import MAX_ATTEMPTS
from services.notifier.projection import NotifierProjection
from services.notifier.queries import QUERIES
from services.notifier.sender import DEAD_LETTERS, RESEND, Sender
from services.notifier.settings import NotifierSettings

Clock = Callable[[], datetime]


def build_spec(settings: Settings, own: NotifierSettings | None = None,
               clock: Clock | None = None, every: float = 1.0, first_retry_s: float = 10.0,
               max_attempts: int = MAX_ATTEMPTS) -> ServiceSpec:
    """``own``: the notifier's settings (mail, webhook addresses); by default read from the
    environment. ``clock``, ``every`` (the sender's tick), ``first_retry_s`` and
    ``max_attempts`` are for tests."""
    own = own if own is not None else NotifierSettings()
    now_of: Clock = clock or (lambda: datetime.now(JST))
    senders: list[Sender] = []

    async def start(rt: Runtime) -> None:
        assert rt.keyring is not None
        nc = rt.broker.connection
        sender = Sender(nc, rt.topology, rt.engine, rt.keyring, own.smtp(), now_of,
                        first_retry_s, max_attempts, own.notify_allow_private_hosts,
                        own.notify_ca_file)
        senders.append(sender)
        intake = Intake(nc, rt.topology, rt.engine, now_of, sender.wake)
        rt.tasks.append(asyncio.create_task(intake.run(), name="notifier-intake"))
        rt.tasks.append(asyncio.create_task(sender.run(every), name="notifier-sender"))

    def status() -> dict[str, Any]:
        return {"deliveries": dict(senders[0].counts) if senders else {}}

    async def resend(rt: Runtime, operator: str, args: dict[str, Any]) -> dict:
        return await resend_delivery(senders[0], rt, operator, args)

    return ServiceSpec(
        name="notifier", commands=commands(Deps()), queries=dict(QUERIES),
        projections=[NotifierProjection()], on_start=[start], extra_status=status,
        operator_queries={RESEND: resend}, dead_letters=(DEAD_LETTERS,),
        tables=tables.kept,
    )


def create_app() -> FastStream:
    """For `faststream run services.notifier.app:create_app --factory`."""
    settings = load_settings()
    app, _ = build_app(build_spec(settings), settings)
    return app
