"""Command handlers of the notifier: load, decide (pure), return the events."""

from __future__ import annotations

import secrets

from contracts.base import DomainEvent
from contracts.commands_notifier import SetNotificationSettings
from contracts.notify import NotificationSettingsSet, WebhookSecret
from eventstore.commands import Handler, Session, require_active_agency
from services.notifier.domain import Facts, decide_set_notification_settings, fold


async def set_notification_settings(
    session: Session, cmd: SetNotificationSettings
) -> list[DomainEvent]:
    await require_active_agency(session, session.agency_id)
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


COMMANDS: dict[str, tuple[type, Handler]] = {
    "set_notification_settings": (SetNotificationSettings, set_notification_settings),
}
