"""Appending with optimistic concurrency and Msg-Id de-duplication, on a real server."""

from __future__ import annotations

import asyncio

import pytest

from eventstore.errors import ConcurrencyConflict
from eventstore.store import MSG_ID, EventStore
from tests.kit.fakes import agency_event


async def test_two_concurrent_appends_on_one_aggregate_exactly_one_wins(store: EventStore):
    await store.append([agency_event("a1")], {("agency", "a1"): 0})
    history = await store.load("agency", "a1")
    expected = {("agency", "a1"): history.last_seq}

    results = await asyncio.gather(
        store.append([agency_event("a1", "left", updated=True)], expected),
        store.append([agency_event("a1", "right", updated=True)], expected),
        return_exceptions=True,
    )

    wins = [r for r in results if isinstance(r, list)]
    conflicts = [r for r in results if isinstance(r, ConcurrencyConflict)]
    assert len(wins) == 1 and len(conflicts) == 1
    assert len((await store.load("agency", "a1")).events) == 2


async def test_different_event_types_of_one_aggregate_also_conflict(store: EventStore):
    first = await store.append([agency_event("a2")], {("agency", "a2"): 0})
    # A stale writer that last saw nothing, now appending a *different* event type.
    with pytest.raises(ConcurrencyConflict):
        await store.append([agency_event("a2", updated=True)], {("agency", "a2"): 0})
    ok = await store.append([agency_event("a2", updated=True)], {("agency", "a2"): first[0]})
    assert ok[0] > first[0]


async def test_an_aggregate_that_must_be_new_refuses_a_second_creation(store: EventStore):
    await store.append([agency_event("a3")], {("agency", "a3"): 0})
    with pytest.raises(ConcurrencyConflict):
        await store.append([agency_event("a3")], {("agency", "a3"): 0})


async def test_the_same_event_appended_twice_is_stored_once(store: EventStore, nc, topology):
    env = agency_event("a4")
    first = await store.append([env])
    second = await store.append([env])  # a retry after a lost PubAck
    assert first == second
    info = await nc.jetstream().stream_info(topology.events_stream)
    assert info.state.messages == 1
    stored = await store.load("agency", "a4")
    assert [s.envelope.event_id for s in stored.events] == [env.event_id]


async def test_a_batch_on_two_aggregates_is_all_or_nothing(store: EventStore, nc, topology):
    await store.append([agency_event("b1")], {("agency", "b1"): 0})
    # b2 is new, but b1's expectation is stale: nothing of the batch may be stored.
    with pytest.raises(ConcurrencyConflict):
        await store.append(
            [agency_event("b2"), agency_event("b1", updated=True)],
            {("agency", "b2"): 0, ("agency", "b1"): 0},
        )
    assert (await store.load("agency", "b2")).events == []
    seqs = await store.append(
        [agency_event("b2"), agency_event("b1", updated=True)],
        {("agency", "b2"): 0, ("agency", "b1"): 1},
    )
    assert len(seqs) == 2 and seqs[1] == seqs[0] + 1
    assert len((await store.load("agency", "b1")).events) == 2


async def test_load_returns_events_in_order_with_their_sequences(store: EventStore):
    for i in range(5):
        history = await store.load("agency", "c1")
        await store.append(
            [agency_event("c1", f"v{i}", updated=i > 0)], {("agency", "c1"): history.last_seq}
        )
    await store.append([agency_event("c2")])
    history = await store.load("agency", "c1")
    assert [s.envelope.event.name for s in history.events] == [f"v{i}" for i in range(5)]
    assert history.last_seq == history.events[-1].seq
    assert (await store.load("agency", "nobody")).last_seq == 0


async def test_load_reads_past_one_direct_get_batch(store: EventStore):
    n = 1205
    last = 0
    for start in range(0, n, 100):
        envs = [
            agency_event("big", f"n{i}", updated=True) for i in range(start, min(n, start + 100))
        ]
        seqs = await store.append(envs, {("agency", "big"): last})
        last = seqs[-1]
    history = await store.load("agency", "big")
    assert len(history.events) == n
    assert history.events[-1].envelope.event.name == f"n{n - 1}"


def test_msg_id_header_name_is_the_jetstream_one():
    assert MSG_ID == "Nats-Msg-Id"


async def test_a_reload_after_new_events_reads_only_them_and_equals_a_fresh_load(
    nc, topology, store: EventStore
):
    first = await store.load("agency", "grow")
    assert first.events == []
    last = 0
    for i in range(7):
        last = (await store.append([agency_event("grow", f"g{i}", updated=i > 0)],
                                   {("agency", "grow"): last}))[-1]
        await store.append([agency_event(f"other{i}")])  # interleaved: other subjects
        cached = await store.load("agency", "grow")  # the history grows from the cache
        fresh = await EventStore(nc, topology).load("agency", "grow")  # no cache at all
        assert [(s.seq, s.envelope.event_id) for s in cached.events] == \
            [(s.seq, s.envelope.event_id) for s in fresh.events]
        assert cached.last_seq == fresh.last_seq == last
    reads: list[int] = []
    original = store._direct_batch

    async def counting(subject_filter: str, seq: int, batch: int):  # type: ignore[no-untyped-def]
        reads.append(batch)
        return await original(subject_filter, seq, batch)

    store._direct_batch = counting  # type: ignore[method-assign]
    await store.append([agency_event("grow", "g7", updated=True)], {("agency", "grow"): last})
    assert len((await store.load("agency", "grow")).events) == 8
    assert reads == [1]  # one new event asked for, not the eight


async def test_a_read_the_stream_cannot_answer_is_a_read_error_not_an_append_error(nc):
    import uuid

    from eventstore.store import AppendFailed, ReadFailed
    from eventstore.topology import Topology

    unprovisioned = EventStore(nc, Topology(prefix=f"t{uuid.uuid4().hex[:12]}"), timeout=2.0)
    with pytest.raises(ReadFailed, match="stream info failed") as raised:
        await unprovisioned.load("agency", "nowhere")
    assert not isinstance(raised.value, AppendFailed)
    assert raised.value.code == "unavailable"
