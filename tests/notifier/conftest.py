"""The notifier's tests post to receivers on loopback: allowed here by setting, as a city
with a receiver inside its own network would (the default refuses private addresses,
``tests/notifier/test_pure.py::test_a_webhook_to_a_private_address_is_refused``)."""

from __future__ import annotations

import pytest

from eventstore.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"notify_allow_private_hosts": True})
