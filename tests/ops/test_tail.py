"""`tsunagu tail`: readable lines, filters, masking, and the audited --reveal."""

from __future__ import annotations

import asyncio
import json
from datetime import date

from contracts.base import Actor
from contracts.case import CaseOpened, CaseOrigin
from contracts.common import Concern, SubjectRef
from contracts.referral import ContactRoute, ReferralPersonal, ReferralSubmitted
from eventstore.codec import new_envelope
from eventstore.crypto import KeyRing
from tsunagu.ops.render import MASK

SECRET_NAME = "秘密 花子"


async def seed_case(nc, topology, store) -> int:
    keyring = await KeyRing.open(nc, topology)
    referral = await keyring.seal_event(ReferralSubmitted(
        referral_id="ref-1", person_id="p-1", referring_agency="ag-houkatsu",
        contact_route=ContactRoute.phone, concerns=(Concern.income,),
        personal=ReferralPersonal(name=SECRET_NAME, summary="家賃を滞納している"),
    ))
    opened = CaseOpened(case_id="case-1", subject=SubjectRef(person_id="p-1"),
                        referral_id="ref-1", origin=CaseOrigin.triage,
                        opened_on=date(2025, 5, 1), coordinator="ag-coord")
    other = CaseOpened(case_id="case-2", subject=SubjectRef(person_id="p-2"),
                       origin=CaseOrigin.outreach, opened_on=date(2025, 5, 2),
                       coordinator="ag-other")
    seqs = await store.append([new_envelope(referral, Actor(agency_id="ag-houkatsu"))])
    seqs += await store.append([new_envelope(opened, Actor(agency_id="ag-coord"))])
    seqs += await store.append([new_envelope(other, Actor(agency_id="ag-other"))])
    return seqs[-1]


async def test_tail_prints_one_masked_line_per_event(nc, topology, store, cli):
    await seed_case(nc, topology, store)
    result = await cli("tail")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("#1 ")
    assert "ReferralSubmitted referral/ref-1 by ag-houkatsu" in lines[0]
    assert f"personal={MASK}" in lines[0]
    assert SECRET_NAME not in result.stdout
    assert "case-1" in lines[1] and "coordinator=ag-coord" in lines[1]


async def test_tail_filters_by_case_type_and_agency(nc, topology, store, cli):
    await seed_case(nc, topology, store)
    by_case = (await cli("tail", "--case", "case-2")).stdout.strip().splitlines()
    assert len(by_case) == 1 and "case/case-2" in by_case[0]
    by_type = (await cli("tail", "--type", "ReferralSubmitted")).stdout.strip().splitlines()
    assert len(by_type) == 1 and "ReferralSubmitted" in by_type[0]
    by_agency = (await cli("tail", "--agency", "ag-coord")).stdout.strip().splitlines()
    assert len(by_agency) == 1 and "case/case-1" in by_agency[0]
    since = (await cli("tail", "--since", "2")).stdout.strip().splitlines()
    assert [line.split()[0] for line in since] == ["#2", "#3"]
    recent = (await cli("tail", "--since", "10m", "--json")).stdout.strip().splitlines()
    docs = [json.loads(line) for line in recent]
    assert [d["seq"] for d in docs] == [1, 2, 3]
    assert docs[0]["event"]["personal"] == MASK


async def test_tail_refuses_a_since_that_is_neither_a_sequence_nor_a_duration(cli):
    result = await cli("tail", "--since", "yesterday")
    assert result.exit_code == 1
    assert "--since 'yesterday'" in result.output and "duration" in result.output


async def test_reveal_is_refused_to_an_operator_not_allowed_and_nothing_is_appended(
    nc, topology, store, cli
):
    last = await seed_case(nc, topology, store)
    result = await cli("tail", "--reveal", "--reason", "調査", "--operator", "mallory",
                       extra_env={"TSUNAGU_OPERATORS": "alice,bob"})
    assert result.exit_code == 2
    assert "reveal_not_allowed" in result.output and "mallory" in result.output
    assert SECRET_NAME not in result.output
    info = await nc.jetstream().stream_info(topology.events_stream)
    assert info.state.last_seq == last


async def test_reveal_needs_a_reason_and_appends_nothing_without_one(nc, topology, store, cli):
    last = await seed_case(nc, topology, store)
    result = await cli("tail", "--reveal", "--operator", "alice",
                       extra_env={"TSUNAGU_OPERATORS": "alice"})
    assert result.exit_code == 2 and "--reason is required" in result.output
    assert (await nc.jetstream().stream_info(topology.events_stream)).state.last_seq == last


async def test_reveal_by_an_allowed_operator_shows_personal_data_and_is_recorded(
    nc, topology, store, cli
):
    last = await seed_case(nc, topology, store)
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


async def test_tail_follow_prints_an_event_appended_while_it_runs(nc, topology, store, cli):
    last = await seed_case(nc, topology, store)
    running = asyncio.ensure_future(
        cli("tail", "--follow", "--since", str(last + 1), "--limit", "1")
    )
    await asyncio.sleep(0.5)
    assert not running.done()
    opened = CaseOpened(case_id="case-live", subject=SubjectRef(person_id="p-9"),
                        origin=CaseOrigin.outreach, opened_on=date(2025, 6, 1),
                        coordinator="ag-coord")
    await store.append([new_envelope(opened, Actor(agency_id="ag-coord"))])
    result = await asyncio.wait_for(running, 20)
    assert result.exit_code == 0, result.output
    assert "case/case-live" in result.stdout
    assert result.stdout.startswith(f"#{last + 1} ")


async def test_tail_limit_shows_the_last_events_like_tail_n(nc, topology, store, cli):
    last = await seed_case(nc, topology, store)
    two = (await cli("tail", "--limit", "2")).stdout.strip().splitlines()
    assert [line.split()[0] for line in two] == [f"#{last - 1}", f"#{last}"]
    one_of_case = (await cli("tail", "--case", "case-1", "--limit", "1")).stdout.strip()
    assert one_of_case.startswith(f"#{last - 1} ") and "case/case-1" in one_of_case
    first_from = (await cli("tail", "--since", "1", "--limit", "1")).stdout.strip()
    assert first_from.startswith("#1 ")
