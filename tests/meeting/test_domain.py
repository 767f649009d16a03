"""The pure parts: when the 定例 falls, which decision answers which ask, the fold, and
what recording a decision judges (the meeting's rules only)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import MappingProxyType

import pytest

from contracts.commands_meeting import RecordDecision, TableCase
from contracts.common import Program
from contracts.meeting import (
    Ask,
    CaseTabled,
    Decision,
    DecisionRecorded,
    MeetingKind,
    RecurrenceRule,
)
from eventstore.errors import DomainError, InvalidInput
from services.meeting import domain
from services.meeting.recurrence import JST, check_rule, describe, next_occurrence, occurrence_id
from services.meeting.rules import ask_answered_by, asks_allowed
from services.meeting.state import Agency, Case, Item, Meeting


def test_the_third_thursday_rolls_over_the_year_end():
    rule = RecurrenceRule(week=3, weekday=3, hour=14)
    after = datetime(2025, 12, 18, 14, 0, tzinfo=JST)  # 第3木曜日 of December 2025, at 14:00
    nxt = next_occurrence(rule, after)
    assert nxt == datetime(2026, 1, 15, 14, 0, tzinfo=JST)
    assert next_occurrence(rule, datetime(2025, 12, 18, 4, 59, tzinfo=UTC)) == datetime(
        2025, 12, 18, 14, 0, tzinfo=JST
    )
    assert occurrence_id("ser-x", nxt) == "ser-x-202601"
    assert describe(rule) == "毎月第3木曜日 14:00"


def test_a_day_of_month_rule_uses_japan_time_for_the_month():
    rule = RecurrenceRule(day_of_month=1, hour=9)
    # 31 January 23:30 UTC is 1 February 08:30 in Japan: that day's 09:00 is still to come.
    after = datetime(2025, 1, 31, 23, 30, tzinfo=UTC)
    assert next_occurrence(rule, after) == datetime(2025, 2, 1, 9, 0, tzinfo=JST)
    assert occurrence_id("s", datetime(2025, 1, 31, 23, 30, tzinfo=UTC)) == "s-202502"


@pytest.mark.parametrize("rule", [
    RecurrenceRule(hour=9),
    RecurrenceRule(day_of_month=3, week=1, weekday=1, hour=9),
    RecurrenceRule(weekday=1, hour=9),
])
def test_a_rule_needs_exactly_one_form(rule):
    with pytest.raises(InvalidInput, match="rule"):
        check_rule(rule)


def test_a_decision_answers_the_first_open_ask_it_fits():
    asks = (Ask.evaluate, Ask.close)
    assert ask_answered_by(asks, (), Decision.close) is Ask.evaluate
    assert ask_answered_by(asks, {Ask.evaluate}, Decision.close) is Ask.close
    assert ask_answered_by(asks, {Ask.evaluate, Ask.close}, Decision.close) is None
    assert ask_answered_by((Ask.approve_plan,), (), Decision.assign_lead) is None


def test_a_confidential_meeting_may_be_asked_anything_but_a_plan():
    assert Ask.approve_plan not in asks_allowed(MeetingKind.confidential)
    assert asks_allowed(MeetingKind.support_plan) == frozenset(Ask)


def test_jst_dates_are_fixed_offset():
    assert datetime(2025, 6, 30, 15, 0, tzinfo=UTC).astimezone(JST).date() == date(2025, 7, 1)


def test_ids_derived_from_a_command_id_include_the_sender():
    from contracts.commands_meeting import ShareMaterial
    from services.meeting import domain
    from services.meeting.state import Meeting

    held = Meeting("mtg-1", status="held", kind=MeetingKind.support_plan,
                   members=frozenset({"police", "school"}))
    cmd = ShareMaterial(command_id="c1", meeting_id="mtg-1", title="資料", text="…")
    by_police = domain.material(cmd, held, "police")[0]
    by_school = domain.material(cmd, held, "school")[0]
    assert by_police.material_id != by_school.material_id  # type: ignore[attr-defined]


# ---- recording a decision: the meeting's rules only ---------------------------------------
def _held(kind: MeetingKind, *asks: Ask, answered: frozenset[Ask] = frozenset()) -> Meeting:
    item = Item("item-1", "case-1", asks, plan_id="plan-1", plan_version=1,
                answered=answered)
    return Meeting("mtg-1", status="held", kind=kind, convened_by="coord",
                   held_on=date(2026, 6, 1), items=(item,))


def _decision(decision: Decision, lead: str | None = None) -> RecordDecision:
    return RecordDecision(command_id="c1", meeting_id="mtg-1", item_id="item-1",
                          decision=decision, reason="協議", lead_agency=lead)


def test_a_decision_is_recorded_without_asking_the_case_and_carries_the_meeting_kind():
    # No case, no consent is passed: what the approval does to the case is the casefile's.
    [event] = domain.decide(_decision(Decision.approve_plan),
                            _held(MeetingKind.support_plan, Ask.approve_plan), "coord", None)
    assert isinstance(event, DecisionRecorded)
    assert event.meeting_kind is MeetingKind.support_plan and event.decided_on == date(2026, 6, 1)
    assert (event.plan_id, event.plan_version) == ("plan-1", 1)


def test_a_decision_answers_an_open_ask_of_its_item_that_its_kind_of_meeting_may_be_asked():
    cmd = _decision(Decision.approve_plan)
    plan = _held(MeetingKind.support_plan, Ask.approve_plan)
    assert domain.answered_ask(cmd, plan, plan.items[0]) is Ask.approve_plan
    confidential = _held(MeetingKind.confidential, Ask.approve_plan)  # never tabled so: rules
    with pytest.raises(InvalidInput) as refused:
        domain.answered_ask(cmd, confidential, confidential.items[0])
    assert refused.value.code == "not_at_confidential"
    answered = _held(MeetingKind.support_plan, Ask.approve_plan,
                     answered=frozenset({Ask.approve_plan}))
    with pytest.raises(DomainError) as again:
        domain.answered_ask(cmd, answered, answered.items[0])
    assert again.value.code == "already_decided"
    evaluate = _held(MeetingKind.support_plan, Ask.evaluate)
    with pytest.raises(InvalidInput) as mismatch:
        domain.answered_ask(cmd, evaluate, evaluate.items[0])
    assert mismatch.value.code == "decision_mismatch"


def test_a_lead_is_named_by_the_decisions_that_need_one_and_only_by_them():
    domain.check_lead(_decision(Decision.assign_lead, "npo"), Agency("npo", active=True))
    domain.check_lead(_decision(Decision.close), None)
    with pytest.raises(InvalidInput, match="lead_agency: required"):
        domain.check_lead(_decision(Decision.assign_lead), None)
    with pytest.raises(InvalidInput) as retired:
        domain.check_lead(_decision(Decision.return_to_comprehensive, "gone"), Agency("gone"))
    assert retired.value.code == "unknown_agency"
    with pytest.raises(InvalidInput, match="lead_agency: only for"):
        domain.check_lead(_decision(Decision.close, "npo"), Agency("npo", active=True))


def test_the_meeting_alone_judges_the_lead_active_when_it_records_the_decision():
    # The recorded lead is a fact valid when made: the casefile applies it as recorded.
    held = _held(MeetingKind.support_plan, Ask.assign_lead)
    with pytest.raises(InvalidInput) as retired:
        domain.decide(_decision(Decision.assign_lead, "gone"), held, "coord", Agency("gone"))
    assert retired.value.code == "unknown_agency"
    [event] = domain.decide(_decision(Decision.assign_lead, "npo"), held, "coord",
                            Agency("npo", active=True))
    assert isinstance(event, DecisionRecorded) and event.lead_agency == "npo"


# ---- tabling: the meeting's rules; what it does to the case is the casefile's -------------
def _open(kind: MeetingKind) -> Meeting:
    return Meeting("mtg-1", status="scheduled", kind=kind, convened_by="coord",
                   scheduled_for=datetime(2026, 6, 1, 10, 0, tzinfo=JST))


def _table(*asks: Ask, plan_version: int | None = 1) -> TableCase:
    return TableCase(command_id="c1", meeting_id="mtg-1", case_id="case-1", asks=asks,
                     plan_id="plan-1" if Ask.approve_plan in asks else None,
                     plan_version=plan_version if Ask.approve_plan in asks else None)


OPEN_CASE = Case("case-1", opened=True,
                 plans=MappingProxyType({("plan-1", 1): Program.multi_agency}))


def test_a_plan_goes_on_the_agenda_without_the_meeting_judging_whether_it_was_drafted():
    # Whether the plan (version) was drafted is the casefile's to judge when it takes the
    # tabling (plan_not_drafted on the convener's feed); the meeting reads only its program.
    meeting = _open(MeetingKind.support_plan)
    [drafted] = domain.table(_table(Ask.approve_plan), meeting, "coord", OPEN_CASE, True)
    assert isinstance(drafted, CaseTabled) and drafted.program is Program.multi_agency
    [never] = domain.table(_table(Ask.approve_plan, plan_version=2), meeting, "coord",
                           OPEN_CASE, True)
    assert isinstance(never, CaseTabled) and (never.plan_id, never.plan_version) == ("plan-1", 2)
    assert never.program is None and never.meeting_kind is MeetingKind.support_plan


def test_a_plan_is_named_only_by_an_item_that_asks_to_approve_it():
    # Otherwise the casefile would answer the plan (not_support_plan_meeting at a 支援会議)
    # to every agency of the case: the 支援会議's existence told to agencies outside it.
    confidential = _open(MeetingKind.confidential)
    with_plan = TableCase(command_id="c1", meeting_id="mtg-1", case_id="case-1",
                          asks=(Ask.share_information,), plan_id="plan-1", plan_version=1)
    with pytest.raises(InvalidInput, match="approve_plan") as refused:
        domain.table(with_plan, confidential, "coord", OPEN_CASE, False)
    assert refused.value.details == {"field": "plan_id"}


def test_which_meeting_a_case_may_go_to_is_judged_by_the_meeting_when_it_is_tabled():
    # Rule 1: without consent, a 支援会議 only; a closed or unknown case goes on no agenda
    # (an item at a 支援会議 opens the case to its bound members: refused before, not after).
    plan_meeting = _open(MeetingKind.support_plan)
    with pytest.raises(DomainError) as unconsented:
        domain.table(_table(Ask.evaluate), plan_meeting, "coord", OPEN_CASE, False)
    assert unconsented.value.code == "no_consent"
    confidential = _open(MeetingKind.confidential)
    [event] = domain.table(_table(Ask.share_information), confidential, "coord", OPEN_CASE,
                           False)
    assert isinstance(event, CaseTabled) and event.meeting_kind is MeetingKind.confidential
    for case, code in [(Case("case-1"), "not_found"),
                       (Case("case-1", opened=True, closed=True), "case_closed")]:
        with pytest.raises(DomainError) as refused:
            domain.table(_table(Ask.share_information), confidential, "coord", case, False)
        assert refused.value.code == code
