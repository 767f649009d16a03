"""A service started on an empty database catches up from a stream of 100,000 events."""

from __future__ import annotations

import pytest

from bench.throughput import load_stream
from bench.toy import build_spec
from eventstore.service import build_app
from tests.faults.conftest import snapshot

pytestmark = pytest.mark.timeout(120)

EVENTS = 100_000


async def test_a_service_on_an_empty_database_catches_up_from_100000_events(
    settings, nc, topology
):
    last = await load_stream(nc, topology, EVENTS, tag="cu")
    assert last == EVENTS
    app, runtime = build_app(build_spec(settings), settings)
    async with app:
        runner = runtime.runners["benchboard"]
        await runner.wait_for(last, timeout=100)
        cases, members = snapshot(runtime.engine)
    assert len(cases) == EVENTS // 5
    assert sum(row[6] for row in cases) == EVENTS  # every event applied exactly once
    assert {row[1] for row in cases} == {"closed"}
    assert len(members) == 2 * (EVENTS // 5)
    assert runner.dead_lettered == 0
