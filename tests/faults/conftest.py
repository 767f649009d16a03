"""Fixtures for the fault suite: the kit-only stand-in service (bench/toy.py), run
in-process or as its own process, and helpers that read the stream and the projection."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from bench.events import CaseBoard
from bench.toy import build_spec
from eventstore.db import make_engine, read_checkpoint
from eventstore.service import Runtime, build_app
from eventstore.settings import Settings
from eventstore.store import EventStore
from tests.helpers import register_agency

ROOT = Path(__file__).resolve().parents[2]
AGENCIES = ("hq", "city", "npo")


@pytest.fixture
async def toy(settings: Settings, store: EventStore) -> AsyncIterator[Runtime]:
    """The stand-in service, in-process, with three agencies in the directory."""
    for agency in AGENCIES:
        await register_agency(store, agency, can_triage=True)
    app, runtime = build_app(build_spec(settings), settings)
    async with app:
        yield runtime


class ServiceProcess:
    """``python -m bench.serve benchcase`` as a child process that can be killed -9."""

    def __init__(self, nats_url: str, prefix: str, data_dir: Path) -> None:
        self.args = [sys.executable, "-m", "bench.serve", "benchcase", "--nats-url", nats_url,
                     "--prefix", prefix, "--data-dir", str(data_dir)]
        self.data_dir = data_dir
        self.log = data_dir.parent / f"{data_dir.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def db_url(self) -> str:
        return f"sqlite:///{(self.data_dir / 'benchcase.sqlite').resolve()}"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.args, cwd=ROOT, stdout=log, stderr=log,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


async def assert_verified(nc, topology) -> None:
    """`tsunagu verify` over the whole stream: no event the rules would have refused."""
    from tsunagu.ops.verify import verify_stream

    report = await verify_stream(nc, topology)
    assert report.events > 0 and report.ok, report.findings[:10]


@pytest.fixture
def service_process(settings: Settings, tmp_path: Path) -> Iterator[ServiceProcess]:
    proc = ServiceProcess(settings.resolved_nats_url(), settings.prefix, tmp_path / "svc")
    yield proc
    proc.stop()


def checkpoint_of(db_url: str, name: str = "benchboard") -> int:
    """The projection's committed checkpoint, read from its database (0 if not there yet)."""
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            return read_checkpoint(conn, name)
    except Exception:  # the service has not created its tables yet
        return 0
    finally:
        engine.dispose()


def snapshot(engine: Engine, board: CaseBoard | None = None) -> tuple[list[tuple], list[tuple]]:
    board = board or CaseBoard()
    with engine.begin() as conn:
        return board.snapshot(conn)


def wait_until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


async def stream_last_seq(store: EventStore) -> int:
    info = await store.js.stream_info(store.topology.events_stream)
    return int(info.state.last_seq)


def rows(engine: Engine, board: CaseBoard) -> dict[str, tuple]:
    with engine.begin() as conn:
        return {r[0]: tuple(r) for r in conn.execute(select(board.cases))}


