"""End to end: command → event → every projection committed, at a fixed offered load.

The four real services run as their own processes (``python -m bench.serve <service>``:
the wiring of ``tsunagu run <service>``, plus a probe that publishes, after each projection
commit, which commands' events it contained). The directory of the demo world is seeded,
then this process, the load generator, sends the real command mix (``bench/mix.py``:
persons going through the program, meetings convened for them) open-loop: tick i is at
t0 + i/rate whatever happened to earlier commands, and at each tick one due step of some
flow is sent. A warm-up at the same rate comes first (caches, consumers, and the flows
reach every stage), then the measured window.

Per command: command → reply, and command → the last commit of its events by every
projection that reads them (which projections read an event follows from their
``aggregates`` filters, reported by the probe; reactors are not projections). For meeting
decisions that change the case, decision → the reactor's case events committed everywhere
is reported too. ``--stand-in`` drives the kit-only stand-in service (bench/toy.py) instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import psutil
from nats.aio.client import Client
from nats.aio.msg import Msg

from bench.events import DAY
from bench.harness import Bench, RssMonitor, connected
from bench.mix import FlowFailed, Step, World
from bench.serve import committed_subject
from contracts.catalog import event_types
from contracts.directory import AgencyRegistered
from eventstore.commands import request_patiently
from eventstore.store import EventStore
from eventstore.topology import Topology
from services.referral.directory_import import import_directory
from tsunagu.ops.demo_story import directory_csv
from tsunagu.ops.demo_world import AGENCIES
from tsunagu.ops.verify import verify_stream

SERVICES = ("referral", "casefile", "meeting", "stats")
STAND_IN_AGENCY = "bench-hq"
REPLY_TIMEOUT = 10.0
#: Persons in progress at once, in seconds of load (200 at 500/s): each person's next step
#: comes about this long after the last one, whatever the rate, so the warm-up brings the
#: flows to every stage. More start when no step of theirs is due (open loop).
POOL_SECONDS = 0.4
MUST_BE_ZERO = ("DecisionNotApplied", "dead letters", "forbidden events (tsunagu verify)")
#: The last run's stored events by type (reported with "events in stream").
EVENT_TYPES: dict[str, int] = {}


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


@dataclass
class Run:
    """What one measured window saw. ``committed`` holds every causation the probe reported
    (warm-up and reactions too): causation → projection → first commit time."""

    sent: dict[str, float] = field(default_factory=dict)
    replied: dict[str, tuple[float, bool, str]] = field(default_factory=dict)
    label: dict[str, str] = field(default_factory=dict)
    expect: dict[str, frozenset[str]] = field(default_factory=dict)
    committed: dict[str, dict[str, float]] = field(default_factory=dict)
    waiters: dict[str, list[asyncio.Future[None]]] = field(default_factory=dict)
    samples: dict[str, str] = field(default_factory=dict)  # error code -> one message
    starved: int = 0
    t0: float = 0.0  # start of the measured window
    late: list[float] = field(default_factory=list)  # how late each measured tick was sent


class Probe:
    """Listens to the services' probes: which projections exist, what each reads, and
    which commands' events each has committed."""

    def __init__(self, nc: Client, prefix: str) -> None:
        self.nc, self.prefix = nc, prefix
        self.ready: dict[str, dict[str, Any]] = {}
        self.run = Run()
        self._types = {name: cls.aggregate for name, cls in event_types().items()}
        self._readers: dict[str, frozenset[str]] = {}

    async def start(self) -> None:
        await self.nc.subscribe(f"{self.prefix}.bench.ready.*", cb=self._on_ready)
        await self.nc.subscribe(committed_subject(self.prefix), cb=self._on_commit)

    async def _on_ready(self, msg: Msg) -> None:
        doc = json.loads(msg.data)
        self.ready[doc["service"]] = doc
        self._readers.clear()

    async def _on_commit(self, msg: Msg) -> None:
        now = time.perf_counter()
        doc = json.loads(msg.data)
        committed, waiters = self.run.committed, self.run.waiters
        for c in doc["c"]:
            seen = committed.setdefault(c, {})
            seen.setdefault(doc["p"], now)
            for fut in waiters.pop(c, ()):
                if not fut.done():
                    fut.set_result(None)

    @property
    def projections(self) -> dict[str, list[str] | None]:
        """Projection name → aggregates it reads (None: every event)."""
        out: dict[str, list[str] | None] = {}
        for doc in self.ready.values():
            aggregates = doc.get("aggregates") or {}
            for name in doc["projections"]:
                out[name] = aggregates.get(name)
        return out

    def readers(self, event_type: str) -> frozenset[str]:
        aggregate = self._types.get(event_type, "")
        if aggregate not in self._readers:
            self._readers[aggregate] = frozenset(
                p for p, aggs in self.projections.items() if aggs is None or aggregate in aggs
            )
        return self._readers[aggregate]

    async def committed(self, cause: str, timeout: float = 30.0) -> None:
        """Wait until some projection committed events caused by ``cause`` (they are in
        the stream, then: a flow may go on)."""
        if cause in self.run.committed:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.run.waiters.setdefault(cause, []).append(fut)
        try:
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise FlowFailed(f"reaction {cause} not committed in {timeout:.0f} s") from None


# ----- the stand-in service's load (bench/toy.py) -----------------------------------------
class StandIn:
    """Three in five commands open a case; two add a member to a case opened ~200 earlier."""

    def __init__(self, tag: str) -> None:
        self.tag, self.i = tag, 0

    def take(self) -> Step:
        i, self.i = self.i, self.i + 1
        cid = f"{self.tag}-{i}"
        k = (i // 5) * 5 - 200
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        if i % 5 < 3 or k < 0:
            return Step(STAND_IN_AGENCY, "bench_open_case",
                        {"command_id": cid, "case_id": f"{self.tag}-case-{i}"},
                        "bench_open_case", fut)
        return Step(STAND_IN_AGENCY, "bench_join",
                    {"command_id": cid, "case_id": f"{self.tag}-case-{k}", "agency_id": f"ag{i}"},
                    "bench_join", fut)


# ----- driving ------------------------------------------------------------------------------
async def drive(nc: Client, topo: Topology, probe: Probe, take: Callable[[], Step | None],
                rate: int, warmup: float, seconds: float,
                on_measure: Callable[[], None]) -> None:
    """Open loop: tick i at t0 + i/rate; each tick sends one due step. Replies resolve the
    step's future, so its flow can go on."""
    run = probe.run
    total = round(rate * (warmup + seconds))
    first = round(rate * warmup)
    tasks: set[asyncio.Task[None]] = set()

    async def send(step: Step, measured: bool) -> None:
        cid = step.body["command_id"]
        data = json.dumps(step.body, ensure_ascii=False).encode()
        sent = time.perf_counter()
        try:
            # As an agency system following docs/INTEGRATING.md: the deadline header, and a
            # busy reply waited out as told; the latency counts from the first send.
            msg = await request_patiently(nc, topo.command_subject(step.agency, step.command),
                                          data, timeout=REPLY_TIMEOUT, patience=REPLY_TIMEOUT)
            reply = json.loads(msg.data)
        except Exception as exc:  # a timeout is a result here, not a crash of the bench
            reply = {"ok": False, "error": {"code": type(exc).__name__, "message": repr(exc)}}
        now = time.perf_counter()
        if measured:
            ok = bool(reply.get("ok"))
            code = "" if ok else str(reply.get("error", {}).get("code"))
            run.sent[cid], run.replied[cid], run.label[cid] = sent, (now, ok, code), step.label
            if ok:
                run.expect[cid] = frozenset().union(
                    *(probe.readers(e["type"]) for e in reply.get("events", []))
                )
            else:
                run.samples.setdefault(
                    code, f"{step.label}: {reply.get('error', {}).get('message', '')}"[:300]
                )
        if not step.future.done():
            step.future.set_result(reply)

    t0 = time.perf_counter()
    for i in range(total):
        delay = t0 + i / rate - time.perf_counter()
        # Always yield: flows whose replies came in park their next step meanwhile.
        await asyncio.sleep(max(delay, 0))
        if i == first:
            run.t0 = time.perf_counter()
            on_measure()
        if i >= first:
            run.late.append(time.perf_counter() - t0 - i / rate)
        step = take()
        if step is None:
            if i >= first:
                run.starved += 1
            continue
        task = asyncio.create_task(send(step, i >= first))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)


async def seed_directory(store: EventStore, stand_in: bool) -> None:
    """The agencies, through the directory import (the operators' door for them)."""
    rows = ([(STAND_IN_AGENCY, STAND_IN_AGENCY, "社会福祉協議会", True)] if stand_in
            else AGENCIES)
    raw = directory_csv([AgencyRegistered(agency_id=agency_id, name=name, category=category,
                                          verified_at=DAY, can_triage=triage)
                         for agency_id, name, category, triage in rows])
    result = await import_directory(store.nc, store.topology, "bench-directory.csv", raw,
                                    today=date.today(), operator="bench")
    if not result.ok:
        raise RuntimeError("the bench directory was refused: " + "; ".join(result.errors))


async def run(bench: Bench, rates: tuple[int, ...] = (500,), stand_in: bool = False,
              seconds: float | None = None, warmup: float | None = None) -> None:
    services = ["benchcase"] if stand_in else list(SERVICES)
    seconds = seconds or (4.0 if bench.quick else 20.0)
    warmup = warmup if warmup is not None else (2.0 if bench.quick else 8.0)
    section = "e2e stand-in" if stand_in else "e2e"
    async with connected(bench) as nc:
        topo = await bench.topology(nc, "e2e")
        store = EventStore(nc, topo)
        await seed_directory(store, stand_in)
        probe = Probe(nc, topo.prefix)
        await probe.start()
        procs: dict[str, subprocess.Popen[bytes]] = {}
        rss = RssMonitor()
        try:
            for name in services:
                procs[name] = bench.spawn(
                    f"service {name}",
                    ["-m", "bench.serve", name, "--nats-url", bench.server.url,
                     "--prefix", topo.prefix, "--data-dir", str(bench.workdir / f"svc-{name}")],
                    f"service-{name}.log",
                )
            deadline = time.monotonic() + 120
            while set(probe.ready) != set(services):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"services not ready: {set(services) - set(probe.ready)}")
                for name, proc in procs.items():
                    if proc.poll() is not None:
                        raise RuntimeError(f"service {name} exited ({proc.returncode}); see "
                                           f"{bench.workdir / f'service-{name}.log'}")
                await asyncio.sleep(0.05)
            watched = {f"service {n}": psutil.Process(p.pid) for n, p in procs.items()}
            assert bench.server.proc is not None
            watched["nats-server"] = psutil.Process(bench.server.proc.pid)
            watched["load generator"] = psutil.Process()
            for label, ps in watched.items():
                rss.watch(label, ps.pid)
            rss.start()
            for rate in rates:
                probe.run = Run()
                world = None if stand_in else World(
                    f"r{rate}", pool=max(10, round(rate * POOL_SECONDS)),
                    reaction=probe.committed)
                take: Callable[[], Step | None]
                if world is None:
                    take = StandIn(f"r{rate}").take
                else:
                    world.start()
                    take = world.take
                cpu0: dict[str, float] = {}

                def snapshot(cpu0: dict[str, float] = cpu0) -> None:
                    cpu0.update({k: sum(p.cpu_times()[:2]) for k, p in watched.items()})

                await drive(nc, topo, probe, take, rate, warmup, seconds, snapshot)
                r = probe.run
                ok = [c for c, (_, good, _) in r.replied.items() if good]
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and any(  # noqa: ASYNC110 (polling a dict)
                    not r.expect[c] <= r.committed.get(c, {}).keys() for c in ok
                ):
                    await asyncio.sleep(0.05)
                wall = time.perf_counter() - r.t0
                cpu = {k: 100 * (sum(p.cpu_times()[:2]) - cpu0[k]) / wall
                       for k, p in watched.items()}
                if world is not None:
                    await world.stop()
                    await asyncio.sleep(1.0)  # reactions of the last decisions
                extra = await _health(nc, topo) if world is not None else {}
                _report(bench, section, r, rate, seconds, probe, cpu, world, extra)
        finally:
            rss.stop()
            for name, proc in procs.items():
                _stop(proc)
                bench.rss.unwatch(f"service {name}")
            for label in ("service " + n for n in services):
                bench.add("memory", f"{label} peak RSS (e2e)", rss.peak_mib(label), "MiB",
                          "target < 150")
            bench.add("memory", "nats-server peak RSS during e2e", rss.peak_mib("nats-server"),
                      "MiB")
            bench.add("memory", "load generator peak RSS (e2e)",
                      rss.peak_mib("load generator"), "MiB")
            with contextlib.suppress(Exception):
                await nc.jetstream().delete_stream(topo.events_stream)


async def _health(nc: Client, topo: Topology) -> dict[str, float]:
    """Things that must be zero: decisions the casefile could not apply, dead letters."""
    out: dict[str, float] = {}
    js = nc.jetstream()
    with contextlib.suppress(Exception):
        body = json.dumps({"subjects_filter": f"{topo.prefix}.events.case.*.DecisionNotApplied"})
        msg = await nc.request(f"$JS.API.STREAM.INFO.{topo.events_stream}", body.encode(),
                               timeout=5)
        subjects = (json.loads(msg.data).get("state", {}).get("subjects") or {})
        out["DecisionNotApplied"] = sum(subjects.values())
    with contextlib.suppress(Exception):
        out["dead letters"] = (await js.stream_info(topo.dlq_stream)).state.messages
    with contextlib.suppress(Exception):  # history no decider would accept
        out["forbidden events (tsunagu verify)"] = len((await verify_stream(nc, topo)).findings)
    with contextlib.suppress(Exception):
        out["events in stream"] = (await js.stream_info(topo.events_stream)).state.messages
    with contextlib.suppress(Exception):  # events by type (extra in the JSON)
        body = json.dumps({"subjects_filter": f"{topo.prefix}.events.>"})
        msg = await nc.request(f"$JS.API.STREAM.INFO.{topo.events_stream}", body.encode(),
                               timeout=10)
        by_type: dict[str, int] = {}
        for subject, n in (json.loads(msg.data).get("state", {}).get("subjects") or {}).items():
            by_type[subject.rsplit(".", 1)[-1]] = by_type.get(subject.rsplit(".", 1)[-1], 0) + n
        EVENT_TYPES.clear()
        EVENT_TYPES.update(sorted(by_type.items(), key=lambda kv: -kv[1]))
    with contextlib.suppress(Exception):
        feed = (await js.stream_info(topo.feed_stream)).state
        out["feed messages (casefile's per-agency case views)"] = feed.messages
        out["feed MiB"] = round(feed.bytes / 2**20, 1)
    return out


def _report(bench: Bench, sec: str, r: Run, rate: int, seconds: float, probe: Probe,
            cpu: dict[str, float], world: World | None, health: dict[str, float]) -> None:
    ok = [c for c, (_, good, _) in r.replied.items() if good]
    errors: dict[str, int] = {}
    for _, good, code in r.replied.values():
        if not good:
            errors[code] = errors.get(code, 0) + 1

    def done_at(c: str) -> float | None:
        seen = r.committed.get(c, {})
        if not r.expect[c] <= seen.keys():
            return None
        return max((seen[p] for p in r.expect[c]), default=r.replied[c][0])

    finished = {c: t for c in ok if (t := done_at(c)) is not None}
    e2e = {c: (t - r.sent[c]) * 1000 for c, t in finished.items()}
    reply = {c: (r.replied[c][0] - r.sent[c]) * 1000 for c in ok}
    last = max(finished.values(), default=r.t0)
    throughput = len(finished) / max(last - r.t0, 1e-9)
    sec = f"{sec}@{rate}/s"
    bench.add(sec, f"offered {rate}/s for {seconds:.0f} s: commands ok / sent", len(ok),
              "cmds", f"of {len(r.sent)}; errors {errors or 'none'}; ticks with nothing "
              f"due {r.starved}; ticks sent late p99 {1000 * pct(r.late, 99):.1f} ms",
              errors=errors, error_samples=r.samples)
    bench.add(sec, "sustained throughput (all projections committed)", throughput, "cmd/s")
    bench.add(sec, "replies/s", len(ok) / max(max((r.replied[c][0] for c in ok),
                                                   default=r.t0) - r.t0, 1e-9), "cmd/s")
    values = list(e2e.values())
    bench.add(sec, "command → all projections committed, p50",
              statistics.median(values) if values else float("nan"), "ms")
    bench.add(sec, "command → all projections committed, p99", pct(values, 99), "ms",
              "target < 50")
    bench.add(sec, "command → all projections committed, max", max(values, default=float("nan")),
              "ms")
    rvalues = list(reply.values())
    bench.add(sec, "command → reply, p50", statistics.median(rvalues) if rvalues else
              float("nan"), "ms")
    bench.add(sec, "command → reply, p99", pct(rvalues, 99), "ms",
              f"max {max(rvalues, default=float('nan')):.1f} ms")
    bench.add(sec, "commits seen for ok commands", len(finished), "cmds",
              f"of {len(ok)} ({', '.join(sorted(probe.projections))})")
    if world is not None:
        case_readers = probe.readers("PlanApproved")
        reacted = []
        for cause, cid in world.reaction_causes.items():
            seen = r.committed.get(cause, {})
            if cid in r.sent and case_readers <= seen.keys():
                reacted.append((max(seen[p] for p in case_readers) - r.sent[cid]) * 1000)
        bench.add(sec, "meeting decision → case updated by the reactor, all committed, p50",
                  statistics.median(reacted) if reacted else float("nan"), "ms",
                  f"p99 {pct(reacted, 99):.1f} ms; seen for {len(reacted)} of "
                  f"{sum(1 for c in world.reaction_causes.values() if c in r.sent)} decisions")
        bench.add(sec, "persons started / finished / failed flows", world.started, "flows",
                  f"finished {world.finished}, stopped early {world.failed} "
                  f"{world.failures or ''}; meetings held {world.meetings.held}",
                  failures=world.failures)
        for key, value in health.items():
            if key == "events in stream":
                top = ", ".join(f"{t} {n}" for t, n in list(EVENT_TYPES.items())[:6])
                bench.add(sec, key, value, "", f"most: {top}", by_type=dict(EVENT_TYPES))
                continue
            bench.add(sec, key, value, "", "must be 0" if key in MUST_BE_ZERO else "")
    # Where the time goes: each projection's own commit latency.
    for name in sorted(probe.projections):
        lat = [(r.committed[c][name] - r.sent[c]) * 1000 for c in ok
               if name in r.expect[c] and name in r.committed.get(c, {})]
        bench.add(sec, f"command → committed by {name}, p50", pct(lat, 50), "ms",
                  f"p99 {pct(lat, 99):.1f} ms over {len(lat)} commands")
    bench.add(sec, "CPU % (100 = one core)", sum(cpu.values()), "%",
              "; ".join(f"{k} {v:.0f}%" for k, v in cpu.items()), cpu=cpu)
    # The mix actually sent in the window, with the latencies of each kind.
    by_label: dict[str, list[str]] = {}
    for c, label in r.label.items():
        by_label.setdefault(label, []).append(c)
    for label, cids in sorted(by_label.items(), key=lambda kv: -len(kv[1])):
        rl = [reply[c] for c in cids if c in reply]
        el = [e2e[c] for c in cids if c in e2e]
        bench.add(f"{sec} mix", label, 100 * len(cids) / max(len(r.label), 1), "%",
                  f"n={len(cids)}; reply p50 {pct(rl, 50):.1f} / p99 {pct(rl, 99):.1f} ms; "
                  f"all committed p50 {pct(el, 50):.1f} / p99 {pct(el, 99):.1f} ms")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
