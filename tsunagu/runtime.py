"""`tsunagu up`: the embedded platform — nats-server from the wheel, the stream, every
service as its own process (and the web console), supervised; Ctrl-C stops all cleanly."""

from __future__ import annotations

import asyncio
import fcntl
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import structlog

from eventstore.logging import configure_logging
from eventstore.natsserver import NatsServer
from eventstore.provision import StreamPolicy, provision
from eventstore.settings import load_settings
from tsunagu.services import SERVICES

log = structlog.get_logger("tsunagu.up")

NEXT_STEPS = """
next, try (in another shell):
  .venv/bin/tsunagu status
  .venv/bin/tsunagu inbox --as ag-houkatsu-kita
  .venv/bin/tsunagu report --as-of 2025-11-30
  open the console: {console}
"""


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


#: The console's port unless ``--console-port`` says otherwise.
DEFAULT_CONSOLE_PORT = 8780


def console_port(requested: int | None, host: str, default: int = DEFAULT_CONSOLE_PORT) -> int:
    """The console's port: the default moves to a free one if taken (two platforms on one
    host); a port asked for is used as given, and if it is taken that is an error naming it
    (a script or a proxy expects the console there). 0 lets the console pick one."""
    if requested is None:
        if port_free(default, host):
            return default
        port = free_port(host)
        log.warning("console port taken, using another", taken=default, port=port)
        return port
    if requested and not port_free(requested, host):
        raise SystemExit(
            f"error: --console-port {requested} is taken on {host}: another program (perhaps "
            f"another `tsunagu up`) listens there; see which with `ss -ltnp 'sport = "
            f":{requested}'` (or `lsof -iTCP:{requested} -sTCP:LISTEN`), then stop it, choose "
            "another --console-port, or leave the option out to use a free port")
    return requested


def remembered_port(data_dir: Path, requested: int) -> int:
    """The NATS port for a data dir: the one asked for, else the one chosen on its first
    run (``nats.url``) so clients keep working across restarts, else 0 (a free one)."""
    if requested:
        return requested
    try:
        port = int((data_dir / "nats.url").read_text().strip().rsplit(":", 1)[1])
    except (OSError, ValueError, IndexError):
        return 0
    return port if port_free(port) else 0


def lock_data_dir(data_dir: Path) -> Any:
    """Hold ``up.lock`` while running: a second platform on the same data dir is refused."""
    handle = (data_dir / "up.lock").open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise SystemExit(f"error: another `tsunagu up` is running on {data_dir} "
                         "(use another --data-dir)") from None
    return handle


@dataclass
class Child:
    name: str
    argv: list[str]
    #: Added to the platform's environment (the child's own credentials when secured).
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started: float = 0.0


@dataclass
class Platform:
    data_dir: Path
    nats_url: str | None = None
    nats_port: int = 0
    #: None: the default port, or a free one if it is taken.
    console_port: int | None = None
    console_host: str = "127.0.0.1"
    demo: bool = False
    sync_always: bool = True
    #: TLS, accounts and per-identity credentials (``tsunagu.deploy.secure``).
    secure: bool = False
    secured: Any = None
    server: NatsServer | None = None
    children: list[Child] = field(default_factory=list)
    _stop: bool = False
    _lock: Any = None

    def run(self) -> int:
        settings = load_settings(data_dir=self.data_dir)
        configure_logging(settings.log_format, settings.log_level)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = lock_data_dir(self.data_dir)
        self.console_port = console_port(self.console_port, self.console_host)
        url = self._start_secure(settings.prefix) if self.secure else (
            self.nats_url or self._start_nats())
        asyncio.run(self._provision(url, settings.prefix, settings.replicas))
        env = {**os.environ, "TSUNAGU_NATS_URL": url, "TSUNAGU_DATA_DIR": str(self.data_dir)}
        exe = [sys.executable, "-m", "tsunagu"]
        self.children = [Child(name, [*exe, "run", name], self._identity("service", name))
                         for name in SERVICES]
        if importlib.util.find_spec("tsunagu.ops.console") is not None:
            self.children.append(
                Child(
                    "console",
                    [
                        *exe,
                        "console",
                        "--host",
                        self.console_host,
                        "--port",
                        str(self.console_port),
                    ],
                    self._identity("admin", "deploy"),
                )
            )
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        for child in self.children:
            self._spawn(child, env)
        log.info(
            "platform up",
            nats=url,
            data_dir=str(self.data_dir),
            console=f"http://{self.console_host}:{self.console_port}",
        )
        if self.secured:
            print(self.secured.instructions(), flush=True)
        (self.data_dir / "nats.url").write_text(url + "\n")  # last: "up" for scripts and tests
        if self.demo:
            self._load_demo(exe, {**env, **self._identity("admin", "deploy")})
        self._wait_console()
        print(NEXT_STEPS.format(console=f"http://{self.console_host}:{self.console_port}"),
              flush=True)
        try:
            self._supervise(env)
        finally:
            self._shutdown()
        return 0

    def _start_nats(self) -> str:
        self.server = NatsServer(
            store_dir=self.data_dir / "nats",
            port=remembered_port(self.data_dir, self.nats_port), sync_always=self.sync_always
        )
        self.server.start()
        log.info("nats-server started", url=self.server.url, monitor=self.server.monitor_url)
        return self.server.url

    def _start_secure(self, prefix: str) -> str:
        from eventstore.topology import Topology
        from tsunagu.deploy.secure import SecureLocal

        self.secured = SecureLocal(self.data_dir, Topology(prefix), self.sync_always)
        return str(self.secured.start())

    def _identity(self, kind: str, name: str) -> dict[str, str]:
        """The child's own credentials in secured mode (none otherwise)."""
        return self.secured.env(kind, name) if self.secured else {}

    async def _provision(self, url: str, prefix: str, replicas: int) -> None:
        from eventstore.topology import Topology

        options = self.secured.connect_options("admin", "deploy") if self.secured else {}
        nc = await nats.connect(url, **options)
        try:
            days = load_settings().disclosure_retention_days
            await provision(nc, Topology(prefix), StreamPolicy(
                replicas=replicas, disclosure_max_age_days=days))
        finally:
            await nc.close()

    def _spawn(self, child: Child, env: dict[str, str]) -> None:
        child.proc = subprocess.Popen(child.argv, env={**env, **child.env})
        child.started = time.monotonic()
        log.info("started", process=child.name, pid=child.proc.pid)

    def _load_demo(self, exe: list[str], env: dict[str, str]) -> None:
        time.sleep(2.0)  # let the services subscribe
        subprocess.run([*exe, "demo"], env=env, check=False)

    def _supervise(self, env: dict[str, str]) -> None:
        while not self._stop:
            time.sleep(0.5)
            for child in self.children:
                if self._stop or child.proc is None or child.proc.poll() is None:
                    continue
                log.warning(
                    "process exited, restarting",
                    process=child.name,
                    code=child.proc.returncode,
                    restarts=child.restarts,
                )
                # Back off when a process dies right after starting (a crash loop).
                if time.monotonic() - child.started < 5:
                    self._pause(min(30, 2 ** min(child.restarts, 5)))
                if self._stop:
                    return
                child.restarts += 1
                self._spawn(child, env)

    def _wait_console(self) -> None:
        """Print "next, try" once the console listens (bounded: it may be failing)."""
        until = time.monotonic() + 30
        while not self._stop and time.monotonic() < until and self.console_port and port_free(
                self.console_port, self.console_host):
            time.sleep(0.2)

    def _pause(self, seconds: float) -> None:
        """Sleep, but wake at once on Ctrl-C (a back-off must not delay stopping)."""
        until = time.monotonic() + seconds
        while not self._stop and time.monotonic() < until:
            time.sleep(0.1)

    def _on_signal(self, signum: int, _frame: object) -> None:
        self._stop = True

    def _shutdown(self) -> None:
        log.info("stopping")
        for child in self.children:
            if child.proc and child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for child in self.children:
            if child.proc:
                try:
                    child.proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.proc.kill()
        if self.server:
            self.server.stop()
        if self.secured:
            self.secured.stop()
        log.info("stopped")
