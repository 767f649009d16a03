"""A case runs from opening to closure across several agencies over real NATS; meeting
decisions reach the case only through the reactor."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.meeting import Ask, Decision, MeetingKind
from tests.casefile.world import World, assessment_payload, plan_payload, settle
from tests.helpers import ask


@pytest.fixture
async def world(nc, store, topology, services) -> World:
    return await World(nc, store, topology).setup(services)


@pytest.fixture
async def casefile(services):
    return (await services("casefile"))["casefile"]


async def test_a_triaged_case_runs_from_opening_to_closure_across_agencies(
    world, casefile, nc, topology
):
    await world.triaged_case()
    await world.consent(agencies=("hokatsu", "shakyo", "hellowork"))
    assert (await world.send("shakyo", "record_intake_assessment", assessment_payload("a1")))["ok"]
    drafted = await world.send("shakyo", "draft_plan", plan_payload("p1"))
    assert drafted["ok"], drafted
    plan_id = next(e for e in (await world.store.load("case", world.id("c1"))).envelopes
                   if e.type == "PlanDrafted").event.plan_id

    await world.meeting("m1", ("shakyo", "hokatsu", "hellowork"))
    await world.table("m1", plan_id=plan_id, version=1, asks=(Ask.approve_plan, Ask.assign_lead))
    await world.held("m1", ("shakyo", "hokatsu", "hellowork", "hospital"))
    await world.decide("m1", Decision.approve_plan, "d1", plan_id=plan_id, plan_version=1)
    await world.decide("m1", Decision.assign_lead, "d2", lead_agency="jiritsu")
    await settle(nc, topology, casefile)

    monitored = await world.send("jiritsu", "record_monitoring", {
        "command_id": "mon1", "case_id": world.id("c1"), "recorded_on": "2026-07-01",
        "next_monitoring_on": "2026-08-01", "personal": {"progress": "順調"}})
    assert monitored["ok"], monitored
    await world.meeting("m2", ("shakyo", "jiritsu"), on=date(2026, 10, 1))
    await world.decide("m2", Decision.close, "d3", reason="課題が整理された")
    await settle(nc, topology, casefile)

    assert await world.case_events() == [
        "CaseOpened", "EnrollmentStarted", "MemberJoined", "MemberJoined",
        "IntakeAssessmentRecorded", "PlanDrafted", "PlanTabled",
        "MemberJoined", "MemberJoined",  # hellowork, hospital attended for its item
        "PlanApproved",
        "LeadAgencyAssigned", "MemberJoined",  # the lead joins
        "MonitoringRecorded", "CaseClosed", "EnrollmentEnded",
    ]
    view = (await ask(nc, topology, "shakyo", "case_view", {"case_id": world.id("c1")}))["result"]
    assert view["stage"] == "closed" and view["lead_agency"] == "jiritsu"
    lead = (await ask(nc, topology, "jiritsu", "case_view", {"case_id": world.id("c1")}))["result"]
    assert lead == {"case_id": world.id("c1"), "stage": "closed", "my_roles": [], "my_tasks": [],
                    "redacted": True}  # the lead is not covered by the consent
    assert view["enrollments"][0]["ended_on"] == "2026-10-01"
    hospital = (await ask(nc, topology, "hospital", "case_view",
                          {"case_id": world.id("c1")}))["result"]
    assert hospital["redacted"] is True  # a member without consent sees no personal data
    timeline = (await ask(nc, topology, "shakyo", "case_timeline",
                          {"case_id": world.id("c1")}))["result"]
    assert [r["type"] for r in timeline][-2:] == ["CaseClosed", "EnrollmentEnded"]
    assert any(f"approved at meeting {world.id('m1')}" in r["summary"] for r in timeline)


async def test_a_meeting_event_applied_twice_appends_once(world, casefile, nc, topology):
    await world.triaged_case()
    await world.consent()  # a case is tabled at a 重層的支援会議 only with consent
    await world.meeting("m1", ("shakyo",))
    await world.decide("m1", Decision.suspend, "d1")
    await settle(nc, topology, casefile)
    reactor = casefile.runners["casefile_decisions"].reactor
    decision = (await world.store.load("meeting", world.id("m1"))).events[-1]
    await reactor.react(decision.envelope, decision.seq)  # at-least-once: a second delivery
    assert (await world.case_events()).count("CaseSuspended") == 1


@pytest.mark.parametrize(
    ("setup", "decision", "kw", "reason", "code"),
    [
        ("closed", Decision.close, {}, "already closed", "already_closed"),
        ("closed", Decision.suspend, {}, "case is closed", "case_not_open"),
        ("none", Decision.approve_plan, {"plan_id": "nope"}, "never drafted", "plan_not_drafted"),
        ("drafted", Decision.approve_plan, {}, "never tabled at this meeting", "plan_not_tabled"),
        ("none", Decision.return_to_comprehensive, {}, "names no lead_agency", "no_lead_agency"),
    ],
)
async def test_a_decision_the_case_cannot_take_is_recorded_as_not_applied(
    world, casefile, nc, topology, setup, decision, kw, reason, code
):
    await world.triaged_case()
    await world.consent()
    if setup == "closed":  # by commands: tabled at m1, the case closed at m0 before m1 decides
        await world.meeting("m1", ("shakyo",))
        await world.table("m1", asks=(Ask(decision.value),))
        await world.meeting("m0", ("shakyo",))
        await world.decide("m0", Decision.close, "d0")
        await world.decide("m1", decision, "d1")
    else:  # planted: the meeting decider refuses these decisions (see World.planted_*)
        if setup == "drafted":
            assessed = await world.send("shakyo", "record_intake_assessment",
                                        assessment_payload("a"))
            assert assessed["ok"]
            assert (await world.send("shakyo", "draft_plan", plan_payload("p")))["ok"]
            await settle(nc, topology, casefile)
            case = await world.store.load("case", world.id("c1"))
            kw = {"plan_id": case.envelopes[-1].event.plan_id}
        await world.planted_meeting("m1", ("shakyo",))
        await world.planted_decision("m1", decision, "d1", **kw)
    await settle(nc, topology, casefile)
    last = (await world.store.load("case", world.id("c1"))).envelopes[-1].event
    assert last.type == "DecisionNotApplied"
    assert last.decision_id == world.id("d1") and reason in last.reason and last.code == code


async def test_the_casefile_applies_the_recorded_lead_without_reading_the_directory(
    world, casefile, nc, topology
):
    # Planted: the meeting refuses a lead that is not an active directory entry when it
    # records the decision (check_lead), so only an event stored so names one; the recorded
    # lead is a fact, and the casefile applies it without judging its standing again.
    await world.triaged_case()
    await world.planted_meeting("m1", ("shakyo",))
    await world.planted_decision("m1", Decision.assign_lead, "d1", lead_agency="ghost")
    await settle(nc, topology, casefile)
    assert (await world.case_events())[-2:] == ["LeadAgencyAssigned", "MemberJoined"]


async def test_a_plan_tabled_at_a_confidential_meeting_is_not_tabled(world, casefile, nc, topology):
    await world.triaged_case()
    await world.consent()
    assert (await world.send("shakyo", "record_intake_assessment", assessment_payload("a")))["ok"]
    assert (await world.send("shakyo", "draft_plan", plan_payload("p")))["ok"]
    plan_id = (await world.store.load("case", world.id("c1"))).envelopes[-1].event.plan_id
    # Planted: the meeting decider refuses approve_plan on a 支援会議 (World.planted_*).
    await world.planted_meeting("s1", ("shakyo",), kind=MeetingKind.confidential)
    await world.planted_table("s1", plan_id=plan_id, version=1, kind=MeetingKind.confidential)
    await settle(nc, topology, casefile)
    last = (await world.store.load("case", world.id("c1"))).envelopes[-1].event
    assert last.type == "DecisionNotApplied" and "重層的支援会議" in last.reason
    assert last.code == "not_support_plan_meeting"


async def test_the_casefile_judges_a_decision_from_the_event_without_reading_the_meeting(
    world, casefile, nc, topology
):
    await world.triaged_case()
    await world.consent()
    assert (await world.send("shakyo", "record_intake_assessment", assessment_payload("a")))["ok"]
    assert (await world.send("shakyo", "draft_plan", plan_payload("p")))["ok"]
    plan_id = (await world.store.load("case", world.id("c1"))).envelopes[-1].event.plan_id
    # Planted, and never scheduled: a meeting the casefile could not read if it tried; the
    # events alone say it is a 重層的支援会議.
    await world.planted_table("x1", plan_id=plan_id, version=1)
    await world.planted_decision("x1", Decision.approve_plan, "d1", plan_id=plan_id,
                                 plan_version=1, meeting_kind=MeetingKind.support_plan)
    await settle(nc, topology, casefile)
    assert (await world.case_events())[-3:] == ["PlanTabled", "PlanApproved", "MemberJoined"]
    assert [e.type for e in (await world.store.load("meeting", "x1")).envelopes] == [
        "CaseTabled", "DecisionRecorded"]  # no MeetingScheduled to read a kind from


async def test_a_revised_plan_must_be_approved_again(world, casefile, nc, topology):
    await world.triaged_case()
    await world.consent(agencies=("hokatsu", "shakyo", "hellowork"))
    assert (await world.send("shakyo", "record_intake_assessment", assessment_payload("a")))["ok"]
    assert (await world.send("shakyo", "draft_plan", plan_payload("p")))["ok"]
    plan_id = (await world.store.load("case", world.id("c1"))).envelopes[-1].event.plan_id
    await world.meeting("m1", ("shakyo",))
    await world.table("m1", plan_id=plan_id, version=1)
    await world.decide("m1", Decision.approve_plan, "d1", plan_id=plan_id, plan_version=1)
    await settle(nc, topology, casefile)
    revised = await world.send("shakyo", "draft_plan", plan_payload("p2", plan_id=plan_id))
    assert revised["ok"], revised
    await settle(nc, topology, casefile)
    view = (await ask(nc, topology, "shakyo", "case_view", {"case_id": world.id("c1")}))["result"]
    versions = {p["version"]: p["approved_on"] for p in view["plans"]}
    assert versions == {1: "2026-06-01", 2: None}  # v1 stays "the plan" until v2 is approved
    await world.meeting("m2", ("shakyo",))
    await world.table("m2", plan_id=plan_id, version=2, item_id="i2")
    await world.decide("m2", Decision.approve_plan, "d2", plan_id=plan_id, plan_version=2)
    await settle(nc, topology, casefile)
    view = (await ask(nc, topology, "shakyo", "case_view", {"case_id": world.id("c1")}))["result"]
    assert [r["version"] for r in view["my_roles"]] == [2]


async def test_an_outreach_case_opens_without_a_referral_and_participation_accepts_an_agency(
    world, casefile, nc, topology
):
    opened = await world.send("hokatsu", "open_case", {
        "command_id": "o1", "program": "outreach", "subject": {"person_id": "p9"},
        "opened_on": "2026-04-10", "personal": {"name": "訪問 太郎"}})
    assert opened["ok"], opened
    again = await world.send("hokatsu", "open_case", {
        "command_id": "o1", "program": "outreach", "subject": {"person_id": "p9"},
        "opened_on": "2026-04-10", "personal": {"name": "訪問 太郎"}})
    assert again["replayed"] and again["ids"] == opened["ids"]
    case_id = opened["ids"]["case_id"]
    assert await world.case_events(case_id) == ["CaseOpened", "EnrollmentStarted", "MemberJoined"]
    started = await world.send("hokatsu", "start_enrollment", {
        "command_id": "e2", "case_id": case_id, "program": "participation",
        "started_on": "2026-05-01"})
    assert started["ok"], started
    ended = await world.send("hokatsu", "end_enrollment", {
        "command_id": "e3", "case_id": case_id,
        "enrollment_id": started["ids"]["enrollment_id"],
        "ended_on": "2026-06-01", "reason": "就労につながった"})
    assert ended["ok"], ended
    by_agency = await world.send("shakyo", "open_case", {
        "command_id": "o2", "program": "participation", "subject": {"agency_id": "hellowork"},
        "opened_on": "2026-04-10"})
    assert by_agency["ok"], by_agency
    await settle(nc, topology, casefile)
    mine = (await ask(nc, topology, "hokatsu", "my_cases"))["result"]
    assert [c["case_id"] for c in mine] == [case_id]


async def test_a_closed_case_can_be_reopened_with_a_reason(world, casefile, nc, topology):
    await world.triaged_case()
    await world.consent()  # a case is tabled at a 重層的支援会議 only with consent
    await world.meeting("m1", ("shakyo",))
    await world.decide("m1", Decision.close, "d1")
    await settle(nc, topology, casefile)
    reply = await world.send("shakyo", "reopen_case", {
        "command_id": "r1", "case_id": world.id("c1"), "reopened_on": "2026-11-01",
        "reason": "再び困窮"})
    assert reply["ok"], reply
    assert (await world.case_events())[-2:] == ["CaseReopened", "EnrollmentStarted"]
    await settle(nc, topology, casefile)
    view = (await ask(nc, topology, "shakyo", "case_view", {"case_id": world.id("c1")}))
    assert view["result"]["stage"] == "opened"


async def test_an_agency_may_attach_its_own_assessment_sheet_instead_of_the_text(
    world, casefile, nc, topology
):
    import hashlib

    data = b"%PDF-1.4 our own intake sheet"
    digest = hashlib.sha256(data).hexdigest()
    obs = await nc.jetstream().object_store(topology.attachment_bucket)
    await obs.put(f"sha256-{digest}", data)
    ref = {"object_name": f"sha256-{digest}", "sha256": digest, "size": len(data),
           "media_type": "application/pdf", "filename": "intake.pdf"}
    await world.triaged_case()
    reply = await world.send("hokatsu", "record_intake_assessment",
                             assessment_payload("a1", personal=None, attachment=ref))
    assert reply["ok"], reply
    missing = await world.send("hokatsu", "record_intake_assessment", assessment_payload(
        "a2", personal=None, attachment={**ref, "object_name": "sha256-" + "0" * 64,
                                         "sha256": "0" * 64}))
    assert missing["error"]["code"] == "attachment_missing"
    wrong = await world.send("hokatsu", "record_intake_assessment", assessment_payload(
        "a3", personal=None, attachment={**ref, "size": 3}))
    assert wrong["error"]["code"] == "attachment_mismatch"
    assert (await world.case_events()).count("IntakeAssessmentRecorded") == 1


async def test_my_cases_shows_stage_next_monitoring_and_overdue_items(
    world, casefile, nc, topology
):
    await world.triaged_case()
    await world.consent(agencies=("hokatsu", "shakyo", "hellowork"))
    assert (await world.send("shakyo", "record_intake_assessment", assessment_payload("a")))["ok"]
    assert (await world.send("shakyo", "draft_plan", plan_payload("p")))["ok"]
    plan_id = (await world.store.load("case", world.id("c1"))).envelopes[-1].event.plan_id
    await world.meeting("m1", ("shakyo",))
    await world.table("m1", plan_id=plan_id, version=1)
    await world.decide("m1", Decision.approve_plan, "d1", plan_id=plan_id, plan_version=1)
    await settle(nc, topology, casefile)
    # The plan's monitoring date (2026-08-01) and hellowork's role period have passed.
    coordinator = (await ask(nc, topology, "shakyo", "my_cases", {"on": "2026-09-01"}))["result"]
    assert coordinator == [{
        "case_id": world.id("c1"), "stage": "support", "redacted": False, "name": "山田花子",
        "next_monitoring_on": "2026-08-01",
        "overdue": [{"task": "monitoring", "due_on": "2026-08-01", "overdue": True}],
        "my_roles": ["全体調整"],
    }]
    role = (await ask(nc, topology, "hellowork", "my_cases", {"on": "2026-10-01"}))["result"]
    assert role[0]["overdue"] == [{"task": "plan_role_period_ends", "program": "multi_agency",
                                   "due_on": "2026-09-30", "overdue": True}]
    early = (await ask(nc, topology, "shakyo", "my_cases", {"on": "2026-07-01"}))["result"]
    assert early[0]["overdue"] == []
