"""`tsunagu tail`: readable lines, filters, masking, and the audited --reveal."""

from __future__ import annotations

import asyncio
import json
from datetime import date

from tests.helpers import register_agency, send
from tsunagu.ops.render import MASK

SECRET_NAME = "秘密 花子"


async def seed_case(services, store) -> dict:
    """Sent as commands: a referral triaged into a case (ag-coord), and a case ag-other
    opened itself; returns the ids and the sequence of the last event."""
    for agency in ("ag-houkatsu", "ag-coord", "ag-other"):
        await register_agency(store, agency, can_triage=agency == "ag-coord")
    await services("referral", "casefile")
    nc, topology = store.nc, store.topology
    submitted = await _ok(nc, topology, "ag-houkatsu", "submit_referral", {
        "contact_route": "phone", "concerns": ["income"],
        "personal": {"name": SECRET_NAME, "phone": "090-0000-0000",
                     "summary": "家賃を滞納している"}})
    referral_id = submitted["ids"]["referral_id"]
    triaged = await _ok(nc, topology, "ag-coord", "triage_referral",
                        {"referral_id": referral_id, "outcome": "complex"})
    other = await _ok(nc, topology, "ag-other", "open_case", {
        "program": "outreach", "subject": {"person_id": "p-2"},
        "opened_on": date.today().isoformat()})
    return {"referral": referral_id, "case": triaged["ids"]["case_id"],
            "other": other["ids"]["case_id"],
            "last": (await store.js.stream_info(topology.events_stream)).state.last_seq}


async def _ok(nc, topology, agency: str, command: str, body: dict) -> dict:
    reply = await send(nc, topology, agency, command, {"command_id": f"{command}-1", **body})
    assert reply["ok"], reply
    return reply


async def test_tail_prints_one_masked_line_per_event(services, store, cli):
    ids = await seed_case(services, store)
    result = await cli("tail")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == ids["last"] == 12  # 3 agencies, referral 2, case 4, other case 3
    assert lines[0].startswith("#1 ") and "AgencyRegistered" in lines[0]
    assert f"ReferralSubmitted referral/{ids['referral']} by ag-houkatsu" in lines[3]
    assert f"personal={MASK}" in lines[3]
    assert SECRET_NAME not in result.stdout
    assert f"CaseOpened case/{ids['case']}" in lines[5] and "coordinator=ag-coord" in lines[5]


async def test_tail_filters_by_case_type_and_agency(services, store, cli):
    ids = await seed_case(services, store)
    by_case = (await cli("tail", "--case", ids["other"])).stdout.strip().splitlines()
    assert len(by_case) == 3 and all(f"case/{ids['other']}" in line for line in by_case)
    by_type = (await cli("tail", "--type", "ReferralSubmitted")).stdout.strip().splitlines()
    assert len(by_type) == 1 and "ReferralSubmitted" in by_type[0]
    by_agency = (await cli("tail", "--agency", "ag-coord")).stdout.strip().splitlines()
    # Its own entry in the directory, then what it triaged and opened.
    assert [line.split()[0] for line in by_agency] == ["#2", "#5", "#6", "#7", "#8", "#9"]
    assert all("ag-coord" in line for line in by_agency)
    since = (await cli("tail", "--since", "10")).stdout.strip().splitlines()
    assert [line.split()[0] for line in since] == ["#10", "#11", "#12"]
    recent = (await cli("tail", "--since", "10m", "--json")).stdout.strip().splitlines()
    docs = [json.loads(line) for line in recent]
    assert [d["seq"] for d in docs] == list(range(1, 13))
    assert docs[3]["event"]["personal"] == MASK


async def test_tail_refuses_a_since_that_is_neither_a_sequence_nor_a_duration(cli):
    result = await cli("tail", "--since", "yesterday")
    assert result.exit_code == 1
    assert "--since 'yesterday'" in result.output and "duration" in result.output


async def test_reveal_is_refused_to_an_operator_not_allowed_and_nothing_is_appended(
    services, nc, topology, store, cli
):
    last = (await seed_case(services, store))["last"]
    result = await cli("tail", "--reveal", "--reason", "調査", "--operator", "mallory",
                       extra_env={"TSUNAGU_OPERATORS": "alice,bob"})
    assert result.exit_code == 2
    assert "reveal_not_allowed" in result.output and "mallory" in result.output
    assert SECRET_NAME not in result.output
    info = await nc.jetstream().stream_info(topology.events_stream)
    assert info.state.last_seq == last


async def test_reveal_needs_a_reason_and_appends_nothing_without_one(
    services, nc, topology, store, cli
):
    last = (await seed_case(services, store))["last"]
    result = await cli("tail", "--reveal", "--operator", "alice",
                       extra_env={"TSUNAGU_OPERATORS": "alice"})
    assert result.exit_code == 2 and "--reason is required" in result.output
    assert (await nc.jetstream().stream_info(topology.events_stream)).state.last_seq == last


async def test_reveal_by_an_allowed_operator_shows_personal_data_and_is_recorded(
    services, nc, topology, store, cli
):
    last = (await seed_case(services, store))["last"]
    result = await cli("tail", "--type", "ReferralSubmitted", "--reveal", "--reason",
                       "苦情対応の確認", "--operator", "alice",
                       extra_env={"TSUNAGU_OPERATORS": "alice"})
    assert result.exit_code == 0, result.output
    assert SECRET_NAME in result.stdout
    audit = (await cli("tail", "--type", "PersonalDataRevealed", "--json")).stdout
    [doc] = [json.loads(line) for line in audit.strip().splitlines()]
    assert doc["seq"] == last + 1
    assert doc["event"]["operator"] == "alice"
    assert doc["event"]["reason"] == "苦情対応の確認"
    assert "type=ReferralSubmitted" in doc["event"]["scope"]


async def test_tail_follow_prints_an_event_appended_while_it_runs(
    services, nc, topology, store, cli
):
    last = (await seed_case(services, store))["last"]
    running = asyncio.ensure_future(
        cli("tail", "--follow", "--since", str(last + 1), "--limit", "1")
    )
    await asyncio.sleep(0.5)
    assert not running.done()
    live = await _ok(nc, topology, "ag-coord", "open_case", {
        "program": "outreach", "subject": {"person_id": "p-9"},
        "opened_on": date.today().isoformat()})
    result = await asyncio.wait_for(running, 20)
    assert result.exit_code == 0, result.output
    assert f"CaseOpened case/{live['ids']['case_id']}" in result.stdout
    assert result.stdout.startswith(f"#{last + 1} ")


async def test_tail_limit_shows_the_last_events_like_tail_n(services, store, cli):
    ids = await seed_case(services, store)
    last = ids["last"]
    two = (await cli("tail", "--limit", "2")).stdout.strip().splitlines()
    assert [line.split()[0] for line in two] == [f"#{last - 1}", f"#{last}"]
    one_of_case = (await cli("tail", "--case", ids["case"], "--limit", "1")).stdout.strip()
    assert one_of_case.startswith(f"#{last - 3} ") and f"case/{ids['case']}" in one_of_case
    first_from = (await cli("tail", "--since", "1", "--limit", "1")).stdout.strip()
    assert first_from.startswith("#1 ")


async def test_a_stream_the_reader_cannot_read_fails_naming_the_stream(nc):
    """The operators' reader reads with the kit's direct get; a failed read stays the
    tools' RuntimeError (exit 1 with the message), not a command refusal."""
    import pytest

    from tsunagu.ops import reader

    with pytest.raises(RuntimeError, match=r"reading NO_SUCH_STREAM failed: 503"):
        [raw async for raw in reader.history(nc, "NO_SUCH_STREAM", "x.>")]
