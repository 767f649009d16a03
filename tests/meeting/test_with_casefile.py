"""End to end with the casefile service: approval happens only through a meeting's decision,
and a 支援会議's material never reaches other agencies' views or feeds."""

from __future__ import annotations

import pytest

from tests.casefile.world import (
    World,
    assessment_payload,
    feed,
    plan_payload,
    raw_feed,
    settle,
)
from tests.meeting.support import Driver, soon, today_jst

SECRET = "債務整理の相談内容と通院先"


@pytest.fixture
async def both(nc, store, topology, services):
    world = await World(nc, store, topology).setup(services)
    rt = await services("casefile")  # World started the meeting service
    return world, Driver(nc, topology, store, rt["meeting"]), rt["casefile"]


async def test_a_consented_case_gets_its_plan_approved_at_a_support_plan_meeting(
    both, nc, topology
):
    world, drv, casefile = both
    await world.triaged_case()
    await world.consent(agencies=("hokatsu", "shakyo", "hellowork"))
    assessed = await world.send("shakyo", "record_intake_assessment", assessment_payload("a1"))
    assert assessed["ok"], assessed
    drafted = await world.send("shakyo", "draft_plan", plan_payload("p1"))
    assert drafted["ok"], drafted
    case = await world.store.load("case", world.id("c1"))
    plan_id = next(e.event.plan_id for e in case.envelopes
                   if e.type == "PlanDrafted")

    meeting = await drv.ok("shakyo", "schedule_meeting", kind="support_plan",
                           scheduled_for=soon(), members=["hokatsu", "hellowork"])
    meeting_id = meeting["ids"]["meeting_id"]
    await drv.ok("shakyo", "table_case", meeting_id=meeting_id, case_id=world.id("c1"),
                 asks=["approve_plan", "assign_lead"], plan_id=plan_id, plan_version=1)
    await drv.ok("shakyo", "record_meeting_held", meeting_id=meeting_id,
                 held_on=today_jst().isoformat(), attendees=["shakyo", "hokatsu", "hellowork"])
    await drv.ok("shakyo", "record_decision", meeting_id=meeting_id, item_id="item-1",
                 decision="approve_plan", reason="目標と役割分担が適切")
    await drv.ok("shakyo", "record_decision", meeting_id=meeting_id, item_id="item-1",
                 decision="assign_lead", reason="日常の見守り", lead_agency="hokatsu")
    await settle(nc, topology, casefile)

    types = await world.case_events()
    assert "PlanTabled" in types and "PlanApproved" in types and "LeadAgencyAssigned" in types
    assert "DecisionNotApplied" not in types
    view = (await drv.ask("hokatsu", "case_view", case_id=world.id("c1")))
    [plan] = view["plans"]
    assert (plan["plan_id"], plan["version"]) == (plan_id, 1)
    assert plan["approved_on"] == today_jst().isoformat()
    assert view["lead_agency"] == "hokatsu"


async def test_a_case_without_consent_goes_through_a_confidential_meeting_others_never_see(
    both, nc, topology
):
    world, drv, casefile = both
    await world.triaged_case(case_id="c2", person_id="p2")
    meeting = await drv.ok("shakyo", "schedule_meeting", kind="confidential",
                           scheduled_for=soon(), members=["hokatsu", "jiritsu"])
    meeting_id = meeting["ids"]["meeting_id"]
    await drv.ok("shakyo", "table_case", meeting_id=meeting_id, case_id=world.id("c2"),
                 asks=["share_information"])
    for agency in ("shakyo", "hokatsu"):
        await drv.ok(agency, "acknowledge_confidentiality", meeting_id=meeting_id)
    await drv.ok("shakyo", "share_material", meeting_id=meeting_id, title="世帯の状況",
                 text=SECRET)
    await drv.ok("shakyo", "record_meeting_held", meeting_id=meeting_id,
                 held_on=today_jst().isoformat(), attendees=["shakyo", "hokatsu"])
    await drv.ok("shakyo", "record_minutes", meeting_id=meeting_id, text=f"議事: {SECRET}")
    await drv.ok("shakyo", "record_decision", meeting_id=meeting_id, item_id="item-1",
                 decision="information_shared", reason="関係機関で共有")
    await settle(nc, topology, casefile)

    [material] = await drv.ask("hokatsu", "meeting_materials", meeting_id=meeting_id)
    assert material["text"] == SECRET
    # A member that has not acknowledged, and an agency that is not a member, read nothing.
    await drv.ask_refused("jiritsu", "meeting_materials", "not_acknowledged",
                          meeting_id=meeting_id)
    for query in ("meeting_agenda", "meeting_materials", "meeting_minutes"):
        await drv.ask_refused("hellowork", query, "not_found", meeting_id=meeting_id)
    assert await drv.ask("hellowork", "meetings", include_past=True) == []
    # The casefile's general view and the feeds carry none of it.
    outsider_view = await _case_view(drv, "hellowork", world.id("c2"))
    assert outsider_view is None or SECRET not in str(outsider_view)
    assert await feed(nc, topology, "hellowork") == []
    assert all(SECRET.encode() not in blob for blob in await raw_feed(nc, topology))


async def _case_view(drv: Driver, agency: str, case_id: str):
    from tests.helpers import ask

    reply = await ask(drv.nc, drv.topology, agency, "case_view", {"case_id": case_id})
    return reply["result"] if reply["ok"] else None
