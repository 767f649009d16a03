"""Files a deployment directory needs before `docker compose up` (or a Helm install):
certificates, nkey credentials for each service, the admin and an operator, auth.conf, and
the three nodes' configs. Secrets are generated here, never committed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from eventstore.topology import Topology
from tsunagu.deploy.certs import DEFAULT_HOSTS, generate
from tsunagu.deploy.identities import AuthDir
from tsunagu.deploy.serverconf import NodeConfig, TlsFiles, cluster_nodes
from tsunagu.services import SERVICES

NODES = ("nats-1", "nats-2", "nats-3")
#: Paths inside the nats containers (deploy/compose.yaml mounts them).
CONTAINER_TLS = TlsFiles("/etc/nats/certs/server.pem", "/etc/nats/certs/server-key.pem",
                         "/etc/nats/certs/ca.pem")
#: Clients: only the certificates pinned by `tsunagu certs issue` (routes use CONTAINER_TLS).
CLIENT_TLS = replace(CONTAINER_TLS, pinned_include="certs/pinned.conf")


def compose_node_configs() -> list[NodeConfig]:
    return cluster_nodes(
        NODES, store_dir="/data", tls=CLIENT_TLS, cluster_tls=CONTAINER_TLS,
        auth_include="auth/auth.conf", pid_file="/data/nats.pid", sync_always=True,
    )


def write_node_configs(deploy_dir: Path) -> list[Path]:
    out = []
    for config in compose_node_configs():
        path = deploy_dir / "nats" / f"{config.name}.conf"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(config.render())
        out.append(path)
    return out


def bootstrap(deploy_dir: Path, prefix: str = "tsunagu") -> AuthDir:
    """Certificates, credentials and auth.conf under ``deploy_dir`` (skips what exists)."""
    if not (deploy_dir / "certs" / "ca.pem").exists():
        generate(deploy_dir / "certs", hosts=DEFAULT_HOSTS,
                 clients=(*SERVICES, "admin", "ops"))
    auth = AuthDir(deploy_dir / "auth", Topology(prefix))
    existing = auth.load()
    wanted = [("service", s) for s in SERVICES] + [("admin", "deploy"), ("operator", "ops")]
    for kind, name in wanted:
        if f"{kind}:{name}" not in existing:
            auth.issue(kind, name, deploy_dir / "creds" / f"{kind}-{name}.nk")
    auth.render()
    write_node_configs(deploy_dir)
    return auth
