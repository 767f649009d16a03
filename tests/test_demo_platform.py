"""The demo through the door, at its real size (200 people), with every real service: the
story goes in as commands, every service applies it cleanly, `tsunagu verify` finds nothing
the rules forbid, and a second run writes nothing."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest
import typer
from typer.testing import CliRunner

from tests.helpers import ask, eventually
from tsunagu.ops.cli import register


@pytest.fixture
def cli(settings):
    app = typer.Typer()
    register(app)
    env = {"TSUNAGU_NATS_URL": settings.nats_url, "TSUNAGU_PREFIX": settings.prefix,
           "TSUNAGU_DATA_DIR": str(settings.data_dir)}

    async def invoke(*args: str):
        return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)

    return invoke


@pytest.mark.timeout(600)
async def test_the_demo_goes_through_the_services_cleanly_and_a_second_run_changes_nothing(
    nc, topology, store, services, cli
):
    runtimes = await services("referral", "casefile", "meeting", "stats")
    js = nc.jetstream()
    first = await cli("demo", "--json")
    assert first.exit_code == 0, first.output
    doc = json.loads(first.stdout)
    assert doc["people"] == 200 and doc["new"] == doc["commands"] > 1500, doc
    assert doc["replayed"] == 0

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

    await eventually(caught_up, timeout=180)
    assert (await js.stream_info(topology.dlq_stream)).state.messages == 0
    types = Counter(s.envelope.type
                    for s in await store.read(f"{topology.prefix}.events.case.*.*"))
    assert types["DecisionNotApplied"] == 0, types
    assert types["PlanApproved"] > 100 and types["CaseClosed"] > 10, types
    # Dated in the world (FY2024–FY2025), recorded now.
    history = await store.load("meeting", (await store.read(
        f"{topology.prefix}.events.meeting.*.MeetingHeld"))[0].envelope.aggregate_id)
    held = next(e for e in history.envelopes if e.type == "MeetingHeld")
    assert held.occurred_at.year in (2024, 2025) and held.recorded_at.year >= 2026

    verified = await cli("verify")
    assert verified.exit_code == 0, verified.output
    assert "0 forbidden" in verified.stdout
    report = await ask(nc, topology, "operator", "stats_report", {"as_of": "2025-11-30"})
    assert report["ok"], report

    stored = (await js.stream_info(topology.events_stream)).state.messages
    again = await cli("demo", "--json")
    assert again.exit_code == 0, again.output
    second = json.loads(again.stdout)
    assert second["new"] == 0 and second["replayed"] == doc["commands"], second
    assert (await js.stream_info(topology.events_stream)).state.messages == stored
