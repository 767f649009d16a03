"""Agenda and decisions of the 重層的支援会議: consent gates tabling, decisions follow holding."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contracts.meeting import CaseTabled, Decision, DecisionRecorded, MeetingKind
from tests.casefile.world import feed
from tests.helpers import eventually
from tests.meeting.support import (
    COORD,
    HOKATSU,
    KIKAN,
    OUTSIDER,
    CaseRef,
    case_through_commands,
    today_jst,
)


@pytest.fixture
async def consented_case(drv, services) -> CaseRef:
    return await case_through_commands(drv.nc, drv.topology, services)


async def _table_plan(drv, meeting_id: str, case: CaseRef, **extra) -> str:
    reply = await drv.ok(COORD, "table_case", meeting_id=meeting_id, case_id=case.case_id,
                         asks=["approve_plan", "assign_lead"], plan_id=case.plan_id,
                         plan_version=1, **extra)
    await _case_shows(drv, case, "PlanTabled")  # the casefile's reactor is done
    return str(reply["events"][0]["aggregate_id"])


async def test_a_consented_case_is_tabled_with_its_plan(drv, consented_case):
    meeting_id = await drv.schedule()
    await _table_plan(drv, meeting_id, consented_case)
    agenda = await drv.ask(HOKATSU, "meeting_agenda", meeting_id=meeting_id)
    [item] = agenda["items"]
    assert item["item_id"] == "item-1" and item["case_id"] == consented_case.case_id
    assert item["asks"] == ["approve_plan", "assign_lead"]
    assert (item["plan_id"], item["plan_version"], item["program"]) == (
        consented_case.plan_id, 1, "multi_agency")


async def test_a_case_without_consent_cannot_be_tabled_at_a_support_plan_meeting(
    drv, services
):
    case = await case_through_commands(drv.nc, drv.topology, services, consent=False,
                                       plan=False)
    meeting_id = await drv.schedule()
    error = await drv.refused(COORD, "table_case", "no_consent", meeting_id=meeting_id,
                              case_id=case.case_id, asks=["approve_plan"], plan_id="plan-1",
                              plan_version=1)
    assert case.case_id in error["message"] and "支援会議" in error["message"]


async def test_a_consent_withdrawn_before_the_meeting_date_does_not_cover_it(drv,
                                                                            consented_case):
    await _withdraw(drv, consented_case)
    meeting_id = await drv.schedule()
    await drv.refused(COORD, "table_case", "no_consent", meeting_id=meeting_id,
                      case_id=consented_case.case_id, asks=["evaluate"])


async def test_an_approval_after_the_consent_was_withdrawn_is_not_applied_and_the_convener_hears(
    drv, consented_case
):
    """The meeting records what it decided (its rules only); the casefile alone judges that
    the case cannot take it without consent, and the convener learns why from its feed."""
    meeting_id = await drv.schedule()
    item_meeting = await _table_plan(drv, meeting_id, consented_case)
    assert item_meeting == meeting_id
    await _withdraw(drv, consented_case)
    await drv.hold(meeting_id)
    await drv.ok(COORD, "record_decision", meeting_id=meeting_id, item_id="item-1",
                 decision="approve_plan", reason="適切")
    [recorded] = [e for e in await drv.events_of(meeting_id) if isinstance(e, DecisionRecorded)]
    assert recorded.meeting_kind is MeetingKind.support_plan  # the casefile reads it here
    await _case_shows(drv, consented_case, "DecisionNotApplied")
    case = await drv.store.load("case", consented_case.case_id)
    assert "PlanApproved" not in [e.type for e in case.envelopes]
    assert case.envelopes[-1].event.code == "no_consent"

    told: list[dict] = []

    async def convener_told() -> bool:
        told.extend(m for m in await feed(drv.nc, drv.topology, COORD)
                    if m["kind"] == "decision_not_applied")
        return bool(told)

    await eventually(convener_told, timeout=20)
    [notice] = told
    assert notice["decision_id"] == recorded.decision_id and notice["code"] == "no_consent"
    assert notice["meeting_id"] == meeting_id and notice["case_id"] == consented_case.case_id


async def test_an_unknown_or_closed_case_is_refused_by_the_meeting(drv, services):
    """Which case may go on an agenda is judged before the item exists: an item at a
    支援会議 would open the case to the meeting (a seat)."""
    meeting_id = await drv.schedule()
    await drv.refused(COORD, "table_case", "not_found", meeting_id=meeting_id,
                      case_id="no-such-case", asks=["evaluate"])
    closed = await case_through_commands(drv.nc, drv.topology, services, plan=False)
    await _closed_by_a_meeting(drv, closed)
    await drv.refused(COORD, "table_case", "case_closed", meeting_id=meeting_id,
                      case_id=closed.case_id, asks=["evaluate"])
    case = await case_through_commands(drv.nc, drv.topology, services)
    await drv.refused(COORD, "table_case", "invalid", meeting_id=meeting_id,
                      case_id=case.case_id, asks=["approve_plan"])


async def test_a_plan_never_drafted_is_judged_by_the_casefile_and_the_convener_hears(
    drv, consented_case
):
    """The meeting tables the plan its item names; whether that version was drafted is the
    casefile's to judge, once, when it takes the tabling."""
    meeting_id = await drv.schedule()
    await drv.ok(COORD, "table_case", meeting_id=meeting_id, case_id=consented_case.case_id,
                 asks=["approve_plan"], plan_id=consented_case.plan_id, plan_version=2)
    [tabled] = [e for e in await drv.events_of(meeting_id) if isinstance(e, CaseTabled)]
    assert tabled.plan_version == 2 and tabled.program is None  # no such version, no program
    await _case_shows(drv, consented_case, "DecisionNotApplied")
    case = await drv.store.load("case", consented_case.case_id)
    assert "PlanTabled" not in [e.type for e in case.envelopes]
    missed = case.envelopes[-1].event
    assert missed.code == "plan_not_drafted" and "v2" in missed.reason

    told: list[dict] = []

    async def convener_told() -> bool:
        told.extend(m for m in await feed(drv.nc, drv.topology, COORD)
                    if m["kind"] == "decision_not_applied")
        return bool(told)

    await eventually(convener_told, timeout=20)
    [notice] = told
    assert (notice["meeting_id"], notice["decision_id"], notice["code"]) == (
        meeting_id, "item-1", "plan_not_drafted")
    # Tabled again, right, at the next meeting (its item-1 too): the casefile takes it.
    await _table_plan(drv, await drv.schedule(), consented_case)


async def _case_shows(drv, case: CaseRef, event_type: str) -> None:
    async def shown() -> bool:
        history = await drv.store.load("case", case.case_id)
        return any(e.type == event_type for e in history.envelopes)

    await eventually(shown, timeout=20)


async def _withdraw(drv, case: CaseRef) -> None:
    await drv.ok(COORD, "withdraw_consent", case_id=case.case_id, consent_id=case.consent_id,
                 withdrawn_on=today_jst().isoformat())


async def _closed_by_a_meeting(drv, case: CaseRef) -> None:
    """Closed as the casefile closes a case: by a meeting's decision, applied by its
    reactor."""
    meeting_id = await drv.schedule()
    await drv.ok(COORD, "table_case", meeting_id=meeting_id, case_id=case.case_id,
                 asks=["close"])
    await drv.hold(meeting_id)
    await drv.ok(COORD, "record_decision", meeting_id=meeting_id, item_id="item-1",
                 decision="close", reason="目標達成")
    await _case_shows(drv, case, "CaseClosed")


async def test_only_the_convener_tables_and_a_case_is_tabled_once(drv, consented_case):
    meeting_id = await drv.schedule()
    await drv.refused(HOKATSU, "table_case", "forbidden", meeting_id=meeting_id,
                      case_id=consented_case.case_id, asks=["evaluate"])
    await drv.ok(COORD, "table_case", meeting_id=meeting_id, case_id=consented_case.case_id,
                 asks=["evaluate"])
    await drv.refused(COORD, "table_case", "already_tabled", meeting_id=meeting_id,
                      case_id=consented_case.case_id, asks=["close"])


async def test_a_decision_by_a_meeting_not_yet_held_is_refused(drv, consented_case):
    meeting_id = await drv.schedule()
    await _table_plan(drv, meeting_id, consented_case)
    error = await drv.refused(COORD, "record_decision", "not_held", meeting_id=meeting_id,
                              item_id="item-1", decision="approve_plan", reason="適切")
    assert "not been held" in error["message"]


async def test_a_decision_on_an_item_not_on_the_agenda_is_refused(drv, consented_case):
    meeting_id = await drv.schedule()
    await _table_plan(drv, meeting_id, consented_case)
    await drv.hold(meeting_id)
    error = await drv.refused(COORD, "record_decision", "not_on_agenda", meeting_id=meeting_id,
                              item_id="item-9", decision="approve_plan", reason="適切")
    assert "item-9" in error["message"]


async def test_the_same_decision_cannot_be_recorded_twice(drv, consented_case):
    meeting_id = await drv.schedule()
    await _table_plan(drv, meeting_id, consented_case)
    await drv.hold(meeting_id)
    await drv.ok(COORD, "record_decision", meeting_id=meeting_id, item_id="item-1",
                 decision="approve_plan", reason="目標と役割分担が適切")
    await _case_shows(drv, consented_case, "PlanApproved")  # the reactor is done
    await drv.refused(COORD, "record_decision", "already_decided", meeting_id=meeting_id,
                      item_id="item-1", decision="approve_plan", reason="again")
    await drv.refused(COORD, "record_decision", "already_decided", meeting_id=meeting_id,
                      item_id="item-1", decision="reject_plan", reason="changed our mind")


async def test_a_decision_must_answer_what_the_item_asks(drv, consented_case):
    meeting_id = await drv.schedule()
    await _table_plan(drv, meeting_id, consented_case)
    await drv.hold(meeting_id)
    error = await drv.refused(COORD, "record_decision", "decision_mismatch",
                              meeting_id=meeting_id, item_id="item-1", decision="close",
                              reason="終結")
    assert "approve_plan" in error["message"]
    await drv.refused(COORD, "record_decision", "invalid", meeting_id=meeting_id,
                      item_id="item-1", decision="assign_lead", reason="主担当")
    await drv.refused(COORD, "record_decision", "invalid", meeting_id=meeting_id,
                      item_id="item-1", decision="approve_plan", reason="")


async def test_decisions_carry_what_the_casefile_needs_and_form_the_case_history(
    drv, consented_case
):
    meeting_id = await drv.schedule(members=(HOKATSU, KIKAN))
    await _table_plan(drv, meeting_id, consented_case)
    await drv.hold(meeting_id, attendees=(COORD, HOKATSU))
    await drv.ok(COORD, "record_decision", meeting_id=meeting_id, item_id="item-1",
                 decision="approve_plan", reason="目標と役割分担が適切")
    await drv.ok(COORD, "record_decision", meeting_id=meeting_id, item_id="item-1",
                 decision="assign_lead", reason="日常の見守りを担う", lead_agency=HOKATSU)
    recorded = [e for e in await drv.events_of(meeting_id) if isinstance(e, DecisionRecorded)]
    approve, lead = recorded
    assert approve.decision is Decision.approve_plan
    assert (approve.plan_id, approve.plan_version, approve.program) == (consented_case.plan_id, 1,
                                                                        "multi_agency")
    assert approve.decided_on == today_jst() and approve.case_id == consented_case.case_id
    assert lead.lead_agency == HOKATSU and lead.decision_id != approve.decision_id
    history = await drv.ask(KIKAN, "case_decisions", case_id=consented_case.case_id)
    assert [d["decision"] for d in history] == ["approve_plan", "assign_lead"]
    assert history[0]["reason"] == "目標と役割分担が適切"
    assert await drv.ask(OUTSIDER, "case_decisions", case_id=consented_case.case_id) == []
    agenda = await drv.ask(HOKATSU, "meeting_agenda", meeting_id=meeting_id)
    assert len(agenda["items"][0]["decisions"]) == 2
    attended = {m["agency_id"]: m["attended"] for m in agenda["members"]}
    assert attended == {COORD: True, HOKATSU: True, KIKAN: False}


async def test_closure_and_return_to_comprehensive_are_decisions_with_reasons(
    drv, consented_case
):
    meeting_id = await drv.schedule()
    await drv.ok(COORD, "table_case", meeting_id=meeting_id, case_id=consented_case.case_id,
                 asks=["return_to_comprehensive", "close"])
    await drv.hold(meeting_id)
    await drv.refused(COORD, "record_decision", "invalid", meeting_id=meeting_id,
                      item_id="item-1", decision="return_to_comprehensive", reason="包括へ")
    await drv.refused(COORD, "record_decision", "unknown_agency", meeting_id=meeting_id,
                      item_id="item-1", decision="return_to_comprehensive", reason="包括へ",
                      lead_agency="nobody")
    await drv.ok(COORD, "record_decision", meeting_id=meeting_id, item_id="item-1",
                 decision="return_to_comprehensive", reason="包括で継続", lead_agency=HOKATSU)
    await drv.ok(COORD, "record_decision", meeting_id=meeting_id, item_id="item-1",
                 decision="close", reason="課題が整理された")
    decided = [e.decision for e in await drv.events_of(meeting_id)
               if isinstance(e, DecisionRecorded)]
    assert decided == [Decision.return_to_comprehensive, Decision.close]


async def test_holding_is_recorded_once_with_members_only_and_not_in_the_future(drv):
    meeting_id = await drv.schedule()
    tomorrow = (today_jst() + timedelta(days=1)).isoformat()
    await drv.refused(COORD, "record_meeting_held", "in_future", meeting_id=meeting_id,
                      held_on=tomorrow, attendees=[COORD])
    await drv.refused(COORD, "record_meeting_held", "not_member", meeting_id=meeting_id,
                      held_on=today_jst().isoformat(), attendees=[COORD, OUTSIDER])
    await drv.refused(COORD, "record_meeting_held", "invalid", meeting_id=meeting_id,
                      held_on=(today_jst() - timedelta(days=3)).isoformat(), attendees=[COORD])
    await drv.hold(meeting_id)
    await drv.refused(COORD, "record_meeting_held", "meeting_held", meeting_id=meeting_id,
                      held_on=today_jst().isoformat(), attendees=[COORD])
    await drv.refused(COORD, "table_case", "meeting_held", meeting_id=meeting_id,
                      case_id="case-1", asks=["evaluate"])


async def test_gaps_in_local_resources_are_items_of_the_support_plan_meeting(drv):
    meeting_id = await drv.schedule()
    await drv.refused(COORD, "record_resource_gap", "not_held", meeting_id=meeting_id,
                      description="夜間の見守り資源がない")
    await drv.hold(meeting_id)
    await drv.ok(COORD, "record_resource_gap", meeting_id=meeting_id,
                 description="夜間の見守り資源がない")
    agenda = await drv.ask(HOKATSU, "meeting_agenda", meeting_id=meeting_id)
    assert [g["description"] for g in agenda["resource_gaps"]] == ["夜間の見守り資源がない"]


async def test_minutes_are_recorded_once_after_the_meeting_and_sealed_in_the_log(drv, nc,
                                                                                 topology):
    meeting_id = await drv.schedule()
    await drv.refused(COORD, "record_minutes", "not_held", meeting_id=meeting_id,
                      text="議事録")
    await drv.hold(meeting_id)
    reply = await drv.ok(COORD, "record_minutes", meeting_id=meeting_id,
                         text="本人の生活状況を共有し、見守り体制を確認した。")
    await drv.refused(COORD, "record_minutes", "already_recorded", meeting_id=meeting_id,
                      text="second")
    raw = await nc.jetstream().get_msg(topology.events_stream, reply["events"][0]["seq"])
    assert "見守り体制".encode() not in raw.data and b"aes-256-gcm" in raw.data
    minutes = await drv.ask(HOKATSU, "meeting_minutes", meeting_id=meeting_id)
    assert minutes["text"] == "本人の生活状況を共有し、見守り体制を確認した。"
    await drv.ask_refused(OUTSIDER, "meeting_minutes", "forbidden", meeting_id=meeting_id)
