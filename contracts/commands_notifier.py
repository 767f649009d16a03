"""Commands of the notifier service (notification settings)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.base import AgencyId, Command
from contracts.notify import Delivery, MailAddress, QuietHours, WebhookUrl


class SetNotificationSettings(Command):
    """Where and how the agency's feed messages are also sent. An agency sets only its own
    (``agency_id`` is the sender). The first webhook, or ``rotate_secret``, generates a new
    secret, returned once in the reply's ``once.webhook_secret``."""

    type: Literal["set_notification_settings"] = "set_notification_settings"
    agency_id: AgencyId
    mail_to: list[MailAddress] = Field(default_factory=list, max_length=5)
    webhook_url: WebhookUrl | None = None
    delivery: Delivery = "immediate"
    digest_hour: int = Field(default=8, ge=0, le=23, description="Digest sent at (JST hour)")
    quiet_hours: QuietHours | None = None
    rotate_secret: bool = False
