"""`tsunagu up --secure`: the secured deployment on one machine, embedded — one nats-server
from the wheel with mutual TLS (a pinned certificate per identity), the accounts of
``accounts.py`` and nkey credentials for the admin, the operator and each service, all
written under the data dir (``certs/``, ``auth/``, ``env/``). Agencies are added exactly as
in production: directory import, ``tsunagu creds issue``, ``tsunagu certs issue``.

Usage::

    local = SecureLocal(Path("data"), Topology())
    url = local.start()               # certificates and credentials made on first use
    env = local.env("service", "referral")   # what `tsunagu run referral` needs
    local.stop()
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventstore.topology import Topology
from tsunagu.deploy.certs import CertPaths, generate, issue_client
from tsunagu.deploy.cluster import LocalCluster
from tsunagu.deploy.identities import AuthDir, client_inbox_prefix
from tsunagu.services import SERVICES

IDENTITIES = (("admin", "deploy"), ("operator", "ops"), *(("service", s) for s in SERVICES))


@dataclass
class SecureLocal:
    data_dir: Path
    topology: Topology
    sync_always: bool = True
    cluster: LocalCluster | None = None

    @property
    def certs(self) -> CertPaths:
        return CertPaths(self.data_dir / "certs")

    @property
    def auth(self) -> AuthDir:
        return AuthDir(self.data_dir / "auth", self.topology)

    def creds(self, kind: str, name: str) -> Path:
        return self.auth.path / "creds" / f"{kind}-{name}.nk"

    def prepare(self) -> None:
        """Certificates and credentials for the platform's own identities (kept across
        restarts: only what is missing is made)."""
        if not self.certs.ca.exists():
            generate(self.certs.dir, clients=())
        registered = self.auth.load()
        for kind, name in IDENTITIES:
            if f"{kind}:{name}" not in registered or not self.creds(kind, name).exists():
                self.auth.issue(kind, name, self.creds(kind, name))
            if not self.certs.client_cert(name).exists():
                issue_client(self.certs, name)
        self.auth.render()

    def start(self) -> str:
        self.prepare()
        self.cluster = LocalCluster(self.data_dir / "nats-secure", size=1, certs=self.certs,
                                    auth_conf=self.auth.auth_conf,
                                    sync_always=self.sync_always, name_prefix="secure")
        self.cluster.start()
        self.write_env_files()
        return self.url

    @property
    def url(self) -> str:
        assert self.cluster is not None, "start() first"
        return self.cluster.urls[0]

    @property
    def pid_file(self) -> Path:
        assert self.cluster is not None, "start() first"
        return self.cluster.pid_files[0]

    def env(self, kind: str, name: str) -> dict[str, str]:
        """The TSUNAGU_* settings of one identity."""
        out = {
            "TSUNAGU_NATS_URL": self.url,
            "TSUNAGU_PREFIX": self.topology.prefix,
            "TSUNAGU_NATS_NKEY_SEED": str(self.creds(kind, name).resolve()),
            "TSUNAGU_NATS_TLS_CA": str(self.certs.ca.resolve()),
            "TSUNAGU_NATS_TLS_CERT": str(self.certs.client_cert(name).resolve()),
            "TSUNAGU_NATS_TLS_KEY": str(self.certs.client_key(name).resolve()),
        }
        if prefix := client_inbox_prefix(kind, name):
            out["TSUNAGU_NATS_INBOX_PREFIX"] = prefix
        return out

    def connect_options(self, kind: str, name: str) -> dict[str, Any]:
        ctx = ssl.create_default_context(cafile=str(self.certs.ca))
        ctx.load_cert_chain(str(self.certs.client_cert(name)), str(self.certs.client_key(name)))
        return {"nkeys_seed": str(self.creds(kind, name)), "tls": ctx}

    def write_env_files(self) -> None:
        """``env/<kind>-<name>.env`` (``source`` it) for the admin and the operator."""
        for kind, name in (("admin", "deploy"), ("operator", "ops")):
            path = self.data_dir / "env" / f"{kind}-{name}.env"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(f"export {k}={v}\n" for k, v in self.env(kind, name).items()))

    def instructions(self) -> str:
        d, pid = self.data_dir, self.pid_file
        return (
            f"secured platform up on {self.url} (TLS, accounts, per-identity credentials)\n"
            f"As the admin:  source {d}/env/admin-deploy.env\n"
            f"Add an agency A (as the admin):\n"
            f"  tsunagu directory import agencies.csv          # A must be in the directory\n"
            f"  tsunagu creds issue A --data-dir {d} --reload {pid}\n"
            f"  tsunagu certs issue A --dir {d}/certs --reload {pid}\n"
            f"Then connect as A with: TSUNAGU_NATS_URL={self.url} "
            f"TSUNAGU_NATS_TLS_CA={self.certs.ca}\n"
            f"  TSUNAGU_NATS_NKEY_SEED={self.auth.path}/creds/agency-A.nk "
            f"TSUNAGU_NATS_INBOX_PREFIX=_INBOX.agency.A\n"
            f"  TSUNAGU_NATS_TLS_CERT={self.certs.client_cert('A')} "
            f"TSUNAGU_NATS_TLS_KEY={self.certs.client_key('A')}\n"
        )

    def stop(self) -> None:
        if self.cluster:
            self.cluster.stop()
