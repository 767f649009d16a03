"""The notifier's own settings, from the same TSUNAGU_* variables as the kit's: its mail
(no SMTP host, no mail is sent) and where webhooks may go."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.notifier.channels import SmtpConfig


class NotifierSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TSUNAGU_", extra="ignore")

    notify_allow_private_hosts: bool = Field(
        default=False, description="Webhooks may go to private/loopback addresses (an "
        "agency receiver inside the city's network; tests). Default: public addresses only")
    notify_ca_file: str | None = Field(
        default=None, description="A CA certificate (PEM) trusted besides the system's for "
        "webhook receivers: a city's own CA for receivers inside its network")
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "tsunagu@localhost"
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password: str | None = None

    def smtp(self) -> SmtpConfig | None:
        """The mail server to send through; None without TSUNAGU_SMTP_HOST."""
        if not self.smtp_host:
            return None
        return SmtpConfig(self.smtp_host, self.smtp_port, self.smtp_from, self.smtp_starttls,
                          self.smtp_user, self.smtp_password)
