"""deploy/: compose.yaml parses and references only files that exist once bootstrapped; the
node configs are the generator's output and nats-server accepts them."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from eventstore.natsserver import nats_server_binary
from tsunagu.deploy.bootstrap import compose_node_configs, write_node_configs
from tsunagu.deploy.cli import cluster_bootstrap

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def bootstrapped(tmp_path: Path) -> Path:
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy, ignore=shutil.ignore_patterns("certs", "creds", "auth"))
    cluster_bootstrap(copy, prefix="tsunagu")
    return copy


def test_the_committed_node_configs_are_what_the_generator_writes(tmp_path: Path):
    for path in write_node_configs(tmp_path):
        assert (DEPLOY / "nats" / path.name).read_text() == path.read_text(), path.name
    rendered = compose_node_configs()[0].render()
    assert "sync_interval: always" in rendered
    assert rendered.count("verify: true") == 2  # clients and routes both need our CA


def test_compose_references_only_files_that_exist_after_bootstrap(tmp_path: Path):
    deploy = bootstrapped(tmp_path)
    doc = yaml.safe_load((deploy / "compose.yaml").read_text())
    assert {
        "nats-1",
        "nats-2",
        "nats-3",
        "postgres",
        "setup",
        "referral",
        "casefile",
        "meeting",
        "stats",
    } <= set(doc["services"])
    mounts: dict[str, Path] = {}
    for name, svc in doc["services"].items():
        for volume in svc.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith("."):
                assert (deploy / source).exists(), f"{name}: {source} does not exist"
                mounts[target] = deploy / source
        build = svc.get("build")
        if build:
            context = DEPLOY / build["context"]  # the real repository, not the copy
            assert (context / build["dockerfile"]).exists()
            assert (context / "pyproject.toml").exists()
    # Every file a service is told about by environment is inside a mounted directory.
    for name, svc in doc["services"].items():
        for key, value in (svc.get("environment") or {}).items():
            if not (isinstance(value, str) and value.startswith("/run/tsunagu/")):
                continue
            mount = next(t for t in mounts if value.startswith(t + "/"))
            assert (mounts[mount] / value[len(mount) + 1 :]).exists(), f"{name}: {key}={value}"
        assert "TSUNAGU_NATS_URL" in (svc.get("environment") or {}) or name.startswith(
            ("nats", "postgres")
        )


def test_nats_server_accepts_the_compose_node_configs(tmp_path: Path):
    deploy = bootstrapped(tmp_path)
    for i in (1, 2, 3):
        text = (deploy / "nats" / f"nats-{i}.conf").read_text()
        text = text.replace("/etc/nats/certs", str(deploy / "certs"))
        text = re.sub(r'"/data[^"]*"', f'"{tmp_path}/data"', text)
        conf = deploy / "nats" / f"local-{i}.conf"  # same directory: the include resolves
        text = text.replace('include "certs/pinned.conf"', 'include "../certs/pinned.conf"')
        conf.write_text(text.replace('include "auth/auth.conf"', 'include "../auth/auth.conf"'))
        result = subprocess.run(
            [nats_server_binary(), "-t", "-c", str(conf)],
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert result.returncode == 0, result.stderr + result.stdout


def test_the_monitoring_port_is_never_published_nor_bound_beyond_loopback(tmp_path: Path):
    """Finding 7: 8222 has no authentication."""
    deploy = bootstrapped(tmp_path)
    for i in (1, 2, 3):
        text = (deploy / "nats" / f"nats-{i}.conf").read_text()
        assert 'http: "127.0.0.1:8222"' in text
        assert 'include "certs/pinned.conf"' in text  # one pinned certificate per client
    doc = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    for name, svc in doc["services"].items():
        assert not any("8222" in str(p) for p in svc.get("ports", [])), name


def test_the_kubernetes_manifest_runs_every_service_configured_by_environment_only():

    from tsunagu.services import SERVICES

    path = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "tsunagu-services.yaml"
    docs = list(yaml.safe_load_all(path.read_text()))
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert set(deployments) == {f"tsunagu-{s}" for s in SERVICES}
    for service in SERVICES:
        [container] = deployments[f"tsunagu-{service}"]["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["tsunagu", "run", service]
        assert "args" not in container  # no flags: configuration comes from the environment
        assert any(e["name"] == "TSUNAGU_NATS_NKEY_SEED" for e in container["env"])
