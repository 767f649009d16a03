"""Fixtures for the meeting service: the directory, the running service, a driver."""

from __future__ import annotations

import pytest

from eventstore.crypto import KeyRing
from tests.helpers import register_agency
from tests.meeting.support import COORD, HOKATSU, KIKAN, OUTSIDER, SHAKYO, Driver


@pytest.fixture
async def directory(store):
    await register_agency(store, COORD, category="その他行政の担当部署", can_triage=True)
    await register_agency(store, HOKATSU, category="地域包括支援センター")
    await register_agency(store, KIKAN, category="基幹相談支援センター")
    await register_agency(store, SHAKYO, category="社会福祉協議会")
    await register_agency(store, OUTSIDER, category="NPO法人")


@pytest.fixture
async def keyring(nc, topology) -> KeyRing:
    return await KeyRing.open(nc, topology)


@pytest.fixture
async def drv(directory, services, nc, topology, store) -> Driver:
    runtimes = await services("meeting")
    return Driver(nc, topology, store, runtimes["meeting"])
