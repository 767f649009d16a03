"""The secured deployment as the product runs it: three nats-servers (mutual TLS with one
pinned client certificate per identity, accounts from ``tsunagu creds``, R3, fsync always),
the four services each with its own nkey credentials and certificate, agencies that
connect with theirs. Started once for the package; each test uses its own agencies'
connections (``Deployment.connect``)."""

from __future__ import annotations

import contextlib
import ssl
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client

from eventstore.provision import StreamPolicy, provision
from eventstore.service import build_app
from eventstore.settings import Settings
from eventstore.topology import Topology
from services.referral.directory_import import import_directory
from tsunagu.deploy.certs import CertPaths, generate, issue_client
from tsunagu.deploy.client import ensure_feed_consumer
from tsunagu.deploy.cluster import LocalCluster
from tsunagu.deploy.identities import AuthDir, client_inbox_prefix
from tsunagu.services import SERVICES, spec_factory

#: The directory of the flow: (id, category, can triage).
AGENCIES = (
    ("fukushi", "その他行政の担当部署", True),
    ("hokatsu", "地域包括支援センター", False),
    ("shakyo", "社会福祉協議会", False),
    ("hellowork", "ハローワーク", False),
    ("police", "警察", False),
)
DIRECTORY = "agency_id,name,category,verified_at,can_triage\n" + "".join(
    f"{a},{a},{c},2026-04-01,{'yes' if t else ''}\n" for a, c, t in AGENCIES
)


@dataclass
class Deployment:
    cluster: LocalCluster
    certs: CertPaths
    auth: AuthDir
    topology: Topology
    root: Path
    clients: list[Client] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return self.cluster.urls

    def creds(self, kind: str, name: str) -> Path:
        return self.root / "creds" / f"{kind}-{name}.nk"

    def tls(self, cert_name: str) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.certs.ca))
        ctx.load_cert_chain(str(self.certs.client_cert(cert_name)),
                            str(self.certs.client_key(cert_name)))
        return ctx

    def issue(self, kind: str, name: str) -> Path:
        """nkey credentials and a pinned client certificate, as `tsunagu creds issue` and
        `tsunagu certs issue` write them."""
        issue_client(self.certs, name)
        return self.auth.issue(kind, name, self.creds(kind, name)).creds_file

    async def connect(self, kind: str, name: str, servers: list[str] | None = None,
                      **options: Any) -> Client:
        prefix = client_inbox_prefix(kind, name)
        nc = await nats.connect(
            servers=servers or self.urls, nkeys_seed=str(self.creds(kind, name)),
            tls=self.tls(name),
            **({"inbox_prefix": prefix} if prefix else {}),
            **{"max_reconnect_attempts": 3, "reconnect_time_wait": 0.2, **options},
        )
        self.clients.append(nc)
        return nc

    def service_settings(self, service: str) -> Settings:
        return Settings(
            nats_url=",".join(self.urls), prefix=self.topology.prefix,
            data_dir=self.root / "svc" / service, replicas=3,
            nats_nkey_seed=self.creds("service", service),
            nats_tls_ca=self.certs.ca, nats_tls_cert=self.certs.client_cert(service),
            nats_tls_key=self.certs.client_key(service),
        )


async def _setup(d: Deployment) -> None:
    """What an administrator does once: provision R3, import the directory, create each
    agency's feed consumer (what `tsunagu creds issue` does for an agency)."""
    admin = await d.connect("admin", "deploy")
    await provision(admin, d.topology, StreamPolicy(replicas=3))
    result = await import_directory(admin, d.topology, "directory.csv", DIRECTORY.encode(),
                                    today=date(2026, 4, 1))
    assert result.applied, result.errors
    for agency, _, _ in AGENCIES:
        await ensure_feed_consumer(admin, d.topology, agency)


@pytest.fixture(scope="package")
async def deployment(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Deployment]:
    root = tmp_path_factory.mktemp("secure")
    certs = generate(root / "certs", clients=())
    topology = Topology(prefix=f"z{uuid.uuid4().hex[:8]}")
    auth = AuthDir(root / "auth", topology)
    cluster = LocalCluster(root / "nodes", size=3, certs=certs, auth_conf=auth.auth_conf)
    d = Deployment(cluster, certs, auth, topology, root)
    for kind, name in [("admin", "deploy"), ("operator", "ops"),
                       *(("service", s) for s in SERVICES),
                       *(("agency", a) for a, _, _ in AGENCIES)]:
        d.issue(kind, name)
    cluster.start()
    apps = []
    try:
        await _setup(d)
        for service in SERVICES:
            settings = d.service_settings(service)
            with pytest.MonkeyPatch.context() as env:
                # The notifier's own setting: the test's webhook receiver is on loopback.
                env.setenv("TSUNAGU_NOTIFY_ALLOW_PRIVATE_HOSTS", "true")
                spec = spec_factory(service)(settings)
            app, _ = build_app(spec, settings)
            await app.start()
            apps.append(app)
        yield d
    finally:
        for app in reversed(apps):
            with contextlib.suppress(Exception):
                await app.stop()
        for nc in d.clients:
            with contextlib.suppress(Exception):
                await nc.close()
        cluster.stop()
