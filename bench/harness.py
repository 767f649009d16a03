"""What every benchmark section shares: a nats-server of its own, results, peak RSS."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import nats
import psutil
from nats.aio.client import Client

from eventstore.natsserver import NatsServer
from eventstore.provision import provision
from eventstore.topology import Topology

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Result:
    section: str
    name: str
    value: float
    unit: str
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class RssMonitor:
    """Samples the RSS of labelled processes in a thread; keeps the peak of each."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.procs: dict[str, psutil.Process] = {}
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="rss")

    def watch(self, label: str, pid: int) -> None:
        with self._lock:
            self.procs[label] = psutil.Process(pid)

    def unwatch(self, label: str) -> None:
        with self._lock:
            self.procs.pop(label, None)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def sample(self) -> None:
        with self._lock:
            items = list(self.procs.items())
        for label, proc in items:
            with contextlib.suppress(psutil.Error):
                rss = proc.memory_info().rss
                if rss > self.peaks.get(label, 0):
                    self.peaks[label] = rss

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            time.sleep(self.interval)

    def peak_mib(self, label: str) -> float:
        return self.peaks.get(label, 0) / 2**20


@dataclass
class Bench:
    quick: bool
    workdir: Path
    pg_url: str | None
    server: NatsServer
    rss: RssMonitor
    results: list[Result] = field(default_factory=list)

    def add(self, section: str, name: str, value: float, unit: str, note: str = "",
            **extra: Any) -> Result:
        r = Result(section, name, value, unit, note, extra)
        self.results.append(r)
        shown = f"{value:>12,.2f}" if unit == "x" else f"{value:>12,.1f}"
        print(f"  {section:10} {name:58} {shown} {unit} {note}", flush=True)
        return r

    async def connect(self) -> Client:
        return await nats.connect(self.server.url, max_reconnect_attempts=-1,
                                  reconnect_time_wait=0.2, pending_size=64 * 2**20)

    async def topology(self, nc: Client, name: str) -> Topology:
        topo = Topology(prefix=f"b{name}{uuid.uuid4().hex[:6]}")
        await provision(nc, topo)
        return topo

    def spawn(self, label: str, args: list[str], log_name: str) -> subprocess.Popen[bytes]:
        log = open(self.workdir / log_name, "ab")  # noqa: SIM115
        proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=log, stderr=log,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        log.close()
        self.rss.watch(label, proc.pid)
        return proc


@contextlib.contextmanager
def bench_env(quick: bool, pg_url: str | None, keep: bool = False) -> Iterator[Bench]:
    workdir = Path(tempfile.mkdtemp(prefix="tsunagu-bench-"))
    server = NatsServer(store_dir=workdir / "nats")
    server.start()
    rss = RssMonitor()
    assert server.proc is not None
    rss.watch("nats-server", server.proc.pid)
    rss.watch("bench driver", os.getpid())
    rss.start()
    try:
        yield Bench(quick, workdir, pg_url, server, rss)
    finally:
        rss.stop()
        server.stop()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


@contextlib.asynccontextmanager
async def connected(bench: Bench) -> AsyncIterator[Client]:
    nc = await bench.connect()
    try:
        yield nc
    finally:
        with contextlib.suppress(Exception):
            await nc.close()


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "mem_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "nats_server": _nats_version(),
        # Other work on the box skews every number: the load average says how much.
        "loadavg_1_5_15": os.getloadavg(),
    }


def _nats_version() -> str:
    from eventstore.natsserver import nats_server_binary

    try:
        out = subprocess.run([nats_server_binary(), "--version"], capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip()
    except Exception as exc:  # a version string is nice to have, not required
        return repr(exc)


def write_json(bench: Bench, started: float) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = RESULTS / f"bench-{stamp}{'-quick' if bench.quick else ''}.json"
    doc = {
        "started": started,
        "seconds": round(time.time() - started, 1),
        "quick": bench.quick,
        "machine": machine(),
        "results": [asdict(r) for r in bench.results],
        "peak_rss_mib": {k: round(v / 2**20, 1) for k, v in bench.rss.peaks.items()},
    }
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False))
    return path


class Timer:
    def __enter__(self) -> Timer:
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0
