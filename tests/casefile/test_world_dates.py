"""World dates in the casefile's deciders (pure): a fact about a case is not dated before
the facts it depends on, and a plan is approved on the meeting's date."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.case import (
    CaseClosed,
    CaseOpened,
    CaseOrigin,
    EnrollmentStarted,
    MemberJoined,
    MembershipReason,
    PlanDrafted,
    PlanPersonal,
    PlanRole,
    PlanTabled,
)
from contracts.commands_casefile import RecordIntakeAssessment, ReopenCase
from contracts.common import Program, SubjectRef
from contracts.meeting import Decision, DecisionRecorded, MeetingKind
from eventstore.errors import InvalidInput
from services.casefile import decisions, domain

OPENED = date(2026, 4, 10)
ITEMS = {"household": "single", "route": "self", "main_concern": "work", "urgency": "low"}
SUBJECT = SubjectRef(person_id="p1")


def opened_case(*more: object) -> domain.CaseState:
    return domain.fold("c1", [
        CaseOpened(case_id="c1", subject=SUBJECT, origin=CaseOrigin.triage, opened_on=OPENED,
                   coordinator="coord"),
        MemberJoined(case_id="c1", agency_id="coord", joined_on=OPENED,
                     how=MembershipReason.triage),
        EnrollmentStarted(case_id="c1", enrollment_id="c1-e1", program=Program.multi_agency,
                          subject=SUBJECT, started_on=OPENED),
        *more,  # type: ignore[list-item]
    ])


def test_an_assessment_is_not_dated_before_the_case_was_opened():
    state = opened_case()
    cmd = RecordIntakeAssessment(command_id="a1", case_id="c1", assessed_on=date(2026, 4, 9),
                                 national_items=ITEMS, personal={"situation": "x"})
    with pytest.raises(InvalidInput, match=r"assessed_on .* before the case was opened"):
        domain.decide_assessment(state, "coord", "as-1", cmd)
    same_day = cmd.model_copy(update={"assessed_on": OPENED})
    assert domain.decide_assessment(state, "coord", "as-1", same_day)


def test_a_case_is_not_reopened_before_it_was_closed():
    state = opened_case(CaseClosed(case_id="c1", closed_on=date(2026, 6, 1), meeting_id="m1",
                                   decision_id="d1", reason="目標達成"))
    early = ReopenCase(command_id="r1", case_id="c1", reopened_on=date(2026, 5, 30), reason="再燃")
    with pytest.raises(InvalidInput, match=r"reopened_on .* before the case was closed"):
        domain.decide_reopen(state, "coord", early)
    later = early.model_copy(update={"reopened_on": date(2026, 7, 1)})
    assert domain.decide_reopen(state, "coord", later)[0].reopened_on == date(2026, 7, 1)


def test_a_plan_is_approved_on_the_meetings_date():
    state = opened_case(
        PlanDrafted(case_id="c1", plan_id="pl1", version=1, program=Program.multi_agency,
                    drafted_by="coord", drafted_on=date(2026, 5, 1),
                    roles=(PlanRole(agency_id="coord", role="全体調整"),),
                    personal=PlanPersonal(long_term_goal="g", short_term_goals=("s",),
                                          direction="d")),
        PlanTabled(case_id="c1", plan_id="pl1", version=1, meeting_id="m1", item_id="i1"),
    )
    held = date(2026, 5, 20)  # recorded months later: the approval keeps the meeting's date
    decided = DecisionRecorded(meeting_id="m1", decision_id="d1", item_id="i1", case_id="c1",
                               decision=Decision.approve_plan, reason="適切", decided_on=held,
                               plan_id="pl1", plan_version=1,
                               meeting_kind=MeetingKind.support_plan)
    consent = [_consent()]
    events = decisions.decide_decision(state, decided, decisions.DecisionFacts(tuple(consent)))
    assert [e.approved_on for e in events if e.type == "PlanApproved"] == [held]


def _consent():
    from contracts.consent import ConsentMethod, ConsentRecorded

    return ConsentRecorded(case_id="c1", consent_id="k1", person_id="p1", agencies=("coord",),
                           purposes=("支援",), method=ConsentMethod.written, obtained_by="coord",
                           given_on=date(2026, 4, 12))
