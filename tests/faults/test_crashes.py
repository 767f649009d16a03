"""Crashes: kill -9 a service mid-batch, kill -9 nats-server while commands are in flight.

The service is the kit-only stand-in (bench/toy.py) run as its own process; its
projection counts every event it applies per case, so an event applied twice or lost
shows up as a wrong count, not only as a missing row.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import nats
import pytest

from bench.events import CaseBoard
from bench.throughput import load_stream
from eventstore.db import make_engine
from eventstore.natsserver import NatsServer
from eventstore.projection import ProjectionRunner
from eventstore.provision import provision
from eventstore.store import EventStore
from eventstore.topology import Topology
from tests.faults.conftest import (
    ServiceProcess,
    assert_verified,
    checkpoint_of,
    snapshot,
    stream_last_seq,
)
from tests.helpers import register_agency

pytestmark = pytest.mark.timeout(90)


async def poll(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def clean_rebuild(nc, topology: Topology, path: Path) -> tuple[list, list]:
    engine = make_engine(f"sqlite:///{path}")
    try:
        await ProjectionRunner(nc, topology, CaseBoard(), engine).rebuild()
        return snapshot(engine)
    finally:
        engine.dispose()


async def test_a_service_killed_mid_batch_ends_identical_to_a_clean_rebuild(
    nc, topology, service_process, tmp_path
):
    first = await load_stream(nc, topology, 30_000, tag="k")
    db = service_process.db_url

    # 1. Killed while catching up (ordered consumer, batches of up to 2,000).
    service_process.start()
    await poll(lambda: checkpoint_of(db) > 0, 30, "the first commit")
    service_process.kill9()
    killed_at = checkpoint_of(db)
    assert 0 < killed_at < first, "the kill must land in the middle of the backlog"

    service_process.start()
    await poll(lambda: checkpoint_of(db) >= first, 60, "catch-up after the restart")

    # 2. Killed while consuming live (durable pull consumer) new events.
    second = await load_stream(nc, topology, 5_000, tag="l")
    await poll(lambda: checkpoint_of(db) > first, 30, "live consumption")
    service_process.kill9()
    service_process.start()
    await poll(lambda: checkpoint_of(db) >= second, 60, "live consumption after the restart")
    service_process.stop()

    engine = make_engine(db)
    try:
        recovered = snapshot(engine)
    finally:
        engine.dispose()
    clean = await clean_rebuild(nc, topology, tmp_path / "clean.sqlite")
    assert recovered == clean
    cases, _ = recovered
    assert sum(row[6] for row in cases) == 35_000  # every event applied exactly once


async def send(nc, topology: Topology, command: str, body: dict, timeout: float) -> dict:
    msg = await nc.request(topology.command_subject("hq", command), json.dumps(body).encode(),
                           timeout=timeout)
    return dict(json.loads(msg.data))


async def test_killing_nats_mid_commands_loses_no_acknowledged_command_and_retries_are_safe(
    tmp_path,
):
    server = NatsServer(store_dir=tmp_path / "nats")
    server.start()
    service: ServiceProcess | None = None
    nc = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
    try:
        topology = Topology(f"k{uuid.uuid4().hex[:10]}")
        await provision(nc, topology)
        store = EventStore(nc, topology)
        await register_agency(store, "hq")
        service = ServiceProcess(server.url, topology.prefix, tmp_path / "svc")
        service.start()

        async def ready() -> None:
            while True:
                with contextlib.suppress(Exception):
                    reply = await send(nc, topology, "bench_open_case",
                                       {"command_id": "warm", "case_id": "warm"}, 1)
                    if reply.get("ok"):
                        return
                await asyncio.sleep(0.1)

        await asyncio.wait_for(ready(), 30)

        n = 400
        replies: dict[int, dict | None] = {}

        def body(i: int) -> dict:
            return {"command_id": f"cmd-{i}", "case_id": f"case-{i}"}

        async def one(i: int) -> None:
            try:
                replies[i] = await send(nc, topology, "bench_open_case", body(i), 1)
            except Exception:  # no reply: timeout, no responders, connection lost
                replies[i] = None

        tasks = []
        for i in range(n):
            if i == 150:
                server.kill()  # SIGKILL with requests in flight
            if i == 300:
                await asyncio.to_thread(server.start)  # same port, same store
            tasks.append(asyncio.create_task(one(i)))
            await asyncio.sleep(0.004)
        await asyncio.gather(*tasks)

        acknowledged = {i for i, r in replies.items() if r and r.get("ok")}
        unanswered = sorted(set(range(n)) - acknowledged)
        assert unanswered, "the kill should have left some commands without a reply"
        assert len(acknowledged) > 100

        # Every unanswered command is retried with the same command id until it succeeds.
        replayed = 0
        for i in unanswered:
            for _attempt in range(40):
                with contextlib.suppress(Exception):
                    reply = await send(nc, topology, "bench_open_case", body(i), 2)
                    if reply.get("ok"):
                        replayed += bool(reply["replayed"])
                        break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"cmd-{i} never succeeded on retry")

        # The stream: exactly one CaseOpened per command, caused by that command.
        stored = await store.read(f"{topology.prefix}.events.case.>")
        per_case = Counter(s.envelope.aggregate_id for s in stored)
        causes = {s.envelope.aggregate_id: s.envelope.causation_id for s in stored}
        for i in range(n):
            assert per_case[f"case-{i}"] == 1, f"case-{i}: {per_case[f'case-{i}']} events"
            assert causes[f"case-{i}"] == f"cmd-{i}"
        await assert_verified(nc, topology)

        # The projection: every command, once.
        last = await stream_last_seq(store)
        await poll(lambda: checkpoint_of(service.db_url) >= last, 60, "the projection")
        engine = make_engine(service.db_url)
        try:
            cases, _ = snapshot(engine)
        finally:
            engine.dispose()
        by_id = {row[0]: row for row in cases}
        assert all(by_id[f"case-{i}"][6] == 1 for i in range(n))
        assert len(by_id) == n + 1  # and the warm-up case
        print(f"\nnats kill: {len(acknowledged)} acknowledged, {len(unanswered)} retried "
              f"({replayed} had been stored before the crash), 0 lost, 0 duplicated")
    finally:
        if service:
            service.stop()
        with contextlib.suppress(Exception):
            await nc.close()
        server.stop()
