"""The transactional outbox: side effects written with the projection's commit are published
after it, in order, by the runner's own task, and survive a crash between the two."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from sqlalchemy import Connection, Engine, func, select

from contracts.envelope import Envelope
from eventstore.db import make_engine, outbox
from eventstore.projection import ApplyContext, Item, ProjectionRunner, RunnerOptions
from eventstore.store import EventStore
from eventstore.topology import Topology
from tests.kit.fakes import CountingProjection, agency_event

FAST = RunnerOptions(batch=50, fetch_timeout=0.2, backoff=(0.01, 0.02, 0.05), catchup_idle=0.5)


@dataclass
class AnnouncingProjection(CountingProjection):
    """Counts, and announces every event on a feed subject through the outbox."""

    topology: Topology | None = None
    name: str = "announcing"

    def apply(self, conn: Connection, env: Envelope, ctx: ApplyContext) -> None:
        super().apply(conn, env, ctx)
        assert self.topology is not None
        ctx.publish(self.topology.feed_subject("watcher", env.aggregate_id, "case"),
                    str(ctx.seq).encode(), msg_id=f"announce-{ctx.seq}")


@pytest.fixture
def engine(db_url: str):
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


async def feed_messages(nc, topology: Topology, want: int, timeout: float = 10.0) -> list[int]:
    js = nc.jetstream()
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        info = await js.stream_info(topology.feed_stream)
        if info.state.messages >= want or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.05)
    if not info.state.messages:
        return []
    return [int((await js.get_msg(topology.feed_stream, seq)).data or b"0")
            for seq in range(info.state.first_seq, info.state.last_seq + 1)]


def outbox_rows(engine: Engine) -> int:
    with engine.begin() as conn:
        return int(conn.execute(select(func.count()).select_from(outbox)).scalar() or 0)


async def test_a_running_projection_publishes_its_outbox_in_order_without_being_asked(
    nc, topology, store: EventStore, engine
):
    runner = ProjectionRunner(nc, topology, AnnouncingProjection(topology=topology), engine,
                              options=FAST)
    await runner.start()
    seqs = []
    for i in range(40):
        seqs += await store.append([agency_event(f"a{i}")])
    await runner.wait_for(seqs[-1])
    assert await feed_messages(nc, topology, 40) == seqs  # nobody called flush_outbox
    await runner.stop()
    assert outbox_rows(engine) == 0


async def test_outbox_rows_committed_before_a_crash_are_published_at_the_next_start(
    nc, topology, store: EventStore, engine
):
    projection = AnnouncingProjection(topology=topology)
    runner = ProjectionRunner(nc, topology, projection, engine, options=FAST)
    seqs = []
    for i in range(5):
        seqs += await store.append([agency_event(f"c{i}")])
    # Committed with the projection, then "crashed" before publishing: only the rows exist.
    await asyncio.to_thread(runner._create_tables)
    items = [Item(seq, "", b"", envelope=agency_event(f"c{n}"))
             for n, seq in enumerate(seqs)]
    await asyncio.to_thread(runner._apply, items)
    assert outbox_rows(engine) == 5 and await feed_messages(nc, topology, 0, 0.1) == []

    restarted = ProjectionRunner(nc, topology, projection, engine, options=FAST)
    await restarted.start()
    assert await feed_messages(nc, topology, 5) == seqs
    await restarted.wait_for(seqs[-1])
    await restarted.stop()
    assert outbox_rows(engine) == 0
    assert len(await feed_messages(nc, topology, 5)) == 5  # nothing sent twice
