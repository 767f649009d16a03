"""The AsyncAPI document covers every subject the services serve, and nothing else, and the
official AsyncAPI parser (``tools/asyncapi``, ``@asyncapi/parser`` from npm) accepts it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from contracts.export import asyncapi, export
from contracts.export_channels import NOTICE_TYPES
from eventstore.settings import Settings
from tsunagu.services import SERVICES, spec_factory

TOOLS = Path(__file__).resolve().parents[2] / "tools" / "asyncapi"


def served() -> dict[str, set[str]]:
    specs = [spec_factory(name)(Settings(nats_url="nats://127.0.0.1:1")) for name in SERVICES]
    return {
        "cmd": {c for s in specs for c in s.commands},
        "migrate": {c for s in specs for c in s.commands},
        "query": {q for s in specs for q in s.queries},
        "admin": {q for s in specs for q in s.operator_queries},
    }


def documented(doc: dict) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {"cmd": set(), "migrate": set(), "query": set(), "admin": set()}
    for channel in doc["channels"].values():
        m = re.fullmatch(r"tsunagu\.(cmd|migrate|query|admin)\.\{\w+\}\.(\w+)",
                         channel.get("address") or "")
        if m:
            out[m.group(1)].add(m.group(2))
    return out


def test_the_document_lists_every_command_query_and_migration_subject_served_and_no_other():
    assert documented(asyncapi()) == served()


def test_the_feed_channel_has_a_message_schema_for_each_kind_the_casefile_publishes():
    doc = asyncapi()
    feed = doc["channels"]["feed"]
    assert feed["address"] == "tsunagu.feed.{agency_id}.{about}.{kind}"
    kinds = {doc["components"]["messages"][ref["$ref"].rsplit("/", 1)[-1]]["x-kind"]
             for ref in feed["messages"].values()}
    # The kinds services/casefile/projection.py publishes (feed_subject(..., kind)).
    source = Path("services/casefile/projection.py").read_text()
    published = set(re.findall(r'feed_subject\([^)]*"(\w+)"\)', source))
    assert published and kinds == published | {n.model_fields["kind"].default
                                               for n in NOTICE_TYPES}


def test_the_document_names_a_dev_and_a_secured_server_with_its_security():
    doc = asyncapi()
    assert doc["servers"]["dev"]["protocol"] == "nats"
    secured = doc["servers"]["secured"]
    schemes = {ref["$ref"].rsplit("/", 1)[-1] for ref in secured["security"]}
    assert schemes == set(doc["components"]["securitySchemes"]) == {"agencyNkey", "mutualTls"}
    assert "_INBOX.agency.<agency_id>" in secured["description"]
    assert "tsunagu.jsapi" in secured["description"]


def npm_tools() -> Path:
    """``tools/asyncapi`` with its locked node_modules. In CI node and npm must be there."""
    if not (shutil.which("node") and shutil.which("npm")):
        if os.environ.get("CI"):
            pytest.fail("node and npm are required in CI (tools/asyncapi)")
        pytest.skip("node/npm not installed")
    if not (TOOLS / "node_modules" / "@asyncapi" / "parser").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=TOOLS, check=True,
                       capture_output=True, timeout=300)
    return TOOLS


@pytest.mark.timeout(180)
def test_the_official_asyncapi_parser_accepts_the_exported_document(tmp_path):
    tools = npm_tools()
    export(tmp_path)
    result = subprocess.run(["node", "validate.mjs", str(tmp_path / "asyncapi.json")],
                            cwd=tools, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VALID:" in result.stdout


@pytest.mark.timeout(180)
def test_the_parser_refuses_a_broken_document(tmp_path):
    tools = npm_tools()
    doc = {"asyncapi": "3.0.0", "info": {"title": "t", "version": "1"},
           "channels": {"feed": {"address": "tsunagu.feed.x", "messages": {
               "case": {"$ref": "#/components/messages/nope"}}}}}
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    result = subprocess.run(["node", "validate.mjs", str(tmp_path / "bad.json")],
                            cwd=tools, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "invalid-ref" in result.stdout


def test_contracts_export_html_renders_every_channel_and_the_rules_on_one_page(tmp_path):
    from typer.testing import CliRunner

    from tsunagu.cli import build

    result = CliRunner().invoke(build(), ["contracts", "export", str(tmp_path / "json"),
                                      "--html", str(tmp_path / "html")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "html" / "index.html").read_text(encoding="utf-8")
    doc = asyncapi()
    for channel in doc["channels"].values():
        if channel.get("address"):
            assert channel["address"] in page
    assert "required_for_ordinary" in page and "via_agency" in page
    assert 'href="#schemas-CaseView"' in page and 'id="schemas-CaseView"' in page
    assert "<script" not in page  # self-contained, nothing to fetch or run


def test_the_operator_actions_channel_names_every_action_the_kit_answers():
    source = Path("eventstore/admin.py").read_text()
    actions = set(re.findall(r'action == "(\w+)"', source))
    channel = asyncapi()["channels"]["admin_actions"]
    assert actions and set(channel["parameters"]["action"]["enum"]) == actions
    assert set(channel["parameters"]["service"]["enum"]) == set(SERVICES)


def test_each_command_channel_carries_its_own_commands_schema():
    # It once carried the last event's schema for every command.
    doc = asyncapi()
    schemas = doc["components"]["schemas"]
    for cid, channel in doc["channels"].items():
        if not cid.startswith("cmd_"):
            continue
        ref = channel["messages"]["request"]["$ref"].rsplit("/", 1)[-1]
        payload = doc["components"]["messages"][ref]["payload"]["$ref"].rsplit("/", 1)[-1]
        assert schemas[payload]["properties"]["type"]["const"] == cid.removeprefix("cmd_")
