"""Stats tests: the month-end timer is off unless a test turns it on."""

from __future__ import annotations

import pytest

from services.stats.publishing import PUBLISH_EVERY_ENV


@pytest.fixture(autouse=True)
def _no_month_end_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PUBLISH_EVERY_ENV, "0")
