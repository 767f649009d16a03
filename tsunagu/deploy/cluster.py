"""Run nats-server nodes from the wheel on loopback: one secured node, or a 3-node cluster.

Used by ``tsunagu cluster up`` (a local cluster for trying things out) and by the tests,
which kill and restart nodes mid-flow.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from eventstore.natsserver import ServerProcess, free_port, nats_server_binary
from tsunagu.deploy.certs import CertPaths
from tsunagu.deploy.serverconf import NodeConfig, TlsFiles, cluster_nodes


def _http_ok(port: int, path: str) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), 0.3) as s:
            s.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
            return b" 200 " in s.recv(200)
    except OSError:
        return False


def _store_dir_served(port: int) -> str | None:
    """The JetStream store directory of the server answering on ``port`` (its /varz)."""
    try:
        with socket.create_connection(("127.0.0.1", port), 0.5) as s:
            s.sendall(b"GET /varz HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        varz = json.loads(data.split(b"\r\n\r\n", 1)[1])
        return str(varz.get("jetstream", {}).get("config", {}).get("store_dir", ""))
    except (OSError, ValueError, IndexError):
        return None


class PortTaken(RuntimeError):
    """Another process answers on a port this node was given."""


@dataclass
class Node(ServerProcess):
    config: NodeConfig
    dir: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def conf_file(self) -> Path:
        return self.dir / "nats.conf"

    @property
    def pid_file(self) -> Path:
        return self.dir / "nats.pid"

    @property
    def url(self) -> str:
        scheme = "tls" if self.config.tls else "nats"
        return f"{scheme}://127.0.0.1:{self.config.client_port}"

    def write_config(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf_file.write_text(self.config.render())

    def spawn(self) -> None:
        self.write_config()
        log = open(self.dir / "nats.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [nats_server_binary(), "-c", str(self.conf_file)],
            stdout=log, stderr=log, start_new_session=True,
        )
        log.close()

    def wait_ready(self, timeout: float = 20.0, path: str = "/healthz") -> None:
        """``/healthz`` answers 200 once JetStream is up and, in a cluster, current."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                code = self.proc.returncode if self.proc else None
                raise RuntimeError(
                    f"nats-server {self.config.name} exited with {code}; see {self.dir}/nats.log"
                )
            if _http_ok(self.config.http_port, path):
                # Ours, not another server on a port taken before ours could bind it.
                served = _store_dir_served(self.config.http_port)
                mine = Path(self.config.store_dir)
                if served is not None and Path(served) not in (mine, mine / "jetstream"):
                    raise PortTaken(f"{self.config.name}: port {self.config.http_port} is "
                                    f"served by another nats-server ({served})")
                return
            time.sleep(0.05)
        raise TimeoutError(f"nats-server {self.config.name} not ready on {self.url}")

    def reload(self) -> None:
        """Re-read the config (and the auth include): nats-server's SIGHUP."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGHUP)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class LocalCluster:
    """``size`` nodes on loopback in ``root/<name>/`` (1 = a single secured node)."""

    root: Path
    size: int = 3
    certs: CertPaths | None = None
    auth_conf: Path | None = None
    sync_always: bool = True
    name_prefix: str = "n"
    nodes: list[Node] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._build_nodes()

    def _build_nodes(self) -> None:
        """Each node's config, on ports free now (a later start may find one taken)."""
        self.nodes = []
        names = tuple(f"{self.name_prefix}{i}" for i in range(1, self.size + 1))
        tls = None
        if self.certs:
            tls = TlsFiles(str(self.certs.server_cert), str(self.certs.server_key),
                           str(self.certs.ca))
        common: dict[str, object] = {"sync_always": self.sync_always, "tls": tls,
                                     "cluster_tls": tls}
        ports = tuple(free_port() for _ in names)
        configs = cluster_nodes(
            names,
            store_dir=str(self.root / "{name}" / "store"),
            hosts=("127.0.0.1",) * self.size,
            client_ports=ports,
            http_ports=tuple(free_port() for _ in names),
            cluster_ports=tuple(free_port() for _ in names),
            listen_host="127.0.0.1",
            **common,
        )
        for config in configs:
            node_dir = self.root / config.name
            include = None
            if self.auth_conf:
                include = os.path.relpath(self.auth_conf, node_dir)
            if self.certs and self.certs.pinned.exists() and config.tls:
                pinned = replace(config.tls, pinned_include=os.path.relpath(
                    self.certs.pinned, node_dir))
                config = replace(config, tls=pinned)  # routes keep the unpinned block
            if self.size == 1:
                config = _single(config)
            self.nodes.append(Node(
                _replace(config, auth_include=include, pid_file=str(node_dir / "nats.pid")),
                node_dir,
            ))

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    def start(self, timeout: float = 30.0, attempts: int = 3) -> None:
        """Start every node. A port picked free at construction may be taken by the time
        the node binds it (other processes on the host): then every node gets new ports
        and the cluster starts again, up to ``attempts`` times."""
        for attempt in range(1, attempts + 1):
            for node in self.nodes:
                node.spawn()
            try:
                for node in self.nodes:
                    node.wait_ready(timeout)
                return
            except (RuntimeError, TimeoutError) as exc:
                taken = isinstance(exc, PortTaken) or self._a_port_was_taken()
                self.stop()  # nodes run in their own session: they would outlive the caller
                if attempt == attempts or not taken:
                    raise
                for node in self.nodes:  # a fresh log, so the next failure reads as its own
                    log = node.dir / "nats.log"
                    if log.exists():
                        log.rename(node.dir / f"nats.{attempt}.log")
                self._build_nodes()

    def _a_port_was_taken(self) -> bool:
        return any("address already in use" in _tail(n.dir / "nats.log") for n in self.nodes)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def reload(self) -> None:
        for node in self.nodes:
            node.reload()

    @property
    def pid_files(self) -> list[Path]:
        return [n.pid_file for n in self.nodes]


def _tail(path: Path, size: int = 4096) -> str:
    try:
        with path.open("rb") as f:
            f.seek(max(path.stat().st_size - size, 0))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _replace(config: NodeConfig, **changes: object) -> NodeConfig:
    from dataclasses import replace

    return replace(config, **changes)  # type: ignore[arg-type]


def _single(config: NodeConfig) -> NodeConfig:
    return _replace(config, routes=(), cluster_tls=None)
