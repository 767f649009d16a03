"""支援会議 (Art. 106-6): no consent needed, bound members only, 非公開."""

from __future__ import annotations

import pytest
from nats.js.errors import NotFoundError

from tests.helpers import eventually
from tests.meeting.support import (
    COORD,
    HOKATSU,
    KIKAN,
    OUTSIDER,
    case_through_commands,
    consent_by_command,
    plan_by_command,
    today_jst,
)

SECRET = "長男の借金と本人の通院歴"


@pytest.fixture
async def unconsented_case(drv, services) -> str:
    case = await case_through_commands(drv.nc, drv.topology, services, consent=False,
                                       plan=False)
    return case.case_id


async def _confidential(drv, case_id: str) -> str:
    meeting_id = await drv.schedule(kind="confidential", members=(HOKATSU, KIKAN),
                                    title="Bさん世帯")
    await drv.ok(COORD, "table_case", meeting_id=meeting_id, case_id=case_id,
                 asks=["share_information", "assign_roles"])
    return meeting_id


async def test_a_case_without_consent_is_tabled_at_a_confidential_meeting(drv, unconsented_case):
    meeting_id = await _confidential(drv, unconsented_case)
    await drv.ok(COORD, "acknowledge_confidentiality", meeting_id=meeting_id)
    agenda = await drv.ask(COORD, "meeting_agenda", meeting_id=meeting_id)
    assert agenda["kind"] == "confidential"
    assert [(i["case_id"], i["asks"]) for i in agenda["items"]] == [
        (unconsented_case, ["share_information", "assign_roles"])
    ]


async def test_a_confidential_meeting_is_never_asked_to_approve_a_plan(drv, unconsented_case):
    meeting_id = await drv.schedule(kind="confidential")
    error = await drv.refused(COORD, "table_case", "not_at_confidential", meeting_id=meeting_id,
                              case_id=unconsented_case, asks=["approve_plan"], plan_id="plan-1",
                              plan_version=1)
    assert "approve_plan" in error["message"]


async def test_a_member_who_has_not_acknowledged_confidentiality_reads_nothing(
    drv, unconsented_case
):
    meeting_id = await _confidential(drv, unconsented_case)
    await drv.ok(COORD, "acknowledge_confidentiality", meeting_id=meeting_id)
    await drv.ok(COORD, "share_material", meeting_id=meeting_id, item_id="item-1",
                 title="世帯状況", text=SECRET)
    for query in ("meeting_agenda", "meeting_materials", "meeting_minutes"):
        error = await drv.ask_refused(HOKATSU, query, "not_acknowledged", meeting_id=meeting_id)
        assert "acknowledge" in error["message"]
    # It knows that it is invited and must acknowledge, but not even the title.
    [listed] = await drv.ask(HOKATSU, "meetings")
    assert listed["needs_acknowledgement"] and listed["title"] is None
    await drv.refused(HOKATSU, "share_material", "not_acknowledged", meeting_id=meeting_id,
                      title="x", text="y")

    await drv.ok(HOKATSU, "acknowledge_confidentiality", meeting_id=meeting_id, staff="田中")
    [material] = await drv.ask(HOKATSU, "meeting_materials", meeting_id=meeting_id)
    assert material["text"] == SECRET and material["item_id"] == "item-1"
    [listed] = await drv.ask(HOKATSU, "meetings")
    assert listed["title"] == "Bさん世帯" and not listed["needs_acknowledgement"]
    await drv.refused(HOKATSU, "acknowledge_confidentiality", "already_acknowledged",
                      meeting_id=meeting_id)


async def test_other_agencies_never_see_a_confidential_meeting_in_views_or_feeds(
    drv, unconsented_case, nc, topology
):
    meeting_id = await _confidential(drv, unconsented_case)
    for agency in (COORD, HOKATSU):
        await drv.ok(agency, "acknowledge_confidentiality", meeting_id=meeting_id)
    await drv.ok(COORD, "share_material", meeting_id=meeting_id, title="世帯状況", text=SECRET)
    await drv.hold(meeting_id)
    await drv.ok(COORD, "record_minutes", meeting_id=meeting_id, text=SECRET)
    await drv.ok(COORD, "record_decision", meeting_id=meeting_id, item_id="item-1",
                 decision="information_shared", reason="情報共有")

    assert await drv.ask(OUTSIDER, "meetings", include_past=True) == []
    for query in ("meeting_agenda", "meeting_materials", "meeting_minutes"):
        await drv.ask_refused(OUTSIDER, query, "not_found", meeting_id=meeting_id)
    assert await drv.ask(OUTSIDER, "case_decisions", case_id=unconsented_case) == []
    # A member that never acknowledged (KIKAN) does not see the decision either.
    assert await drv.ask(KIKAN, "case_decisions", case_id=unconsented_case) == []
    decisions = await drv.ask(HOKATSU, "case_decisions", case_id=unconsented_case)
    assert [d["decision"] for d in decisions] == ["information_shared"]
    assert (await drv.ask(HOKATSU, "meeting_minutes", meeting_id=meeting_id))["text"] == SECRET

    # Feeds: nothing for the outsider, and no feed message anywhere carries the material.
    await assert_feeds_do_not_leak(nc, topology, OUTSIDER, SECRET)


async def assert_feeds_do_not_leak(nc, topology, outsider: str, secret: str) -> None:
    """No feed message for ``outsider``, and none anywhere that carries ``secret``."""
    js = nc.jetstream()
    info = await js.stream_info(topology.feed_stream)
    if info.state.messages == 0:
        return
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        try:
            msg = await js.get_msg(topology.feed_stream, seq)
        except NotFoundError:  # replaced: the feed keeps one message per subject
            continue
        assert f".feed.{outsider}." not in (msg.subject or "")
        assert secret.encode() not in (msg.data or b"")


async def test_an_unacknowledged_member_cannot_be_recorded_as_attending(drv, unconsented_case):
    meeting_id = await _confidential(drv, unconsented_case)
    await drv.ok(COORD, "acknowledge_confidentiality", meeting_id=meeting_id)
    error = await drv.refused(COORD, "record_meeting_held", "not_acknowledged",
                              meeting_id=meeting_id, held_on=today_jst().isoformat(),
                              attendees=[COORD, HOKATSU])
    assert HOKATSU in error["message"]


async def test_an_outside_professional_acknowledges_through_the_convener(drv, unconsented_case):
    meeting_id = await _confidential(drv, unconsented_case)
    await drv.ok(COORD, "invite_member", meeting_id=meeting_id,
                 external={"member_id": "ext-shoshi", "profession": "司法書士"})
    await drv.ok(COORD, "acknowledge_confidentiality", meeting_id=meeting_id)
    await drv.refused(COORD, "record_meeting_held", "not_acknowledged", meeting_id=meeting_id,
                      held_on=today_jst().isoformat(), attendees=[COORD],
                      external_attendees=["ext-shoshi"])
    await drv.refused(HOKATSU, "acknowledge_confidentiality", "forbidden", meeting_id=meeting_id,
                      member_id="ext-shoshi")
    await drv.refused(COORD, "acknowledge_confidentiality", "not_found", meeting_id=meeting_id,
                      member_id="ext-nobody")
    await drv.ok(COORD, "acknowledge_confidentiality", meeting_id=meeting_id,
                 member_id="ext-shoshi")
    await drv.hold(meeting_id, attendees=(COORD,), external_attendees=["ext-shoshi"])


async def test_acknowledging_is_for_members_of_a_confidential_meeting_only(drv, unconsented_case):
    meeting_id = await _confidential(drv, unconsented_case)
    await drv.refused(OUTSIDER, "acknowledge_confidentiality", "forbidden",
                      meeting_id=meeting_id)
    support_plan = await drv.schedule()
    await drv.refused(HOKATSU, "acknowledge_confidentiality", "not_confidential",
                      meeting_id=support_plan)


async def test_a_case_that_gets_consent_moves_to_a_support_plan_meeting(
    drv, unconsented_case
):
    confidential = await _confidential(drv, unconsented_case)
    target = await drv.schedule()
    move = {"meeting_id": confidential, "item_id": "item-1", "to_meeting_id": target,
            "asks": ["approve_plan"], "plan_id": "plan-1", "plan_version": 1}
    await drv.refused(COORD, "move_case_to_support_plan_meeting", "no_consent", **move)

    await consent_by_command(drv.nc, drv.topology, unconsented_case)
    # A plan is drafted once consent is there (whether the item's plan was drafted is the
    # casefile's to judge when it takes the tabling: PlanTabled below).
    move["plan_id"] = await plan_by_command(drv.nc, drv.topology, unconsented_case)
    reply = await drv.ok(COORD, "move_case_to_support_plan_meeting", **move)
    assert [e["type"] for e in reply["events"]] == ["CaseMovedToSupportPlanMeeting", "CaseTabled"]

    async def plan_tabled() -> bool:  # the casefile's reactor is done with the tabling
        history = await drv.store.load("case", unconsented_case)
        return any(e.type == "PlanTabled" for e in history.envelopes)

    await eventually(plan_tabled, timeout=20)
    await drv.refused(COORD, "move_case_to_support_plan_meeting", "already_moved", **move)

    agenda = await drv.ask(HOKATSU, "meeting_agenda", meeting_id=target)
    assert [(i["case_id"], i["asks"]) for i in agenda["items"]] == [
        (unconsented_case, ["approve_plan"])]
    await drv.ok(COORD, "acknowledge_confidentiality", meeting_id=confidential)
    await drv.hold(confidential, attendees=(COORD,))
    await drv.refused(COORD, "record_decision", "moved", meeting_id=confidential,
                      item_id="item-1", decision="information_shared", reason="x")
