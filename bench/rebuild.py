"""Rebuild a projection from a large stream (1,000,000 events), on SQLite and PostgreSQL.

The rebuild runs in its own process (``python -m bench.rebuild``), as a service would, so
its peak RSS is its own. PostgreSQL gets a private schema, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
import uuid

import nats
from sqlalchemy import create_engine, text

from bench.events import CaseBoard
from bench.harness import Bench, Timer, connected
from bench.throughput import load_stream
from eventstore.db import make_engine
from eventstore.projection import ProjectionRunner
from eventstore.topology import Topology


async def _worker(nats_url: str, prefix: str, db_url: str, schema: str | None) -> dict:
    nc = await nats.connect(nats_url)
    engine = make_engine(db_url, schema=schema)
    board = CaseBoard()
    runner = ProjectionRunner(nc, Topology(prefix), board, engine)
    rate = await runner.rebuild()
    with engine.begin() as conn:
        cases, members = board.snapshot(conn)
    await nc.close()
    engine.dispose()
    return {
        "events_per_s": rate,
        "checkpoint": runner.checkpoint,
        "cases": len(cases),
        "members": len(members),
        "events_counted": sum(r[6] for r in cases),
        "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.rebuild")
    ap.add_argument("--nats-url", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--db-url", required=True)
    ap.add_argument("--schema")
    a = ap.parse_args(argv)
    out = asyncio.run(_worker(a.nats_url, a.prefix, a.db_url, a.schema))
    print(json.dumps(out), flush=True)


def _pg_schema(pg_url: str, schema: str, create: bool) -> None:
    admin = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        if create:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        else:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


async def _spawn(bench: Bench, label: str, args: list[str], log: str) -> dict:
    proc = bench.spawn(label, ["-m", "bench.rebuild", *args], log)
    code = await asyncio.to_thread(proc.wait)
    bench.rss.unwatch(label)
    lines = (bench.workdir / log).read_text().strip().splitlines()
    if code != 0 or not lines:
        raise RuntimeError(f"rebuild worker failed ({code}); see {bench.workdir / log}")
    return dict(json.loads(lines[-1]))


async def run(bench: Bench) -> None:
    n = 10_000 if bench.quick else 1_000_000
    async with connected(bench) as nc:
        topo = await bench.topology(nc, "rb")
        with Timer() as t:
            last = await load_stream(nc, topo, n, tag="m")
        bench.add("rebuild", f"load {n:,} events (publish_async + Msg-Id)", n / t.seconds, "ev/s")
        common = ["--nats-url", bench.server.url, "--prefix", topo.prefix]
        targets: list[tuple[str, list[str], str | None]] = [
            ("SQLite", ["--db-url", f"sqlite:///{bench.workdir / 'rebuild.sqlite'}"], None),
        ]
        if bench.pg_url:
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            _pg_schema(bench.pg_url, schema, create=True)
            targets.append(("PostgreSQL", ["--db-url", bench.pg_url, "--schema", schema], schema))
        for db, args, private in targets:
            try:
                started = time.perf_counter()
                out = await _spawn(bench, f"rebuild worker ({db})", [*common, *args],
                                   f"rebuild-{db}.log")
                wall = time.perf_counter() - started
            finally:
                if private and bench.pg_url:
                    _pg_schema(bench.pg_url, private, create=False)
            ok = out["checkpoint"] == last and out["events_counted"] == n
            bench.add("rebuild", f"rebuild CaseBoard from {n:,} events, {db}",
                      out["events_per_s"], "ev/s",
                      ("target ≥ 20,000; " if db == "SQLite" else "")
                      + ("all counted" if ok else f"MISMATCH {out}"),
                      process_wall_s=round(wall, 1), **out)
            bench.add("memory", f"rebuild worker ({db}) peak RSS", out["maxrss_mib"], "MiB",
                      "target < 150")
        if not bench.pg_url:
            print("  (PostgreSQL skipped: pass --pg-url)", file=sys.stderr)
        await nc.jetstream().delete_stream(topo.events_stream)


if __name__ == "__main__":
    main()
