"""`tsunagu send` drives the whole referral flow; `tsunagu inbox` and `triage-queue` show it."""

from __future__ import annotations

import asyncio
import json

from typer.testing import CliRunner

from tests.referral.support import cid, json_out, sheet, synced
from tsunagu.cli import build


async def test_an_operator_drives_the_flow_with_tsunagu_send_and_reads_the_inboxes(
    referral_rt, nc, topology, settings, tmp_path
):
    runner = CliRunner()
    env = {"TSUNAGU_PREFIX": topology.prefix}

    def cli(*args: str, stdin: str | None = None):
        return runner.invoke(build(), [*args, "--nats-url", settings.nats_url], input=stdin,
                             env=env)

    async def send(agency: str, command: str, payload: dict) -> dict:
        path = tmp_path / f"{payload['command_id']}.json"
        path.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        result = await asyncio.to_thread(cli, "send", agency, command, "--json", str(path))
        reply = json_out(result.output)
        assert result.exit_code == (0 if reply["ok"] else 1)
        return reply

    submitted = await send("hokatsu-kita", "submit_referral", sheet())
    referral_id = submitted["ids"]["referral_id"]
    await synced(referral_rt, nc, topology)
    queue = await asyncio.to_thread(cli, "triage-queue", "--as", "fukushi-sodan", "--json")
    assert [r["referral_id"] for r in json_out(queue.output)["waiting"]] == [referral_id]

    triaged = await send("fukushi-sodan", "triage_referral", {
        "command_id": cid(), "referral_id": referral_id, "outcome": "complex"})
    case_id = triaged["ids"]["case_id"]
    # Read from stdin too.
    stdin = json.dumps({"command_id": cid(), "case_id": case_id, "applied_on": "2025-06-10",
                        "with_consent": False})
    applied = await asyncio.to_thread(cli, "send", "hokatsu-kita", "record_application",
                                      "--json", "-", stdin=stdin)
    assert applied.exit_code == 0 and json_out(applied.output)["ok"]
    again = await send("fukushi-seisaku", "triage_referral", {
        "command_id": cid(), "referral_id": referral_id, "outcome": "complex"})
    assert again["error"]["code"] == "already_triaged"

    await synced(referral_rt, nc, topology)
    sent = await asyncio.to_thread(cli, "inbox", "--as", "hokatsu-kita", "--json")
    rows = json_out(sent.output)["sent"]
    assert [(r["referral_id"], r["status"], r["case_id"]) for r in rows] == [
        (referral_id, "triaged", case_id)
    ]
    table = await asyncio.to_thread(cli, "inbox", "--as", "fukushi-sodan")
    assert table.exit_code == 0 and "振り分け済" in table.output
    # For people: whole ids (copyable), dates, Japanese labels, times in JST with the zone.
    assert referral_id in table.output and case_id in table.output
    assert "重層案件" in table.output and "complex" not in table.output
    assert "JST" in table.output and "受付日" in table.output
    assert "…" not in table.output
    stranger = await asyncio.to_thread(cli, "inbox", "--as", "nobody")
    assert stranger.exit_code == 1 and "not an active entry" in stranger.output


def test_send_with_a_missing_payload_file_names_the_file_without_a_traceback(tmp_path):
    missing = tmp_path / "missing.json"
    result = CliRunner().invoke(build(), ["send", "ag-a", "submit_referral", "--json",
                                          str(missing), "--nats-url", "nats://127.0.0.1:1"])
    assert result.exit_code == 2
    assert "missing.json" in result.output and "No such file" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
