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
from tests.helpers import eventually
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


def _validator(doc: dict[str, Any], message: str) -> Any:
    from jsonschema import Draft202012Validator

    payload = doc["components"]["messages"][message]["payload"]
    return Draft202012Validator({**payload, "components": doc["components"]})


@pytest.mark.timeout(120)
async def test_every_query_answers_in_the_shape_the_asyncapi_document_gives(platform):
    from contracts.export import asyncapi

    doc = asyncapi(platform.topology.prefix)
    prefix = platform.topology.prefix
    nc = {a: await _connect(platform, "agency", a) for a in ("fukushi", "pyagency")}

    async def ask(agency: str, subject: str, body: dict[str, Any]) -> dict[str, Any]:
        msg = await nc[agency].request(f"{prefix}.{subject}", json.dumps(body).encode(),
                                       timeout=10)
        return json.loads(msg.data)

    try:
        sent = await ask("pyagency", "cmd.pyagency.submit_referral", {
            "command_id": "q-1", "contact_route": "phone", "concerns": ["income"],
            "personal": {"summary": "相談", "phone": "090-0000-0000"}})
        referral_id = sent["ids"]["referral_id"]
        triaged = await ask("fukushi", "cmd.fukushi.triage_referral", {
            "command_id": "q-2", "referral_id": referral_id, "outcome": "complex"})
        case_id = triaged["ids"]["case_id"]
        applied = await ask("fukushi", "cmd.fukushi.record_application", {
            "command_id": "q-3", "case_id": case_id, "applied_on": date.today().isoformat(),
            "with_consent": True, "consent": {
                "agencies": ["fukushi", "pyagency"], "purposes": ["支援調整"],
                "method": "written", "given_on": date.today().isoformat(),
                "obtained_by_staff": "相談員A", "form_ref": "同意書-1"}})
        assert applied["ok"], applied

        async def full_view() -> bool:
            reply = await ask("fukushi", "query.fukushi.case_view", {"case_id": case_id})
            return reply["ok"] and reply["result"]["redacted"] is False

        await eventually(full_view, timeout=30)
        asks = {
            "inbox": ("pyagency", {}), "triage_queue": ("fukushi", {}),
            "referral": ("pyagency", {"referral_id": referral_id}),
            "directory": ("fukushi", {}),
            "consent_coverage": ("fukushi", {"case_id": case_id}),
            "consent_history": ("fukushi", {"case_id": case_id}),
            "case_view": ("pyagency", {"case_id": case_id}),
            "my_cases": ("fukushi", {}), "case_timeline": ("fukushi", {"case_id": case_id}),
            "meetings": ("fukushi", {"include_past": True}),
            "meeting_agenda": ("fukushi", {"meeting_id": "none"}),
            "meeting_minutes": ("fukushi", {"meeting_id": "none"}),
            "meeting_materials": ("fukushi", {"meeting_id": "none"}),
            "case_decisions": ("fukushi", {"case_id": case_id}),
            "meeting_counts": ("fukushi", {}),
            "stats_report": ("fukushi", {"as_of": date.today().isoformat()}),
            "notification_settings": ("pyagency", {}),
            "notification_deliveries": ("pyagency", {"limit": 10}),
        }
        assert set(asks) == {c["address"].rsplit(".", 1)[-1] for c in doc["channels"].values()
                             if ".query." in (c.get("address") or "")}
        answered = set()
        for name, (agency, args) in asks.items():
            assert _validator(doc, f"query_{name}").is_valid(args), (name, args)
            reply = await ask(agency, f"query.{agency}.{name}", args)
            errors = [e.message for e in _validator(doc, f"query_{name}_reply")
                      .iter_errors(reply)]
            assert errors == [], (name, reply, errors[:3])
            if reply["ok"]:
                answered.add(name)
        # Every query whose arguments name something that exists answered with a result.
        assert answered == set(asks) - {"meeting_agenda", "meeting_minutes",
                                        "meeting_materials"}
    finally:
        for c in nc.values():
            await c.close()


class LosesTheFirstReply:
    """A real connection whose first reply is lost after the platform stored the command
    (what a timeout looks like to a client): the request went through, the answer did not."""

    def __init__(self, nc: nats.NATS) -> None:
        self.nc, self.sent, self.headers = nc, [], []  # type: ignore[var-annotated]

    async def request(self, subject: str, body: bytes, timeout: float,
                      headers: dict[str, str] | None = None) -> Any:
        self.sent.append(body)
        self.headers.append(headers or {})
        reply = await self.nc.request(subject, body, timeout=timeout, headers=headers)
        if len(self.sent) == 1:
            raise nats.errors.TimeoutError
        return reply


@pytest.mark.timeout(60)
async def test_the_python_example_retries_a_lost_reply_with_the_same_bytes_and_stores_once(
    platform, monkeypatch
):
    import importlib.util

    monkeypatch.setenv("TSUNAGU_AGENCY", "pyagency")
    monkeypatch.setenv("TSUNAGU_PREFIX", platform.topology.prefix)
    spec = importlib.util.spec_from_file_location("agency_example",
                                                  ROOT / "examples/python/agency.py")
    assert spec and spec.loader
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    nc = await _connect(platform, "agency", "pyagency")
    try:
        flaky = LosesTheFirstReply(nc)
        reply = await example.send(flaky, "submit_referral", {
            "contact_route": "phone", "concerns": ["debt"],
            "personal": {"summary": "再送の例", "phone": "090-0000-0000"}})
        assert len(flaky.sent) == 2 and flaky.sent[0] == flaky.sent[1]
        assert all(int(h["Tsunagu-Deadline"]) > 10**12 for h in flaky.headers)  # epoch ms
        assert reply["replayed"] is True and reply["ids"]["referral_id"]
        referral_id = reply["ids"]["referral_id"]

        async def listed() -> list[dict[str, Any]]:
            inbox = await nc.request(f"{platform.topology.prefix}.query.pyagency.inbox",
                                     b"{}", timeout=10)
            return [r for r in json.loads(inbox.data)["result"]["sent"]
                    if r["referral_id"] == referral_id]

        async def stored() -> bool:
            return bool(await listed())

        await eventually(stored, timeout=20)
        assert len(await listed()) == 1
    finally:
        await nc.close()
