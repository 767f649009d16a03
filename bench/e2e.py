"""End to end: command → event → every projection committed, at a fixed offered load.

The service runs as its own process (``python -m bench.serve``); this process is the
load generator. Load is open-loop: command i is sent at t0 + i/rate whatever happened to
earlier ones, so a slow system shows up as latency instead of silently lowering the load.
Latency = from sending the command to the last projection commit of its events (reported
by the probe); the reply latency is reported beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import statistics
import subprocess
import time
from dataclasses import dataclass, field

import psutil
from nats.aio.client import Client
from nats.aio.msg import Msg

from bench.events import DAY
from bench.harness import Bench, connected
from bench.serve import committed_subject
from contracts.base import Actor
from contracts.directory import AgencyRegistered
from eventstore.codec import new_envelope
from eventstore.store import EventStore
from eventstore.topology import Topology

AGENCY = "bench-hq"


@dataclass
class Run:
    sent: dict[str, float] = field(default_factory=dict)
    replied: dict[str, tuple[float, bool, str]] = field(default_factory=dict)
    committed: dict[str, dict[str, float]] = field(default_factory=dict)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def command_for(i: int, tag: str) -> tuple[str, dict]:
    """Three in five commands open a case; two add a member to a case opened ~200 earlier."""
    cid = f"{tag}-{i}"
    k = (i // 5) * 5 - 200
    if i % 5 < 3 or k < 0:
        return "bench_open_case", {"command_id": cid, "case_id": f"{tag}-case-{i}"}
    return "bench_join", {"command_id": cid, "case_id": f"{tag}-case-{k}", "agency_id": f"ag{i}"}


async def register(store: EventStore, agency_id: str) -> None:
    event = AgencyRegistered(agency_id=agency_id, name=agency_id, category="社会福祉協議会",
                             verified_at=DAY, can_triage=True)
    await store.append([new_envelope(event, Actor(agency_id="operator"))])


async def offered_load(nc: Client, topo: Topology, run: Run, rate: int, seconds: float,
                       tag: str) -> tuple[float, float]:
    total = int(rate * seconds)

    async def one(i: int) -> None:
        name, body = command_for(i, tag)
        cid = body["command_id"]
        run.sent[cid] = time.perf_counter()
        try:
            msg = await nc.request(topo.command_subject(AGENCY, name), json.dumps(body).encode(),
                                   timeout=10)
            reply = json.loads(msg.data)
            code = "" if reply.get("ok") else reply["error"]["code"]
            run.replied[cid] = (time.perf_counter(), bool(reply.get("ok")), code)
        except Exception as exc:  # a timeout is a result here, not a crash of the bench
            run.replied[cid] = (time.perf_counter(), False, type(exc).__name__)

    tasks = []
    t0 = time.perf_counter()
    for i in range(total):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    send_end = time.perf_counter()
    await asyncio.gather(*tasks)
    return t0, send_end


async def run(bench: Bench, services: list[str] | None = None,
              rates: tuple[int, ...] = (500,)) -> None:
    services = services or ["benchcase"]
    seconds = 2.0 if bench.quick else 20.0
    async with connected(bench) as nc:
        topo = await bench.topology(nc, "e2e")
        await register(EventStore(nc, topo), AGENCY)
        ready: dict[str, list[str]] = {}
        runs: dict[str, Run] = {}
        current: list[Run] = []

        async def on_ready(msg: Msg) -> None:
            doc = json.loads(msg.data)
            ready[doc["service"]] = doc["projections"]

        async def on_commit(msg: Msg) -> None:
            now = time.perf_counter()
            doc = json.loads(msg.data)
            if current:
                for c in doc["c"]:
                    current[0].committed.setdefault(c, {}).setdefault(doc["p"], now)

        await nc.subscribe(f"{topo.prefix}.bench.ready.*", cb=on_ready)
        await nc.subscribe(committed_subject(topo.prefix), cb=on_commit)
        procs: dict[str, subprocess.Popen[bytes]] = {}
        try:
            for name in services:
                procs[name] = bench.spawn(
                    f"service {name}",
                    ["-m", "bench.serve", name, "--nats-url", bench.server.url,
                     "--prefix", topo.prefix, "--data-dir", str(bench.workdir / f"svc-{name}")],
                    f"service-{name}.log",
                )
            deadline = time.monotonic() + 60
            while set(ready) != set(services):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"services not ready: {set(services) - set(ready)}")
                await asyncio.sleep(0.05)
            projections = sorted(p for ps in ready.values() for p in ps)

            # Warm up (imports, caches, consumers) before measuring.
            warm = Run()
            current[:] = [warm]
            await offered_load(nc, topo, warm, 100, 1.0, "warm")
            await asyncio.sleep(1.0)

            for rate in rates:
                r = runs[str(rate)] = Run()
                current[:] = [r]
                watched = {lbl: psutil.Process(p.pid) for lbl, p in procs.items()}
                assert bench.server.proc is not None
                watched["nats-server"] = psutil.Process(bench.server.proc.pid)
                watched["load generator"] = psutil.Process()
                cpu0 = {k: sum(p.cpu_times()[:2]) for k, p in watched.items()}
                t0, _send_end = await offered_load(nc, topo, r, rate, seconds, f"r{rate}")
                ok = [c for c, (_, good, _) in r.replied.items() if good]
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and any(  # noqa: ASYNC110 (polling a dict)
                    len(r.committed.get(c, {})) < len(projections) for c in ok
                ):
                    await asyncio.sleep(0.05)
                wall = time.perf_counter() - t0
                cpu = {k: 100 * (sum(p.cpu_times()[:2]) - cpu0[k]) / wall
                       for k, p in watched.items()}
                _report(bench, r, rate, seconds, projections, t0, cpu)
        finally:
            for name, proc in procs.items():
                _stop(proc)
                bench.add("memory", f"service {name} peak RSS (e2e)",
                          bench.rss.peak_mib(f"service {name}"), "MiB", "target < 150")
                bench.rss.unwatch(f"service {name}")
            with contextlib.suppress(Exception):
                await nc.jetstream().delete_stream(topo.events_stream)


def _report(bench: Bench, r: Run, rate: int, seconds: float, projections: list[str],
            t0: float, cpu: dict[str, float]) -> None:
    ok = [c for c, (_, good, _) in r.replied.items() if good]
    errors: dict[str, int] = {}
    for _, good, code in r.replied.values():
        if not good:
            errors[code] = errors.get(code, 0) + 1
    complete = [c for c in ok if len(r.committed.get(c, {})) >= len(projections)]
    e2e = [(max(r.committed[c].values()) - r.sent[c]) * 1000 for c in complete]
    reply = [(r.replied[c][0] - r.sent[c]) * 1000 for c in ok]
    last_commit = max((max(v.values()) for v in r.committed.values()), default=t0)
    throughput = len(complete) / max(last_commit - t0, 1e-9)
    sec = f"e2e@{rate}/s"
    bench.add(sec, f"offered {rate}/s for {seconds:.0f} s: commands ok / sent",
              len(ok), "cmds", f"of {len(r.sent)}; errors {errors or 'none'}")
    bench.add(sec, "sustained throughput (all projections committed)", throughput, "cmd/s")
    bench.add(sec, "command → all projections committed, p50", statistics.median(e2e)
              if e2e else float("nan"), "ms")
    bench.add(sec, "command → all projections committed, p99", pct(e2e, 99), "ms",
              "target < 50")
    bench.add(sec, "command → all projections committed, max", max(e2e, default=float("nan")),
              "ms")
    bench.add(sec, "command → reply, p50 / p99",
              statistics.median(reply) if reply else float("nan"), "ms",
              f"p99 {pct(reply, 99):.1f} ms")
    bench.add(sec, "commits seen for ok commands", len(complete), "cmds",
              f"of {len(ok)} ({', '.join(projections)})")
    bench.add(sec, "CPU % (100 = one core)", cpu.get("nats-server", 0), "%",
              "; ".join(f"{k} {v:.0f}%" for k, v in cpu.items()))


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
