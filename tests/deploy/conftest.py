"""A secured nats-server (nkey users from an auth dir, optionally TLS) per module."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client

from eventstore.provision import provision
from eventstore.topology import Topology
from tsunagu.deploy.client import ensure_feed_consumer
from tsunagu.deploy.cluster import LocalCluster
from tsunagu.deploy.identities import AuthDir, client_inbox_prefix


@dataclass
class Secured:
    """One secured node, its auth dir, and the credentials issued so far."""

    cluster: LocalCluster
    auth: AuthDir
    topology: Topology
    creds_dir: Path
    creds: dict[str, Path] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.cluster.nodes[0].url

    def issue(self, kind: str, name: str) -> Path:
        issued = self.auth.issue(kind, name, self.creds_dir / f"{kind}-{name}.nk")
        self.creds[f"{kind}:{name}"] = issued.creds_file
        return issued.creds_file


class Probe:
    """Collects the asynchronous errors the server sends a client (-ERR …)."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self._changed = asyncio.Event()

    async def error_cb(self, exc: Exception) -> None:
        self.errors.append(str(exc))
        self._changed.set()

    async def wait_for(self, fragment: str, timeout: float = 5.0) -> str:
        async def scan() -> str:
            while True:
                for err in self.errors:
                    # nats-server 2.15 sends its -ERR text in lower case.
                    if fragment.lower() in err.lower():
                        return err
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(scan(), timeout)


Connect = Callable[..., Awaitable[tuple[Client, Probe]]]


IDENTITIES = (
    ("admin", "deploy"), ("service", "kittest"), ("operator", "ops"),
    ("agency", "A"), ("agency", "B"), ("agency", "R"), ("agency", "Q"),
)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    root = tmp_path_factory.mktemp("secured")
    topology = Topology(prefix=f"s{uuid.uuid4().hex[:8]}")
    auth = AuthDir(root / "auth", topology)
    creds = {f"{k}:{n}": auth.issue(k, n, root / "creds" / f"{k}-{n}.nk").creds_file
             for k, n in IDENTITIES}
    cluster = LocalCluster(root / "nodes", size=1, auth_conf=auth.auth_conf)
    cluster.start()
    yield Secured(cluster, auth, topology, root / "creds", creds)
    cluster.stop()


@pytest.fixture(scope="module")
async def provisioned(secured: Secured) -> Secured:
    nc = await nats.connect(secured.url, nkeys_seed=str(secured.creds["admin:deploy"]))
    try:
        await provision(nc, secured.topology)
        for kind, name in IDENTITIES:
            if kind == "agency":
                await ensure_feed_consumer(nc, secured.topology, name)
    finally:
        await nc.close()
    return secured


@pytest.fixture
async def connect(provisioned: Secured) -> AsyncIterator[Connect]:
    """``nc, probe = await connect("agency", "A")``: a client with that identity's creds."""
    clients: list[Client] = []

    async def open_(kind: str, name: str, **options: Any) -> tuple[Client, Probe]:
        probe = Probe()
        prefix = client_inbox_prefix(kind, name)
        extra: dict[str, Any] = {"inbox_prefix": prefix} if prefix else {}
        nc = await nats.connect(
            provisioned.url,
            nkeys_seed=str(provisioned.creds[f"{kind}:{name}"]),
            error_cb=probe.error_cb,
            max_reconnect_attempts=options.pop("max_reconnect_attempts", 3),
            reconnect_time_wait=0.1,
            **extra,
            **options,
        )
        clients.append(nc)
        return nc, probe

    yield open_
    for nc in clients:
        with contextlib.suppress(Exception):
            await nc.close()
