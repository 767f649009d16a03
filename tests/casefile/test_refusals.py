"""Every illegal transition and bad input is refused with a clear error naming the field
and the rule, and nothing is appended."""

from __future__ import annotations

import json

import pytest

from contracts.meeting import Decision
from tests.casefile.world import World, assessment_payload, plan_payload, settle
from tests.helpers import retire_agency


@pytest.fixture
async def casefile(services):
    return (await services("casefile"))["casefile"]


async def _case_in(world: World, state: str, casefile, nc, topology) -> None:
    await world.triaged_case()
    if state in ("consented", "approved", "closed", "withdrawn"):
        await world.consent(agencies=("hokatsu", "shakyo", "hellowork"))
    if state in ("assessed", "approved", "closed", "withdrawn"):
        assert (await world.send("shakyo", "record_intake_assessment",
                                 assessment_payload("setup-a")))["ok"]
    if state == "withdrawn":
        await world.withdraw()
    if state in ("approved", "closed"):
        reply = await world.send("shakyo", "draft_plan", plan_payload("setup-p"))
        assert reply["ok"], reply
        plan_id = (await world.store.load("case", world.id("c1"))).envelopes[-1].event.plan_id
        await world.meeting("m1", ("shakyo",))
        await world.table("m1", plan_id=plan_id, version=1)
        await world.decide("m1", Decision.approve_plan, "d1", plan_id=plan_id, plan_version=1)
    if state == "closed":
        await world.meeting("m2", ("shakyo",))  # m1 is held: closed at the next meeting
        await world.decide("m2", Decision.close, "d2")
    await settle(nc, topology, casefile)


MONITORING = {"case_id": "c1", "recorded_on": "2026-07-01", "personal": {"progress": "x"}}

CASES = [
    # (state, agency, command, payload, code, fragment)
    ("opened", "shakyo", "draft_plan", plan_payload("x"), "no_assessment", "intake assessment"),
    ("assessed", "shakyo", "draft_plan", plan_payload("x"), "no_consent", "no valid consent"),
    ("withdrawn", "shakyo", "draft_plan", plan_payload("x"), "no_consent", "本人同意"),
    ("consented", "shakyo", "draft_plan", plan_payload("x"), "no_assessment", "no intake"),
    ("approved", "shakyo", "draft_plan", plan_payload("x", program="outreach"), "not_enrolled",
     "program"),
    ("approved", "shakyo", "draft_plan", plan_payload("x", plan_id="nope"), "not_found", "plan_id"),
    ("approved", "shakyo", "draft_plan",
     plan_payload("x", roles=[{"agency_id": "ghost", "role": "r"}]), "forbidden",
     "roles[0].agency_id"),
    ("approved", "shakyo", "draft_plan",
     plan_payload("x", roles=[{"agency_id": "shakyo", "role": "a"},
                              {"agency_id": "shakyo", "role": "b"}]), "invalid", "two roles"),
    ("approved", "shakyo", "draft_plan", plan_payload("x", monitoring_on="2026-01-01"), "invalid",
     "monitoring_on"),
    ("closed", "shakyo", "record_monitoring", {"command_id": "x", **MONITORING}, "case_not_open",
     "closed"),
    ("closed", "shakyo", "record_intake_assessment", assessment_payload("x"), "case_not_open",
     "reopen"),
    ("assessed", "shakyo", "record_monitoring", {"command_id": "x", **MONITORING},
     "no_approved_plan", "approved"),
    ("approved", "shakyo", "record_monitoring",
     {"command_id": "x", **MONITORING, "next_monitoring_on": "2026-01-01"}, "invalid",
     "next_monitoring_on"),
    ("opened", "hospital", "record_intake_assessment", assessment_payload("x"), "forbidden",
     "not a member"),
    ("opened", "ghost", "record_intake_assessment", assessment_payload("x"), "forbidden",
     "agency directory"),
    ("opened", "shakyo", "record_intake_assessment", assessment_payload("x", case_id="nope"),
     "not_found", "does not exist"),
    ("opened", "shakyo", "record_intake_assessment",
     assessment_payload("x", national_items={"household": "single"}), "invalid",
     "route, main_concern, urgency"),
    ("opened", "shakyo", "record_intake_assessment",
     assessment_payload("x", national_items={"household": "山田花子の世帯", "route": "self",
                                             "main_concern": "income", "urgency": "low"}),
     "invalid", "national_items.household: must be one of"),
    ("opened", "shakyo", "record_intake_assessment",
     assessment_payload("x", national_items={"household": "single", "route": "self",
                                             "main_concern": "income", "urgency": "low",
                                             "memo": "x"}), "invalid", "national_items.memo"),
    ("opened", "shakyo", "record_intake_assessment", assessment_payload("x", personal=None),
     "invalid", "attachment"),
    ("opened", "shakyo", "approve_plan", {"command_id": "x", "case_id": "c1"},
     "only_through_meeting", "only through a meeting"),
    ("opened", "shakyo", "close_case", {"command_id": "x", "case_id": "c1"},
     "only_through_meeting", "only through a meeting"),
    ("opened", "shakyo", "suspend_case", {"command_id": "x", "case_id": "c1"},
     "only_through_meeting", "中断"),
    ("opened", "shakyo", "assign_lead_agency", {"command_id": "x", "case_id": "c1"},
     "only_through_meeting", "主担当"),
    ("opened", "shakyo", "return_to_comprehensive", {"command_id": "x", "case_id": "c1"},
     "only_through_meeting", "包括"),
    ("opened", "shakyo", "reopen_case",
     {"command_id": "x", "case_id": "c1", "reopened_on": "2026-06-01", "reason": "r"},
     "case_open", "only a closed"),
    ("opened", "shakyo", "invite_case_member",
     {"command_id": "x", "case_id": "c1", "agency_id": "hokatsu", "joined_on": "2026-06-01"},
     "already_member", "already a member"),
    ("opened", "shakyo", "invite_case_member",
     {"command_id": "x", "case_id": "c1", "agency_id": "ghost", "joined_on": "2026-06-01"},
     "forbidden", "agency_id"),
    ("opened", "shakyo", "start_enrollment",
     {"command_id": "x", "case_id": "c1", "program": "multi_agency", "started_on": "2026-06-01"},
     "already_enrolled", "already enrolled"),
    ("opened", "shakyo", "start_enrollment",
     {"command_id": "x", "case_id": "c1", "program": "outreach", "started_on": "2026-06-01",
      "subject": {"agency_id": "hokatsu"}}, "invalid", "only 参加支援"),
    ("opened", "shakyo", "end_enrollment",
     {"command_id": "x", "case_id": "c1", "enrollment_id": "c1-e1", "ended_on": "2026-01-01",
      "reason": "r"}, "invalid", "ended_on"),
    ("opened", "shakyo", "end_enrollment",
     {"command_id": "x", "case_id": "c1", "enrollment_id": "zz", "ended_on": "2026-07-01",
      "reason": "r"}, "not_found", "enrollment_id"),
    ("opened", "shakyo", "open_case",
     {"command_id": "x", "program": "outreach", "subject": {}, "opened_on": "2026-06-01"},
     "invalid", "exactly one"),
    ("opened", "shakyo", "open_case",
     {"command_id": "x", "program": "outreach", "subject": {"agency_id": "hokatsu"},
      "opened_on": "2026-06-01"}, "invalid", "only 参加支援"),
    ("opened", "shakyo", "open_case",
     {"command_id": "x", "program": "participation", "subject": {"agency_id": "hokatsu"},
      "opened_on": "2026-06-01", "personal": {"name": "x"}}, "invalid", "no personal data"),
    ("opened", "shakyo", "open_case",
     {"command_id": "x", "program": "multi_agency", "subject": {"person_id": "p"},
      "opened_on": "2026-06-01"}, "invalid", "program"),
    ("opened", "shakyo", "open_case",
     {"command_id": "x", "program": "outreach", "subject": {"person_id": "p"},
      "opened_on": "1850-06-01"}, "invalid", "opened_on"),
    ("opened", "shakyo", "erase_person_data", {"command_id": "x", "person_id": "p1",
                                               "reason": "r"}, "forbidden", "operator"),
    ("opened", "operator", "erase_person_data", {"command_id": "x", "person_id": "nobody",
                                                 "reason": "r"}, "not_found", "person_id"),
]


@pytest.mark.parametrize(
    ("state", "agency", "command", "payload", "code", "fragment"), CASES,
    ids=[f"{c[2]}-{c[4]}-{i}" for i, c in enumerate(CASES)],
)
async def test_an_illegal_command_is_refused_and_nothing_is_appended(
    nc, store, topology, casefile, services, state, agency, command, payload, code, fragment
):
    world = await World(nc, store, topology).setup(services)
    await _case_in(world, state, casefile, nc, topology)
    js = nc.jetstream()
    before = (await js.stream_info(topology.events_stream)).state.last_seq
    reply = await world.send(agency, command, payload)
    assert reply["ok"] is False, reply
    assert reply["error"]["code"] == code, reply
    assert fragment in json.dumps(reply["error"], ensure_ascii=False), reply
    await settle(nc, topology, casefile)
    assert (await js.stream_info(topology.events_stream)).state.last_seq == before


async def test_a_retired_or_unknown_agency_is_refused_naming_it_in_the_details(
    nc, store, topology, casefile, services
):
    world = await World(nc, store, topology).setup(services)
    await world.triaged_case()
    await retire_agency(store, "hellowork")
    await settle(nc, topology, casefile)
    js = nc.jetstream()
    before = (await js.stream_info(topology.events_stream)).state.last_seq
    invite = {"command_id": "x3", "case_id": "c1", "agency_id": "hellowork",
              "joined_on": "2026-06-01"}
    for sender, command, payload, named in [
        ("hellowork", "record_intake_assessment", assessment_payload("x1"), "hellowork"),
        ("ghost", "record_intake_assessment", assessment_payload("x2"), "ghost"),
        ("shakyo", "invite_case_member", invite, "hellowork"),
    ]:
        reply = await world.send(sender, command, payload)
        assert reply["ok"] is False, reply
        assert reply["error"]["code"] == "forbidden", reply
        assert "not an active entry" in reply["error"]["message"]
        assert reply["error"]["details"] == {"agency_id": named}
    assert (await js.stream_info(topology.events_stream)).state.last_seq == before


async def test_a_bad_national_item_is_refused_without_echoing_its_value(
    nc, store, topology, casefile, services
):
    world = await World(nc, store, topology).setup(services)
    await world.triaged_case()
    reply = await world.send("shakyo", "record_intake_assessment", assessment_payload(
        "x", national_items={"household": "山田花子の世帯", "route": "self",
                             "main_concern": "income", "urgency": "low"}))
    assert "山田花子" not in json.dumps(reply, ensure_ascii=False)
