"""Raw nats-py JetStream (the machine's limit) side by side with Tsunagu's paths.

Publish: ``js.publish`` awaiting each ack, vs ``EventStore.append`` (Msg-Id + per-aggregate
expected-sequence headers, encoding the envelope), sequentially and with 256 concurrent
writers over many aggregates. Consume: a raw durable pull consumer vs the
``ProjectionRunner`` with the ``CaseBoard`` projection, catching up (batched no-ack reads) and
live (durable pull).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import Connection, MetaData

from bench.events import LIFE, CaseBoard, envelope, stream_of
from bench.harness import Bench, Timer, connected
from contracts.envelope import Envelope
from eventstore.db import make_engine
from eventstore.projection import ApplyContext, ProjectionRunner, RunnerOptions
from eventstore.store import EXPECTED_SUBJECT_SEQ, EXPECTED_SUBJECT_SEQ_SUBJECT, MSG_ID, EventStore
from eventstore.topology import Topology

CONCURRENCY = 256


async def _gather_workers(n_workers: int, work: list, fn) -> None:
    """Split ``work`` into per-worker lists (keeping order inside each) and run them."""
    chunks = [work[i::n_workers] for i in range(n_workers)]

    async def run(chunk: list) -> None:
        for item in chunk:
            await fn(item)

    await asyncio.gather(*(run(c) for c in chunks if c))


async def raw_publish(nc: Client, topo: Topology, n: int, concurrency: int,
                      headers: bool = False, tag: str = "r") -> float:
    js = nc.jetstream(timeout=10)
    msgs = list(stream_of(topo, n, tag=tag))
    last: dict[str, int] = {}

    async def pub(m: tuple[str, bytes, str]) -> None:
        subject, body, uid = m
        hdrs = None
        if headers:
            case_filter = subject.rsplit(".", 1)[0] + ".*"
            hdrs = {MSG_ID: uid, EXPECTED_SUBJECT_SEQ: str(last.get(case_filter, 0)),
                    EXPECTED_SUBJECT_SEQ_SUBJECT: case_filter}
        ack = await js.publish(subject, body, headers=hdrs)
        if headers:
            last[case_filter] = ack.seq

    with Timer() as t:
        if concurrency == 1:
            for m in msgs:
                await pub(m)
        else:
            # Per case order is kept: one worker owns each case (messages are round-robin
            # over cases, so slicing by case index keeps every case in one chunk).
            by_case: dict[str, list] = {}
            for m in msgs:
                by_case.setdefault(m[0].split(".")[-2], []).append(m)
            cases = list(by_case.values())

            async def run_case(ms: list) -> None:
                for m in ms:
                    await pub(m)

            await _gather_workers(concurrency, cases, run_case)
    return n / t.seconds


def _lives(n: int, tag: str) -> list[list[Envelope]]:
    """``n`` envelopes grouped by case, each case's life in order."""
    cases = max(1, n // len(LIFE))
    out = [[envelope(kind, f"{tag}{c:07d}", i) for i, kind in enumerate(LIFE)]
           for c in range(cases)]
    return out


async def append_path(store: EventStore, n: int, concurrency: int, tag: str) -> float:
    lives = _lives(n, tag)
    total = sum(len(x) for x in lives)

    async def run_case(life: list[Envelope]) -> None:
        last = 0
        for env in life:
            # Direct on purpose: this measures the kit's append path itself.
            (last,) = await store.append([env], {("case", env.aggregate_id): last})

    with Timer() as t:
        if concurrency == 1:
            for life in lives:
                await run_case(life)
        else:
            await _gather_workers(concurrency, lives, run_case)
    return total / t.seconds


async def append_batches(store: EventStore, n: int, concurrency: int) -> float:
    """Two-event atomic batches on two aggregates (like triage: referral + new case)."""
    pairs = [(envelope("CaseOpened", f"x{i:07d}"), envelope("CaseOpened", f"y{i:07d}"))
             for i in range(n // 2)]

    async def run(pair: tuple[Envelope, Envelope]) -> None:
        a, b = pair
        # Direct on purpose: this measures the kit's atomic batches themselves.
        await store.append([a, b], {("case", a.aggregate_id): 0, ("case", b.aggregate_id): 0})

    with Timer() as t:
        await _gather_workers(concurrency, pairs, run)
    return 2 * len(pairs) / t.seconds


async def load_stream(nc: Client, topo: Topology, n: int, tag: str = "c",
                      window: int = 4000) -> int:
    """Fill the event stream fast (publish_async, Msg-Id on every message)."""
    js = nc.jetstream(timeout=30)
    futures = []
    for subject, body, uid in stream_of(topo, n, tag=tag):
        futures.append(await js.publish_async(subject, body, headers={MSG_ID: uid}))
        if len(futures) >= window:
            await asyncio.gather(*futures)
            futures.clear()
    await asyncio.gather(*futures)
    info = await js.stream_info(topo.events_stream)
    return int(info.state.last_seq)


async def raw_pull(nc: Client, topo: Topology, n: int, batch: int, ack_all: bool) -> float:
    js = nc.jetstream(timeout=10)
    durable = f"RAW{batch}{'ALL' if ack_all else 'EXP'}{int(time.time() * 1000) % 10**6}"
    await js.add_consumer(topo.events_stream, ConsumerConfig(
        durable_name=durable, deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.ALL if ack_all else AckPolicy.EXPLICIT,
        max_ack_pending=batch * 4, filter_subject=topo.events_subjects,
    ))
    psub = await js.pull_subscribe_bind(durable=durable, stream=topo.events_stream)
    got = 0
    with Timer() as t:
        while got < n:
            msgs = await psub.fetch(batch, timeout=5)
            got += len(msgs)
            if ack_all:
                await msgs[-1].ack()
            else:
                for m in msgs:
                    await m.ack()
    await psub.unsubscribe()
    await js.delete_consumer(topo.events_stream, durable)
    return got / t.seconds


class NullProjection:
    """Applies nothing: the runner's own cost (fetch, decode, checkpoint, ack)."""

    aggregates: tuple[str, ...] | None = ("case",)
    needs_personal = False

    def __init__(self) -> None:
        self.name = "benchnull"
        self.metadata = MetaData()

    def apply(self, conn: Connection, env: Envelope, ctx: ApplyContext) -> None:
        return None


async def projection_catch_up(nc: Client, topo: Topology, db_url: str,
                              null: bool = False) -> float:
    engine = make_engine(db_url)
    projection = NullProjection() if null else CaseBoard()
    runner = ProjectionRunner(nc, topo, projection, engine)
    try:
        return await runner.rebuild()
    finally:
        engine.dispose()


async def projection_live(nc: Client, topo: Topology, db_url: str, last: int) -> float:
    """Durable pull path: the catch-up shortcut is switched off, so a backlog is read by
    the live consumer (fetch batch 500, AckAll after each commit)."""
    engine = make_engine(db_url)
    runner = ProjectionRunner(nc, topo, CaseBoard(), engine,
                              options=RunnerOptions(catchup_threshold=10**12))
    try:
        with Timer() as t:
            await runner.start()
            await runner.wait_for(last, timeout=600)
        return last / t.seconds
    finally:
        await runner.stop()
        engine.dispose()


async def run(bench: Bench) -> None:
    n_seq = 500 if bench.quick else 10_000
    n = 3_000 if bench.quick else 50_000
    n_batch = 50 if bench.quick else 1_000
    async with connected(bench) as nc:
        # ---- publish ------------------------------------------------------------------
        topo = await bench.topology(nc, "pub")
        store = EventStore(nc, topo, timeout=10)
        rows = [
            ("raw js.publish, await each ack (sequential)",
             raw_publish(nc, topo, n_seq, 1, tag="s")),
            ("Tsunagu append, sequential (Msg-Id + expected seq)",
             append_path(store, n_seq, 1, "q")),
            (f"raw js.publish, {CONCURRENCY} concurrent", raw_publish(nc, topo, n, CONCURRENCY)),
            (f"raw js.publish + Msg-Id + OCC headers, {CONCURRENCY} concurrent",
             raw_publish(nc, topo, n, CONCURRENCY, headers=True, tag="h")),
            (f"Tsunagu append, {CONCURRENCY} concurrent over {n // len(LIFE):,} cases",
             append_path(store, n, CONCURRENCY, "a")),
            # Atomic batches commit at only ~40-70/s here (server side), so fewer of them.
            (f"Tsunagu append, 2-event atomic batches, {n_batch:,} batches, 16 concurrent",
             append_batches(store, 2 * n_batch, 16)),
        ]
        rates: dict[str, float] = {}
        for name, coro in rows:
            rates[name] = await coro
            bench.add("publish", name, rates[name], "ev/s")
        names = [r[0] for r in rows]
        bench.add("publish", "ratio append/raw, sequential", rates[names[1]] / rates[names[0]],
                  "x", "target ≥ 0.70")
        bench.add("publish", "ratio append/raw, concurrent", rates[names[4]] / rates[names[2]],
                  "x", "target ≥ 0.70")

        # ---- consume ------------------------------------------------------------------
        topo = await bench.topology(nc, "con")
        last = await load_stream(nc, topo, n)
        raw = {}
        for batch, ack_all in ((100, False), (500, False), (500, True)):
            label = f"raw pull fetch({batch}), {'AckAll, ack last' if ack_all else 'ack each'}"
            raw[(batch, ack_all)] = await raw_pull(nc, topo, last, batch, ack_all)
            bench.add("consume", label, raw[(batch, ack_all)], "ev/s")
        db = bench.workdir / "proj"
        db.mkdir(exist_ok=True)
        null = await projection_catch_up(nc, topo, _sqlite(db / "null.sqlite"), null=True)
        bench.add("consume", "runner catch-up (batched reads), no-op projection", null, "ev/s")
        catch = await projection_catch_up(nc, topo, _sqlite(db / "catch.sqlite"))
        bench.add("consume", "runner catch-up (batched reads), CaseBoard, SQLite",
                  catch, "ev/s", "target ≥ 20,000")
        live = await projection_live(nc, topo, _sqlite(db / "live.sqlite"), last)
        bench.add("consume", "runner live (durable pull 500, AckAll), CaseBoard, SQLite",
                  live, "ev/s")
        best_raw = raw[(500, True)]
        bench.add("consume", "ratio live runner / raw pull fetch(500) AckAll",
                  live / best_raw, "x")
        bench.add("consume", "ratio catch-up runner / raw pull fetch(500) AckAll",
                  catch / best_raw, "x")
        with contextlib.suppress(Exception):
            await nc.jetstream().delete_stream(topo.events_stream)


def _sqlite(path: Path) -> str:
    return f"sqlite:///{path}"
