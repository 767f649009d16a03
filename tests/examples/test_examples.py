"""The example agency systems (examples/python, examples/typescript) run against the secured
single-node platform (`tsunagu up --secure`'s SecureLocal): each connects with its own
agency's nkey, certificate and inbox prefix, submits a referral, sees a refusal as an
error, and reads its feed message through its durable consumer once the referral is
triaged into a case. One server for the module."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import nats
import pytest

from eventstore.provision import StreamPolicy, provision
from eventstore.service import build_app
from eventstore.settings import Settings
from eventstore.topology import Topology
from services.referral.directory_import import import_directory
from tsunagu.deploy.certs import issue_client
from tsunagu.deploy.client import ensure_feed_consumer
from tsunagu.deploy.identities import client_inbox_prefix
from tsunagu.deploy.secure import SecureLocal
from tsunagu.services import SERVICES, spec_factory

ROOT = Path(__file__).resolve().parents[2]
AGENCIES = ("fukushi", "pyagency", "tsagency")
DIRECTORY = "agency_id,name,category,verified_at,can_triage\n" + "".join(
    f"{a},{a},地域包括支援センター,2026-04-01,{'yes' if a == 'fukushi' else ''}\n"
    for a in AGENCIES)


async def _connect(local: SecureLocal, kind: str, name: str) -> nats.NATS:
    prefix = client_inbox_prefix(kind, name)
    return await nats.connect(local.url, **local.connect_options(kind, name),
                              **({"inbox_prefix": prefix} if prefix else {}))


@pytest.fixture(scope="module")
async def platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SecureLocal]:
    root = tmp_path_factory.mktemp("examples")
    local = SecureLocal(root / "data", Topology(prefix=f"x{uuid.uuid4().hex[:8]}"),
                        sync_always=False)
    local.prepare()
    for agency in AGENCIES:
        local.auth.issue("agency", agency, local.creds("agency", agency))
        issue_client(local.certs, agency)
    local.start()
    apps = []
    admin = await _connect(local, "admin", "deploy")
    try:
        await provision(admin, local.topology, StreamPolicy(replicas=1))
        result = await import_directory(admin, local.topology, "directory.csv",
                                        DIRECTORY.encode(), today=date(2026, 4, 1))
        assert result.applied, result.errors
        for agency in AGENCIES:
            await ensure_feed_consumer(admin, local.topology, agency)
        for service in SERVICES:
            env = local.env("service", service)
            settings = Settings(
                nats_url=local.url, prefix=local.topology.prefix,
                data_dir=root / "svc" / service, replicas=1,
                nats_nkey_seed=Path(env["TSUNAGU_NATS_NKEY_SEED"]),
                nats_tls_ca=Path(env["TSUNAGU_NATS_TLS_CA"]),
                nats_tls_cert=Path(env["TSUNAGU_NATS_TLS_CERT"]),
                nats_tls_key=Path(env["TSUNAGU_NATS_TLS_KEY"]),
            )
            app, _ = build_app(spec_factory(service)(settings), settings)
            await app.start()
            apps.append(app)
        yield local
    finally:
        for app in reversed(apps):
            with contextlib.suppress(Exception):
                await app.stop()
        await admin.close()
        local.stop()


async def _run_example(local: SecureLocal, agency: str, argv: list[str], cwd: Path) -> list[dict]:
    """Run the example as ``agency``; triage its referral (as the coordinator) when it says
    it submitted one; return every line it printed."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TSUNAGU_")},
           **local.env("agency", agency), "TSUNAGU_AGENCY": agency, "EXAMPLE_WAIT": "60"}
    proc = await asyncio.create_subprocess_exec(*argv, cwd=cwd, env=env,
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    lines: list[dict[str, Any]] = []
    coordinator = await _connect(local, "agency", "fukushi")
    try:
        async for raw in proc.stdout:
            line = json.loads(raw)
            lines.append(line)
            if "submitted" in line:
                msg = await coordinator.request(
                    f"{local.topology.prefix}.cmd.fukushi.triage_referral",
                    json.dumps({"command_id": f"triage-{agency}", "outcome": "complex",
                                "referral_id": line["submitted"]["referral_id"]}).encode(),
                    timeout=10)
                triaged = json.loads(msg.data)
                assert triaged["ok"], triaged
                lines.append({"case_opened": triaged["ids"]["case_id"]})
        code = await asyncio.wait_for(proc.wait(), 90)
        assert code == 0, (await proc.stderr.read()).decode()
    finally:
        await coordinator.close()
        if proc.returncode is None:
            proc.kill()
    return lines


def _check(lines: list[dict], agency: str, prefix: str) -> None:
    submitted = next(x for x in lines if "submitted" in x)
    assert submitted["submitted"]["referral_id"]
    refused = next(x for x in lines if "refused" in x)
    assert "not_found" in refused["refused"]
    feed = [x for x in lines if "feed" in x]
    assert feed, lines
    assert all(x["feed"].startswith(f"{prefix}.feed.{agency}.") for x in feed)
    assert all(x["seq"] and x["kind"] for x in feed)
    # The case the referral was triaged into (or, with typed notices, the referral itself).
    case_id = next(x["case_opened"] for x in lines if "case_opened" in x)
    assert {x["about"] for x in feed} & {submitted["submitted"]["referral_id"], case_id}


@pytest.mark.timeout(180)
async def test_the_python_example_submits_a_referral_and_reads_its_feed(platform):
    lines = await _run_example(platform, "pyagency",
                               [sys.executable, str(ROOT / "examples/python/agency.py")], ROOT)
    _check(lines, "pyagency", platform.topology.prefix)


def _node_example() -> Path:
    ts = ROOT / "examples" / "typescript"
    if not (shutil.which("node") and shutil.which("npm")):
        if os.environ.get("CI"):
            pytest.fail("node and npm are required in CI (examples/typescript)")
        pytest.skip("node/npm not installed")
    if not (ts / "node_modules" / "nats").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=ts, check=True,
                       capture_output=True, timeout=300)
    subprocess.run(["npx", "tsc", "-p", "."], cwd=ts, check=True, capture_output=True,
                   timeout=120)
    return ts


@pytest.mark.timeout(240)
async def test_the_typescript_example_submits_a_referral_and_reads_its_feed(platform):
    ts = _node_example()
    lines = await _run_example(platform, "tsagency", ["node", "dist/agency.js"], ts)
    _check(lines, "tsagency", platform.topology.prefix)
