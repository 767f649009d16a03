"""Rebuild each real projection from a realistic stream (1,000,000 events), SQLite and PostgreSQL.

The stream is ``bench/history.py``'s: the demo's stories scaled out to ~290 districts, personal
blocks sealed per subject. Every projection of every service (``spec_factory(name)(settings)
.projections``; reactors are not projections and are not run) is rebuilt with
``ProjectionRunner.rebuild()`` in its own process (``python -m bench.rebuild --service …``),
as the service would, so its peak RSS is its own, with the service's key ring. PostgreSQL:
a private schema per worker, dropped afterwards. SQLite workers run one after the other;
PostgreSQL workers (round-trip bound, waiting on the server most of the time) run
concurrently unless ``--rebuild-pg-serial``.

A rebuild is what ``tsunagu rebuild`` does to a running deployment: the casefile's feed mark
(feeds already published up to the stream's end) is kept, so the replay sends no feed again;
the worker sets that mark to the stream's end before rebuilding, as it would be.

Two rates per projection: the events the projection reads (its subject filter) per second,
and the stream's events per second (the whole stream went by, elapsed the same).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import nats
from sqlalchemy import create_engine, func, select, text

from bench.events import CaseBoard
from bench.harness import Bench, connected
from bench.history import History, generate
from eventstore.crypto import KeyRing
from eventstore.db import kit_metadata, make_engine, write_checkpoint
from eventstore.projection import Projection, ProjectionRunner
from eventstore.settings import Settings
from eventstore.topology import Topology

KIT = "kit"  # the kit-only reference projection (bench/events.py CaseBoard)


def real_projections(prefix: str = "bench") -> list[tuple[str, Projection]]:
    """(service, projection) for every projection every service declares."""
    from tsunagu.services import SERVICES, spec_factory

    settings = Settings(prefix=prefix)
    return [(name, p) for name in SERVICES for p in spec_factory(name)(settings).projections]


def _projection(service: str, name: str, settings: Settings) -> Projection:
    if service == KIT:
        return CaseBoard()
    from tsunagu.services import spec_factory

    for p in spec_factory(service)(settings).projections:
        if p.name == name:
            return p
    raise SystemExit(f"service {service} has no projection {name!r}")


async def _prepare(service: str, keyring: KeyRing, runner: ProjectionRunner, last: int) -> None:
    """What the service has in place before an operator's rebuild."""
    if service == "referral":
        from services.referral.projection import MATCH_KEY_ID

        await keyring.get_or_create(MATCH_KEY_ID)  # its on_start hook does this
    if service == "casefile":
        from services.casefile.projection import FEED_MARK

        def mark() -> None:
            kit_metadata.create_all(runner.engine)
            with runner.engine.begin() as conn:
                write_checkpoint(conn, FEED_MARK, last)

        await asyncio.to_thread(mark)


def _peak_rss_mib() -> float:
    """This process's peak RSS. Not ``ru_maxrss``: Linux keeps it across exec, so a worker
    forked from the bench (which holds the generated history) reported the bench's size.
    ``VmHWM`` belongs to the process's own memory map, made at exec."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _rows(runner: ProjectionRunner) -> dict[str, int]:
    with runner.engine.begin() as conn:
        return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar() or 0)
                for t in runner.projection.metadata.sorted_tables}


async def _worker(a: argparse.Namespace) -> dict[str, Any]:
    nc = await nats.connect(a.nats_url, pending_size=64 * 2**20)
    settings = Settings(prefix=a.prefix, nats_url=a.nats_url)
    topo = Topology(a.prefix)
    projection = _projection(a.service, a.projection, settings)
    keyring = None if a.service == KIT else await KeyRing.open(nc, topo)
    engine = make_engine(a.db_url, schema=a.schema)
    runner = ProjectionRunner(nc, topo, projection, engine, keyring=keyring)
    last = a.until or await runner.stream_last_seq()
    if keyring is not None:
        await _prepare(a.service, keyring, runner, last)
    shown = [0]

    def progress(done: int, target: int) -> None:
        if done * 10 // target > shown[0]:
            shown[0] = done * 10 // target
            print(f"{projection.name}: {done:,}/{target:,} "
                  f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)

    started, cpu = time.perf_counter(), time.process_time()
    await runner.rebuild(until=a.until or None, progress=progress)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    rows = await asyncio.to_thread(_rows, runner)
    out: dict[str, Any] = {
        "projection": projection.name,
        "elapsed_s": round(elapsed, 2),
        # CPU seconds of this process (both threads): on a shared machine, elapsed / CPU
        # says how much of the time it waited for a core (or for the database).
        "cpu_s": round(cpu, 2),
        "checkpoint": runner.checkpoint,
        # Read = of its aggregates: decoded and applied, or skipped undecoded by type.
        "events_read": runner.applied + runner.skipped,
        "events_decoded": runner.applied,
        "read_per_s": round((runner.applied + runner.skipped) / elapsed, 1),
        "stream_per_s": round(runner.checkpoint / elapsed, 1),
        "dead_letters": runner.dead_lettered,
        "resyncs": runner.resyncs,
        "rows": sum(rows.values()),
        "rows_by_table": rows,
        "maxrss_mib": _peak_rss_mib(),
    }
    if isinstance(projection, CaseBoard):
        with engine.begin() as conn:
            cases, _ = projection.snapshot(conn)
        out["events_counted"] = sum(r[6] for r in cases)
    await nc.close()
    engine.dispose()
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.rebuild")
    ap.add_argument("--nats-url", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--service", required=True, help=f"a service, or {KIT!r} for CaseBoard")
    ap.add_argument("--projection", default="")
    ap.add_argument("--db-url", required=True)
    ap.add_argument("--schema")
    ap.add_argument("--until", type=int, default=0, help="rebuild up to this sequence only")
    a = ap.parse_args(argv)
    profile_to = os.environ.get("TSUNAGU_BENCH_PROFILE")  # write a cProfile of this worker
    if profile_to:
        import cProfile

        import eventstore.projection

        async def inline(fn: Any, *args: Any) -> Any:  # the apply thread's time, profiled
            return fn(*args)

        eventstore.projection.in_thread = inline
        with cProfile.Profile() as prof:
            out = asyncio.run(_worker(a))
        prof.dump_stats(f"{profile_to}.rebuild-{a.service}-{a.projection}")
    else:
        out = asyncio.run(_worker(a))
    print(json.dumps(out), flush=True)


# ----- the bench section ---------------------------------------------------------------


def _pg_schema(pg_url: str, schema: str, create: bool) -> None:
    admin = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        if create:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        else:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


async def _spawn(bench: Bench, label: str, args: list[str], log: str) -> dict[str, Any]:
    proc = bench.spawn(label, ["-m", "bench.rebuild", *args], log)
    code = await asyncio.to_thread(proc.wait)
    bench.rss.unwatch(label)
    lines = (bench.workdir / log).read_text().strip().splitlines()
    if code != 0 or not lines:
        raise RuntimeError(f"rebuild worker failed ({code}); see {bench.workdir / log}")
    return dict(json.loads(lines[-1]))


def _report(bench: Bench, hist: History, service: str, projection: Projection, db: str,
            out: dict[str, Any], until: int, concurrent: bool) -> None:
    stream = until or hist.last_seq
    counts = hist.upto if until else hist.by_aggregate
    expected = sum(counts[a] for a in projection.aggregates) if projection.aggregates \
        else stream
    if service == KIT:
        ok = out["checkpoint"] == stream and out.get("events_counted") == counts["case"]
    else:
        ok = out["checkpoint"] == stream and out["events_read"] == expected
    ok = ok and out["dead_letters"] == 0
    label = f"{service}/{projection.name}" if service != KIT else "kit-only CaseBoard"
    note = (f"stream {out['stream_per_s']:,.0f} ev/s; {out['elapsed_s']:,.1f} s; "
            f"{out['events_read']:,} read; {out['rows']:,} rows; "
            f"{out['dead_letters']} dead letters"
            + ("; concurrent with the other PG workers" if concurrent else "")
            + ("; all counted" if ok else f"; MISMATCH (expected {expected:,} read)"))
    bench.add("rebuild", f"rebuild {label} from {stream:,} events, {db}", out["read_per_s"],
              "read ev/s", note, service=service, db=db, expected_read=expected,
              stream_events=stream, concurrent=concurrent, **out)
    bench.add("memory", f"rebuild worker {label} ({db}) peak RSS", out["maxrss_mib"], "MiB",
              "target < 150")


async def run(bench: Bench, events: int | None = None, pg_events: int | None = None,
              pg_serial: bool = False, caseboard: bool = True) -> None:
    n = events or (10_000 if bench.quick else 1_000_000)
    pg_n = pg_events or (2_000 if bench.quick else 100_000)
    pg_until = pg_n if pg_n < n else 0  # 0: the whole stream
    async with connected(bench) as nc:
        topo = await bench.topology(nc, "rb")
        hist = await generate(nc, topo, n, bench.workdir, mark=pg_until,
                              log=lambda s: print(s, flush=True))
        bench.add("rebuild", f"generate the history: {hist.events:,} events, "
                  f"{hist.districts} districts × 200 people, {hist.keys:,} data keys",
                  hist.events / hist.generate_s, "ev/s",
                  f"{hist.generate_s:.1f} s (models, envelopes, sealing, JSON)",
                  seconds=round(hist.generate_s, 1), by_type=dict(hist.by_type),
                  by_aggregate=dict(hist.by_aggregate))
        bench.add("rebuild", f"publish it (publish_async + Msg-Id, {hist.events:,} events)",
                  hist.events / hist.publish_s, "ev/s", f"{hist.publish_s:.1f} s",
                  seconds=round(hist.publish_s, 1))
        common = ["--nats-url", bench.server.url, "--prefix", topo.prefix]
        targets = real_projections()

        # SQLite: one worker after the other (each alone on the CPU).
        sqlite_runs: list[tuple[str, Projection]] = list(targets)
        if caseboard:
            sqlite_runs.append((KIT, CaseBoard()))
        for service, projection in sqlite_runs:
            db_file = bench.workdir / f"rebuild-{service}-{projection.name}.sqlite"
            out = await _spawn(bench, f"rebuild {projection.name} (SQLite)", [
                *common, "--service", service, "--projection", projection.name,
                "--db-url", f"sqlite:///{db_file}"], f"rebuild-{projection.name}-sqlite.log")
            _report(bench, hist, service, projection, "SQLite", out, 0, False)
            db_file.unlink(missing_ok=True)

        if bench.pg_url:
            await _postgres(bench, hist, common, targets, pg_until, pg_serial)
        else:
            print("  (PostgreSQL skipped: pass --pg-url)", file=sys.stderr)
        dlq = await nc.jetstream().stream_info(topo.dlq_stream)
        bench.add("rebuild", "dead letters in the DLQ stream after every rebuild",
                  float(dlq.state.messages), "msgs", "must be 0")
        feeds = await nc.jetstream().stream_info(topo.feed_stream)
        bench.add("rebuild", "casefile feeds sent again by the rebuilds",
                  float(feeds.state.messages), "msgs", "must be 0 (feed mark kept)")
        await nc.jetstream().delete_stream(topo.events_stream)


async def _postgres(bench: Bench, hist: History, common: list[str],
                    targets: list[tuple[str, Projection]], until: int, serial: bool) -> None:
    assert bench.pg_url
    schemas = {p.name: f"bench_{p.name}_{uuid.uuid4().hex[:8]}" for _, p in targets}
    for s in schemas.values():
        _pg_schema(bench.pg_url, s, create=True)
    until_args = ["--until", str(until)] if until else []

    async def one(service: str, projection: Projection) -> dict[str, Any]:
        return await _spawn(bench, f"rebuild {projection.name} (PostgreSQL)", [
            *common, "--service", service, "--projection", projection.name,
            "--db-url", bench.pg_url or "", "--schema", schemas[projection.name],
            *until_args], f"rebuild-{projection.name}-pg.log")

    try:
        if serial:
            outs = [await one(s, p) for s, p in targets]
        else:
            started = time.perf_counter()
            outs = list(await asyncio.gather(*(one(s, p) for s, p in targets)))
            wall = time.perf_counter() - started
            stream = until or hist.last_seq
            bench.add("rebuild", f"all {len(targets)} PostgreSQL rebuilds at once, "
                      f"{stream:,} events", stream / wall, "stream ev/s",
                      f"{wall:.1f} s wall for every projection")
    finally:
        for s in schemas.values():
            _pg_schema(bench.pg_url, s, create=False)
    for (service, projection), out in zip(targets, outs, strict=True):
        _report(bench, hist, service, projection, "PostgreSQL", out, until, not serial)


if __name__ == "__main__":
    main()
