"""Concurrent conflicting commands, duplicate deliveries, redeliveries, out-of-order arrival."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter

import pytest

from bench.events import CaseBoard, envelope
from bench.throughput import load_stream
from eventstore.commands import request_patiently
from eventstore.db import make_engine
from eventstore.errors import ConcurrencyConflict
from eventstore.projection import Item, ProjectionRunner
from eventstore.provision import provision
from eventstore.store import MSG_ID, EventStore
from eventstore.topology import Topology
from tests.faults.conftest import assert_verified, snapshot, stream_last_seq

pytestmark = pytest.mark.timeout(60)


async def request(nc, topology, agency: str, command: str, body: dict) -> dict:
    # 40 at once may be more than the service takes in time: a busy one is sent again.
    msg = await request_patiently(nc, topology.command_subject(agency, command),
                                  json.dumps(body).encode(), timeout=10, patience=30)
    return dict(json.loads(msg.data))


async def test_two_agencies_closing_and_suspending_one_case_at_once_exactly_one_wins(
    toy, nc, topology, store
):
    cases = [f"race-{i}" for i in range(20)]
    for case in cases:
        assert (await request(nc, topology, "hq", "bench_open_case",
                              {"command_id": f"open-{case}", "case_id": case}))["ok"]
    before = await stream_last_seq(store)

    replies = await asyncio.gather(*[
        request(nc, topology, agency, command,
                {"command_id": f"{command}-{case}", "case_id": case, "reason": "会議で決定"})
        for case in cases
        for agency, command in (("city", "bench_close"), ("npo", "bench_suspend"))
    ])

    for i, case in enumerate(cases):
        close, suspend = replies[2 * i], replies[2 * i + 1]
        assert [close["ok"], suspend["ok"]].count(True) == 1, (case, close, suspend)
        loser = suspend if close["ok"] else close
        assert loser["error"]["code"] in {"case_not_open", "conflict"}
        history = await store.load("case", case)
        terminal = [e.type for e in history.envelopes if e.type in ("CaseClosed", "CaseSuspended")]
        assert len(terminal) == 1  # never both, never an overwrite
    assert await stream_last_seq(store) == before + len(cases)
    await assert_verified(nc, topology)


async def test_two_appends_expecting_the_same_sequence_store_only_one(store):
    # The kit's optimistic concurrency is the subject: appended directly.
    first = envelope("CaseOpened", "occ-1")
    await store.append([first], {("case", "occ-1"): 0})
    a, b = envelope("CaseClosed", "occ-1"), envelope("CaseSuspended", "occ-1")
    results = await asyncio.gather(
        store.append([a], {("case", "occ-1"): 1}),
        store.append([b], {("case", "occ-1"): 1}),
        return_exceptions=True,
    )
    assert sum(isinstance(r, list) for r in results) == 1
    assert sum(isinstance(r, ConcurrencyConflict) for r in results) == 1
    assert len((await store.load("case", "occ-1")).events) == 2


async def test_a_duplicate_publish_of_the_same_event_is_stored_and_projected_once(
    nc, topology, store, tmp_path
):
    env = envelope("CaseOpened", "dup-1")  # the stream's duplicate window is the subject
    js = nc.jetstream()
    subject = store.subject_of(env)
    acks = [await js.publish(subject, env.model_dump_json().encode(),
                             headers={MSG_ID: str(env.event_id)}) for _ in range(3)]
    assert [a.duplicate for a in acks] == [None, True, True]
    engine = make_engine(f"sqlite:///{tmp_path / 'p.sqlite'}")
    await ProjectionRunner(nc, topology, CaseBoard(), engine).rebuild()
    cases, _ = snapshot(engine)
    assert [(r[0], r[6]) for r in cases] == [("dup-1", 1)]
    engine.dispose()


async def test_redelivered_batches_have_no_second_effect(nc, topology, store, tmp_path):
    last = await load_stream(nc, topology, 500, tag="rd")
    engine = make_engine(f"sqlite:///{tmp_path / 'p.sqlite'}")
    runner = ProjectionRunner(nc, topology, CaseBoard(), engine)
    await runner.rebuild()
    once = snapshot(engine)
    stored = await store.read(topology.events_subjects)
    items = [Item(s.seq, store.subject_of(s.envelope), b"", s.envelope) for s in stored]
    # The whole stream again, then a random tail again, as a consumer would redeliver it.
    await runner.process(items)
    await runner.process(items[random.Random(7).randrange(len(items)):])
    assert snapshot(engine) == once
    assert runner.checkpoint == last
    engine.dispose()


async def test_projections_are_equal_whatever_the_interleaving_of_cases(nc, tmp_path):
    # The same per-case histories, stored in three different global orders (as when
    # agencies' commands arrive in any order across cases): the projection is the same.
    lives = {f"o{c}": [envelope(k, f"o{c}", i) for i, k in enumerate(
        ("CaseOpened", "MemberJoined", "MemberJoined", "LeadAgencyAssigned", "CaseClosed"))]
        for c in range(30)}
    snapshots = []
    for seed in (1, 2, 3):
        topo = Topology(f"il{seed}{random.Random().randrange(10**8)}")
        await provision(nc, topo)
        store = EventStore(nc, topo)
        cursors = dict.fromkeys(lives, 0)
        rng = random.Random(seed)
        while cursors:
            case = rng.choice(sorted(cursors))
            env = lives[case][cursors[case]]
            await store.append([env])  # a chosen global order: the runner is the subject
            cursors[case] += 1
            if cursors[case] == len(lives[case]):
                del cursors[case]
        engine = make_engine(f"sqlite:///{tmp_path / f'{seed}.sqlite'}")
        await ProjectionRunner(nc, topo, CaseBoard(), engine).rebuild()
        cases, members = snapshot(engine)
        engine.dispose()
        # last_seq differs by construction (it is the stream position); the state does not.
        snapshots.append(([r[:7] for r in cases], members))
    assert snapshots[0] == snapshots[1] == snapshots[2]
    assert Counter(r[1] for r in snapshots[0][0]) == {"closed": 30}


async def test_a_projection_that_fails_for_a_while_converges_to_the_clean_rebuild(
    nc, topology, store, tmp_path
):
    await load_stream(nc, topology, 300, tag="tf")
    flaky_board = CaseBoard()
    real_apply = flaky_board.apply
    failures = Counter[int]()

    def flaky(conn, env, ctx):
        if ctx.seq % 37 == 0 and failures[ctx.seq] < 2:  # fails twice, then works
            failures[ctx.seq] += 1
            raise RuntimeError("database hiccup")
        real_apply(conn, env, ctx)

    flaky_board.apply = flaky  # type: ignore[method-assign]
    from eventstore.projection import RunnerOptions

    engine = make_engine(f"sqlite:///{tmp_path / 'flaky.sqlite'}")
    runner = ProjectionRunner(nc, topology, flaky_board, engine,
                              options=RunnerOptions(backoff=(0.001,)))
    await runner.rebuild()
    clean_engine = make_engine(f"sqlite:///{tmp_path / 'clean.sqlite'}")
    await ProjectionRunner(nc, topology, CaseBoard(), clean_engine).rebuild()
    assert failures and runner.dead_lettered == 0
    assert snapshot(engine) == snapshot(clean_engine)
    engine.dispose()
    clean_engine.dispose()
