"""Command handlers of the notifier: load, decide (pure), return the events."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from contracts.base import Command, DomainEvent
from contracts.commands_notifier import SetNotificationSettings
from contracts.directory import agency_standing, inactive_agency
from contracts.notify import NotificationSettingsSet, WebhookSecret
from eventstore.commands import Handler, Session, command_table
from eventstore.errors import Forbidden
from services.notifier.domain import Facts, decide_set_notification_settings, fold


@dataclass(frozen=True)
class Deps:
    """What the handler needs beyond the session: nothing yet."""


async def active_agency(session: Session, agency_id: str, role: str = "sender") -> None:
    """Refused unless the agency is an active directory entry (contracts.directory)."""
    history = await session.load("agency", agency_id)
    refusal = inactive_agency(agency_id, agency_standing(e.event for e in history.envelopes), role)
    if refusal is not None:
        raise Forbidden(refusal, details={"agency_id": agency_id})


async def handle_set_notification_settings(
    deps: Deps, session: Session, cmd: SetNotificationSettings
) -> list[DomainEvent]:
    await active_agency(session, session.agency_id)
    history = await session.load("notify", session.agency_id)
    state = fold([env.event for env in history.envelopes])
    facts = Facts(sender=session.agency_id, new_secret=secrets.token_urlsafe(32))
    events = decide_set_notification_settings(state, cmd, facts)
    for event in events:
        if isinstance(event, NotificationSettingsSet) and isinstance(event.secret,
                                                                    WebhookSecret):
            # Returned in this reply only; the stored event has it sealed.
            session.once["webhook_secret"] = event.secret.value
    return events


def commands(deps: Deps) -> dict[str, tuple[type[Command], Handler]]:
    return command_table(deps, (SetNotificationSettings, handle_set_notification_settings))
