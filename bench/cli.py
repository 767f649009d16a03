"""``python -m bench``: every section in one run, a table at the end, JSON in bench/results/."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench import e2e, overload, rebuild, throughput
from bench.harness import Bench, bench_env, write_json

SECTIONS = ("throughput", "e2e", "overload", "rebuild", "stats")
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


async def _stats(bench: Bench) -> None:
    """The stats report over 1,000,000 events: the stats engineer's ``bench/stats_report.py``
    (``python -m bench.stats_report --events N``, one JSON line), run as its own process."""
    if not (Path(__file__).parent / "stats_report.py").exists():
        bench.add("stats", "stats report over 1,000,000 events", float("nan"), "",
                  "not run: bench/stats_report.py does not exist yet")
        return
    n = 20_000 if bench.quick else 1_000_000
    label = "stats_report"
    proc = bench.spawn(label, ["-m", "bench.stats_report", "--events", str(n)], "stats.log")
    code = await asyncio.to_thread(proc.wait)
    peak = bench.rss.peak_mib(label)
    bench.rss.unwatch(label)
    lines = (bench.workdir / "stats.log").read_text().strip().splitlines()
    try:
        doc = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        bench.add("stats", f"stats report over {n:,} events", float("nan"), "",
                  f"failed (exit {code}); see {bench.workdir / 'stats.log'}")
        return
    for key, value in doc.items():
        if isinstance(value, int | float):
            bench.add("stats", f"{key} ({n:,} events)", float(value), "")
    bench.add("memory", "stats_report process peak RSS", peak, "MiB", "target < 150")


async def _run(bench: Bench, sections: list[str], e2e_args: dict,
               rebuild_args: dict | None = None, overload_args: dict | None = None) -> None:
    for section in sections:
        print(f"== {section}", flush=True)
        if section == "throughput":
            await throughput.run(bench)
        elif section == "e2e":
            await e2e.run(bench, **e2e_args)
        elif section == "overload":
            await overload.run(bench, **(overload_args or {}))
        elif section == "rebuild":
            await rebuild.run(bench, **(rebuild_args or {}))
        elif section == "stats":
            await _stats(bench)
        bench.rss.sample()
        bench.add("memory", f"nats-server peak RSS so far (after {section})",
                  bench.rss.peak_mib("nats-server"), "MiB")


def table(bench: Bench) -> Table:
    t = Table(title=f"Tsunagu benchmarks{' (quick)' if bench.quick else ''}")
    for col, just in (("section", "left"), ("measure", "left"), ("value", "right"),
                      ("unit", "left"), ("note", "left")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in bench.results:
        value = f"{r.value:,.2f}" if r.unit == "x" else f"{r.value:,.1f}"
        t.add_row(r.section, r.name, value, r.unit, r.note)
    return t


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small counts: runs in seconds")
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help=f"comma-separated sections ({', '.join(SECTIONS)})")
    ap.add_argument("--pg-url", default=os.environ.get("TSUNAGU_BENCH_POSTGRES_URL", DEFAULT_PG),
                    help="PostgreSQL for the rebuild ('' to skip); a private schema is used")
    ap.add_argument("--rates", default="500", help="e2e: offered loads, commands/s")
    ap.add_argument("--e2e-seconds", type=float,
                    help="e2e: measured seconds per rate (default 20; 4 with --quick)")
    ap.add_argument("--e2e-warmup", type=float,
                    help="e2e: warm-up seconds at the same rate (default 8; 2 with --quick)")
    ap.add_argument("--stand-in", action="store_true",
                    help="e2e: drive the kit-only stand-in service (bench/toy.py) instead of "
                         "the four real services")
    ap.add_argument("--overload-rate", type=int, default=1000,
                    help="overload: commands/s offered in the burst (default 1,000)")
    ap.add_argument("--overload-seconds", type=float,
                    help="overload: length of the burst (default 10 s; 3 with --quick)")
    ap.add_argument("--rebuild-events", type=int,
                    help="rebuild: events in the realistic stream (default 1,000,000; "
                         "10,000 with --quick)")
    ap.add_argument("--rebuild-pg-events", type=int,
                    help="rebuild: PostgreSQL rebuilds stop after this many events of the "
                         "same stream (default 100,000: ~3 min; 2,000 with --quick)")
    ap.add_argument("--rebuild-pg-serial", action="store_true",
                    help="rebuild: PostgreSQL workers one after the other, not all at once")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (logs, stores)")
    args = ap.parse_args(argv)
    sections = [s for s in args.only.split(",") if s]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    # A terminated run still stops its nats-server and removes its work dir.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.time()
    with bench_env(args.quick, args.pg_url or None, keep=args.keep) as bench:
        print(f"work dir {bench.workdir}; nats-server {bench.server.url}", flush=True)
        e2e_args = {"rates": tuple(int(r) for r in args.rates.split(",")),
                    "stand_in": args.stand_in, "seconds": args.e2e_seconds,
                    "warmup": args.e2e_warmup}
        rebuild_args = {"events": args.rebuild_events, "pg_events": args.rebuild_pg_events,
                        "pg_serial": args.rebuild_pg_serial}
        overload_args = {"rate": args.overload_rate, "seconds": args.overload_seconds}
        asyncio.run(_run(bench, sections, e2e_args, rebuild_args, overload_args))
        Console(width=max(140, Console().width)).print(table(bench))
        path = write_json(bench, started)
        print(f"results: {path}  ({time.time() - started:.0f} s)")
