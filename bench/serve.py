"""Run one service as its own process, like ``tsunagu run <service>``, plus a probe.

The probe publishes, after each projection commit, which commands' events were committed
(core NATS, ``<prefix>.bench.committed``), so the load generator can time "command → every
projection committed" without touching the service's code or database. Once started it
says which projections it runs and which aggregates each reads (``<prefix>.bench.ready.*``).

    python -m bench.serve benchcase --nats-url nats://127.0.0.1:4333 --prefix p1 --data-dir d
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import Any

from contracts.envelope import Envelope
from eventstore.logging import configure_logging
from eventstore.reactor import ReactorRunner
from eventstore.service import Runtime, ServiceSpec, build_app
from eventstore.settings import Settings


def spec_for(name: str, settings: Settings) -> ServiceSpec:
    if name == "benchcase":
        from bench.toy import build_spec

        return build_spec(settings)
    from tsunagu.services import spec_factory

    return spec_factory(name)(settings)


def committed_subject(prefix: str) -> str:
    return f"{prefix}.bench.committed"


def ready_subject(prefix: str, service: str) -> str:
    return f"{prefix}.bench.ready.{service}"


def add_probe(spec: ServiceSpec, prefix: str) -> None:
    async def probe(rt: Runtime) -> None:
        nc = rt.broker.connection
        subject = committed_subject(prefix)
        projections = {n: r for n, r in rt.runners.items() if not isinstance(r, ReactorRunner)}
        for name, runner in projections.items():

            async def report(envs: list[Envelope], name: str = name) -> None:
                body = {"p": name, "c": sorted({e.causation_id for e in envs})}
                await nc.publish(subject, json.dumps(body).encode())

            runner.after_commit = report
        # Which aggregates each projection reads (None: all): the load generator derives
        # from it which projections must commit a command's events.
        aggregates = {
            n: list(r.projection.aggregates) if r.projection.aggregates else None
            for n, r in projections.items()
        }
        body = {"service": spec.name, "projections": sorted(projections),
                "aggregates": aggregates,
                "reactors": sorted(set(rt.runners) - set(projections))}
        await nc.publish(ready_subject(prefix, spec.name), json.dumps(body).encode())

    spec.on_start.append(probe)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.serve")
    ap.add_argument("service")
    ap.add_argument("--nats-url", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--log-level", default="warning")
    args = ap.parse_args(argv)
    settings = Settings(nats_url=args.nats_url, prefix=args.prefix, data_dir=args.data_dir,
                        log_format="json", log_level=args.log_level)
    configure_logging(settings.log_format, settings.log_level)
    spec = spec_for(args.service, settings)
    add_probe(spec, args.prefix)
    app, _ = build_app(spec, settings)
    run: Any = app.run()
    profile_to = os.environ.get("TSUNAGU_BENCH_PROFILE")  # write a cProfile of this process
    if profile_to:
        import cProfile

        with cProfile.Profile() as prof, contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run)
        prof.dump_stats(f"{profile_to}.{args.service}")
        return
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run)


if __name__ == "__main__":
    main()
