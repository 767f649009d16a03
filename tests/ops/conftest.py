"""A small real platform for the operators' tools: one service ("opsdemo") with a projection
over every event that can be told to fail, run in-process against the session's nats-server,
and the ops CLI invoked through typer's runner in a worker thread (it runs its own loop)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from dataclasses import dataclass, field

import pytest
import structlog
import typer
from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, select
from typer.testing import CliRunner

from contracts.envelope import Envelope
from eventstore.db import upsert
from eventstore.projection import ApplyContext
from eventstore.service import ServiceSpec, build_app
from eventstore.store import EventStore
from tests.helpers import register_agency
from tsunagu.ops.cli import register

SERVICE = "opsdemo"


@dataclass
class SeenProjection:
    """Counts events per aggregate; fails on agencies whose name is in ``poison``."""

    name: str = "opsdemo_seen"
    aggregates: tuple[str, ...] | None = None
    needs_personal: bool = False
    poison: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.metadata = MetaData()
        self.table = Table(
            "opsdemo_seen", self.metadata,
            Column("aggregate_id", String(64), primary_key=True),
            Column("events", Integer, nullable=False),
        )

    def apply(self, conn: Connection, env: Envelope, ctx: ApplyContext) -> None:
        name = getattr(env.event, "name", None)
        if name in self.poison:
            raise RuntimeError(f"cannot apply agency named {name}")
        current = conn.execute(
            select(self.table.c.events).where(self.table.c.aggregate_id == env.aggregate_id)
        ).scalar()
        upsert(conn, self.table, {"aggregate_id": env.aggregate_id,
                                  "events": (current or 0) + 1}, ["aggregate_id"])

    def count(self, engine, aggregate_id: str) -> int:
        with engine.begin() as conn:
            return conn.execute(
                select(self.table.c.events).where(self.table.c.aggregate_id == aggregate_id)
            ).scalar() or 0


@dataclass
class Platform:
    runtime: object
    projection: SeenProjection
    store: EventStore

    @property
    def runner(self):
        return self.runtime.runners[self.projection.name]  # type: ignore[attr-defined]

    async def agency(self, agency_id: str, name: str | None = None) -> int:
        """Register the agency (or rename it) through the directory import; its last seq."""
        await register_agency(self.store, agency_id, name=name, category="警察")
        return (await self.store.load("agency", agency_id)).last_seq

    async def settle(self, seq: int) -> None:
        await self.runner.wait_for(seq, timeout=20)


@pytest.fixture(autouse=True)
def logs_to_stderr():
    """In-process services log while the CLI runs in another thread; typer's runner swaps
    sys.stdout for the whole process, so keep log lines out of the CLI's captured stdout."""
    old = structlog.get_config()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    yield
    structlog.configure(**old)


@pytest.fixture
async def platform(settings, store):
    projection = SeenProjection()
    app, runtime = build_app(ServiceSpec(name=SERVICE, projections=[projection]), settings)
    await app.start()
    yield Platform(runtime, projection, store)
    with contextlib.suppress(Exception):
        await app.stop()


@pytest.fixture
def cli(settings, monkeypatch):
    """``await cli("status", "--json")`` → the click Result."""
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    env = {"TSUNAGU_NATS_URL": settings.nats_url, "TSUNAGU_PREFIX": settings.prefix,
           "TSUNAGU_DATA_DIR": str(settings.data_dir)}

    async def invoke(*args: str, extra_env: dict[str, str] | None = None):
        return await asyncio.to_thread(
            runner.invoke, app, list(args), env={**env, **(extra_env or {})}
        )

    return invoke


@pytest.fixture
async def console(settings):
    """Start the web console in-process on a free loopback port: ``url = await console()``."""
    import uvicorn

    from eventstore.natsserver import free_port
    from tsunagu.ops.console import ConsoleConfig, create_app

    servers = []

    async def start(token: str | None = None) -> str:
        port = free_port()
        app = create_app(settings, ConsoleConfig(port=port, token=token))
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                               log_level="warning"))
        task = asyncio.create_task(server.serve())
        servers.append((server, task))
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.02)
        assert server.started, "console did not start"
        return f"http://127.0.0.1:{port}"

    yield start
    for server, task in servers:
        server.should_exit = True
        server.force_exit = True  # open SSE streams would otherwise hold the shutdown
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)
        # A forced exit skips the app's lifespan shutdown: run it, so the console's NATS
        # connection closes and no pending lifespan task is left for the garbage collector
        # (its "Task was destroyed" traceback, formatted mid-collection, broke ast.parse in
        # a later test on CPython 3.11).
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.lifespan.shutdown(), 10)


def fake_stats_report(as_of: str) -> dict:
    """A report in the stats service's documented form (tsunagu.stats.report/v1), with the
    seed's headline figures for R7.11 (R6.11)."""
    def pair(current: int, prior: int) -> dict:
        return {"current": current, "prior": prior}

    def program(key: str, title: str, persons: int, prior: int, linked: tuple, plans: tuple):
        grid = [{"age_band": "40s", "label": "40代", "male": pair(persons - 10, prior - 10),
                 "female": pair(10, 10), "unknown": pair(0, 0)}]
        return {
            "program": key, "title": title,
            "persons": {"total": pair(persons, prior), "grid": grid,
                        "totals": {"male": pair(persons - 10, prior - 10),
                                   "female": pair(10, 10), "unknown": pair(0, 0)},
                        "agencies": pair(19, 51)},
            "linked_agencies": {"total": pair(*linked),
                                "by_category": [{"category": "医療機関", **pair(3, 4)}]},
            "plans": {"label": "プラン作成件数", **pair(*plans)},
        }

    return {
        "format": "tsunagu.stats.report/v1", "as_of": as_of,
        "current": {"as_of_wareki": "令和7年11月30日"},
        "prior": {"as_of_wareki": "令和6年11月30日"},
        "programs": [
            program("multi_agency", "多機関協働事業実施状況", 120, 130, (117, 171), (16, 13)),
            program("outreach", "アウトリーチを通じた継続的事業実施状況", 83, 72,
                    (137, 125), (9, 3)),
            program("participation", "参加支援実施状況", 68, 100, (86, 87), (6, 7)),
        ],
        "meetings": {"support_plan": {"label": "重層的支援会議", **pair(8, 8)}},
        "cases_closed": pair(20, 0),
    }


@pytest.fixture
async def fake_stats(nc, topology):
    """Answers ``<prefix>.query.ops.stats_report`` like the stats service would."""
    import json

    async def answer(msg) -> None:
        args = json.loads(msg.data or b"{}")
        await msg.respond(json.dumps(
            {"ok": True, "result": fake_stats_report(args.get("as_of"))}).encode())

    sub = await nc.subscribe(f"{topology.prefix}.query.ops.stats_report", cb=answer)
    yield
    await sub.unsubscribe()
