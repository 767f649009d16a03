"""Command handlers of the notifier: load, decide (pure), return the events."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from contracts.base import Command, DomainEvent
from contracts.commands_notifier import SetNotificationSettings
from contracts.directory import active_entry
from contracts.notify import NotificationSettingsSet, WebhookSecret
from eventstore.commands import Handler, Session, command_table
from eventstore.preconditions import refuse_unless
from services.notifier.domain import Facts, decide_set_notification_settings, fold


@dataclass(frozen=True)
class Deps:
    """What the handler needs beyond the session: nothing yet."""


async def handle_set_notification_settings(
    deps: Deps, session: Session, cmd: SetNotificationSettings
) -> list[DomainEvent]:
    await refuse_unless(session, active_entry(session.agency_id))
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
