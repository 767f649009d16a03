"""The demo data set through every real service: it must apply cleanly everywhere."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.helpers import ask, eventually
from tsunagu.ops.demo import load_demo


@pytest.mark.timeout(180)
async def test_the_demo_applies_cleanly_in_every_service(nc, topology, store, services):
    runtimes = await services("referral", "casefile", "meeting", "stats")
    result = await load_demo(nc, topology, people=60)
    assert result["appended"] == result["events"]
    js = nc.jetstream()

    async def caught_up() -> bool:
        for rt in runtimes.values():
            for runner in rt.runners.values():
                try:
                    info = await js.consumer_info(topology.events_stream, runner.durable)
                except Exception:
                    return False  # still catching up through the ordered consumer
                if info.num_pending or info.num_ack_pending:
                    return False
        return True

    await eventually(caught_up, timeout=120)
    dlq = await js.stream_info(topology.dlq_stream)
    assert dlq.state.messages == 0, "the demo produced dead letters"
    types = Counter()
    for stored in await store.read(f"{topology.prefix}.events.case.*.*"):
        types[stored.envelope.type] += 1
    assert types["DecisionNotApplied"] == 0, types
    assert types["PlanApproved"] > 0 and types["CaseClosed"] > 0
    report = await ask(nc, topology, "operator", "stats_report", {"as_of": "2025-11-30"})
    assert report["ok"], report
