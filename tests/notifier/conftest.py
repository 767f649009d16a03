"""The notifier's tests post to receivers on loopback: allowed here by setting, as a city
with a receiver inside its own network would (the default refuses private addresses,
``tests/notifier/test_pure.py::test_a_webhook_to_a_private_address_is_refused``). The
setting is the notifier's own (``NotifierSettings``), read from the environment when the
service is built."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def allow_private_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TSUNAGU_NOTIFY_ALLOW_PRIVATE_HOSTS", "true")
