"""The notifier's mail and webhook settings are its own (``NotifierSettings``), read from
the same TSUNAGU_* variables as before; the kit's settings know nothing of them."""

from __future__ import annotations

import pytest

from eventstore.settings import Settings
from services.notifier.channels import SmtpConfig
from services.notifier.settings import NotifierSettings


def test_the_notifier_reads_its_mail_from_the_tsunagu_smtp_variables(
    monkeypatch: pytest.MonkeyPatch,
):
    for name, value in {"HOST": "mail.city.example", "PORT": "587", "FROM": "tsunagu@city.example",
                        "STARTTLS": "true", "USER": "tsunagu", "PASSWORD": "pw"}.items():
        monkeypatch.setenv(f"TSUNAGU_SMTP_{name}", value)
    assert NotifierSettings().smtp() == SmtpConfig(
        "mail.city.example", 587, "tsunagu@city.example", True, "tsunagu", "pw")


def test_without_an_smtp_host_no_mail_is_sent_and_webhooks_stay_on_public_addresses(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.delenv("TSUNAGU_SMTP_HOST", raising=False)
    monkeypatch.delenv("TSUNAGU_NOTIFY_ALLOW_PRIVATE_HOSTS", raising=False)
    own = NotifierSettings()
    assert own.smtp() is None and own.notify_allow_private_hosts is False


def test_the_kits_settings_hold_none_of_the_notifiers_fields():
    assert not set(NotifierSettings.model_fields) & set(Settings.model_fields)
