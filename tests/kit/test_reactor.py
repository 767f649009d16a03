"""Reactors run in stream order, retry, dead-letter, and never skip a reaction."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from contracts.envelope import Envelope
from eventstore.db import make_engine
from eventstore.projection import RunnerOptions
from eventstore.reactor import ReactorRunner
from tests.kit.fakes import agency_event

FAST = RunnerOptions(batch=20, fetch_timeout=0.2, backoff=(0.01,))


@dataclass
class RecordingReactor:
    name: str = "recorder"
    aggregates: tuple[str, ...] | None = ("agency",)
    seen: list[str] = field(default_factory=list)
    flaky: dict[str, int] = field(default_factory=dict)  # agency id -> failures left

    async def react(self, env: Envelope, seq: int) -> None:
        left = self.flaky.get(env.aggregate_id, 0)
        if left:
            self.flaky[env.aggregate_id] = left - 1
            raise RuntimeError(f"transient failure for {env.aggregate_id}")
        self.seen.append(env.aggregate_id)


@pytest.fixture
def engine(tmp_path):
    return make_engine(f"sqlite:///{tmp_path / 'r.sqlite'}")


async def test_reactions_happen_in_order_and_survive_transient_failures(
    nc, topology, store, engine
):
    reactor = RecordingReactor(flaky={"x2": 2})
    runner = ReactorRunner(nc, topology, reactor, engine, options=FAST)
    await runner.start()
    last = 0
    for i in range(5):
        last = (await store.append([agency_event(f"x{i}")]))[0]
    await runner.wait_for(last)
    await runner.stop()
    assert reactor.seen == [f"x{i}" for i in range(5)]


async def test_a_reaction_that_always_fails_is_dead_lettered_and_the_rest_go_on(
    nc, topology, store, engine
):
    reactor = RecordingReactor(flaky={"bad": 99})
    runner = ReactorRunner(nc, topology, reactor, engine, options=FAST)
    await runner.start()
    await store.append([agency_event("bad")])
    last = (await store.append([agency_event("good")]))[0]
    await runner.wait_for(last)
    await runner.stop()
    assert reactor.seen == ["good"]
    info = await nc.jetstream().stream_info(topology.dlq_stream)
    assert info.state.messages == 1


async def test_a_restarted_reactor_resumes_after_its_checkpoint(nc, topology, store, engine):
    first = RecordingReactor()
    runner = ReactorRunner(nc, topology, first, engine, options=FAST)
    await runner.start()
    last = (await store.append([agency_event("y0")]))[0]
    await runner.wait_for(last)
    await runner.stop()
    second = RecordingReactor()
    runner = ReactorRunner(nc, topology, second, engine, options=FAST)
    await runner.start()
    last = (await store.append([agency_event("y1")]))[0]
    await runner.wait_for(last)
    await runner.stop()
    assert first.seen == ["y0"] and second.seen == ["y1"]
