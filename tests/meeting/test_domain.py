"""The pure parts: when the 定例 falls, which decision answers which ask, the fold, and
what recording a decision judges (the meeting's rules only)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from contracts.commands_meeting import RecordDecision
from contracts.meeting import Ask, Decision, DecisionRecorded, MeetingKind, RecurrenceRule
from eventstore.errors import DomainError, InvalidInput
from services.meeting import domain
from services.meeting.recurrence import JST, check_rule, describe, next_occurrence, occurrence_id
from services.meeting.rules import ask_answered_by, asks_allowed
from services.meeting.state import Agency, Item, Meeting


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
