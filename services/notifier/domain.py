"""Notification settings: the pure fold and decider (no I/O).

>>> s = evolve(NotifyState(), NotificationSettingsSet(agency_id="npo", mail_to=("a@b.jp",)))
>>> s.exists, s.has_secret
(True, False)
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.base import DomainEvent
from contracts.commands_notifier import SetNotificationSettings
from contracts.notify import NotificationSettingsSet, WebhookSecret
from eventstore.errors import Forbidden, InvalidInput


@dataclass(frozen=True)
class NotifyState:
    exists: bool = False
    has_secret: bool = False


def evolve(state: NotifyState, event: DomainEvent) -> NotifyState:
    if isinstance(event, NotificationSettingsSet):
        return NotifyState(exists=True, has_secret=state.has_secret or event.secret is not None)
    return state


def fold(events: list[DomainEvent]) -> NotifyState:
    state = NotifyState()
    for event in events:
        state = evolve(state, event)
    return state


@dataclass(frozen=True)
class Facts:
    sender: str
    #: A freshly generated secret, used only if the rules say a new one is needed (the
    #: handler generates it so that the decider stays pure).
    new_secret: str


def decide_set_notification_settings(
    state: NotifyState, cmd: SetNotificationSettings, facts: Facts
) -> list[DomainEvent]:
    """An agency sets its own settings; a webhook gets a secret the first time, or when
    asked to rotate it. Quiet hours must not be empty."""
    if cmd.agency_id != facts.sender:
        raise Forbidden(
            f"agency_id {cmd.agency_id!r}: an agency may set only its own notification "
            "settings", details={"field": "agency_id", "rule": "own_agency_only"})
    if cmd.rotate_secret and cmd.webhook_url is None:
        raise InvalidInput("rotate_secret needs a webhook_url: the secret signs webhooks",
                           details={"field": "rotate_secret", "rule": "needs_webhook_url"})
    if cmd.quiet_hours is not None and cmd.quiet_hours.start == cmd.quiet_hours.end:
        raise InvalidInput("quiet_hours: start and end are the same time",
                           details={"field": "quiet_hours", "rule": "not_empty"})
    new = cmd.webhook_url is not None and (cmd.rotate_secret or not state.has_secret)
    return [NotificationSettingsSet(
        agency_id=cmd.agency_id, mail_to=tuple(cmd.mail_to), webhook_url=cmd.webhook_url,
        delivery=cmd.delivery, digest_hour=cmd.digest_hour, quiet_hours=cmd.quiet_hours,
        secret=WebhookSecret(value=facts.new_secret) if new else None,
        secret_hint=facts.new_secret[-4:] if new else None,
    )]
