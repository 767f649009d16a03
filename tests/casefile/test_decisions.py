"""What a meeting's decision does to a case, judged once, by the casefile (pure): each
function of the table ``decisions.APPLY`` applies its decision or records why not, with a
code; the meeting's kind is read from the event, and events stored without it apply too."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from contracts.case import (
    CaseClosed,
    CaseOpened,
    CaseOrigin,
    CaseSuspended,
    DecisionNotApplied,
    EnrollmentStarted,
    MemberJoined,
    MembershipReason,
    NotAppliedCode,
    PlanApproved,
    PlanDrafted,
    PlanPersonal,
    PlanRole,
    PlanTabled,
)
from contracts.common import Program, SubjectRef
from contracts.consent import ConsentMethod, ConsentRecorded, ConsentWithdrawn
from contracts.meeting import Ask, CaseTabled, Decision, DecisionRecorded, MeetingKind
from services.casefile import decisions, domain
from services.casefile.decisions import DecisionFacts

OPENED, HELD = date(2026, 4, 10), date(2026, 6, 1)
SUBJECT = SubjectRef(person_id="p1")
CONSENT = (ConsentRecorded(case_id="c1", consent_id="k1", person_id="p1", agencies=("coord",),
                           purposes=("支援",), method=ConsentMethod.written,
                           obtained_by="coord", given_on=OPENED),)
WITHDRAWN = (*CONSENT, ConsentWithdrawn(case_id="c1", consent_id="k1",
                                        withdrawn_on=date(2026, 5, 20)))
FACTS = DecisionFacts(consent=CONSENT)


def drafted(version: int = 1) -> PlanDrafted:
    return PlanDrafted(case_id="c1", plan_id="pl1", version=version,
                       program=Program.multi_agency, drafted_by="coord",
                       drafted_on=date(2026, 5, 1),
                       roles=(PlanRole(agency_id="npo", role="見守り"),),
                       personal=PlanPersonal(long_term_goal="g", short_term_goals=("s",),
                                             direction="d"))


def tabled(meeting_id: str = "m1", version: int = 1) -> PlanTabled:
    return PlanTabled(case_id="c1", plan_id="pl1", version=version, meeting_id=meeting_id,
                      item_id="i1")


def case(*more: Any) -> domain.CaseState:
    return domain.fold("c1", [
        CaseOpened(case_id="c1", subject=SUBJECT, origin=CaseOrigin.triage, opened_on=OPENED,
                   coordinator="coord"),
        MemberJoined(case_id="c1", agency_id="coord", joined_on=OPENED,
                     how=MembershipReason.triage),
        EnrollmentStarted(case_id="c1", enrollment_id="c1-e1", program=Program.multi_agency,
                          subject=SUBJECT, started_on=OPENED),
        *more,
    ])


def closed() -> CaseClosed:
    return CaseClosed(case_id="c1", closed_on=date(2026, 5, 15), meeting_id="m0",
                      decision_id="d0", reason="終結")


def suspended() -> CaseSuspended:
    return CaseSuspended(case_id="c1", suspended_on=date(2026, 5, 15), meeting_id="m0",
                         decision_id="d0", reason="中断")


def decided(decision: Decision, **kw: Any) -> DecisionRecorded:
    fields: dict[str, Any] = {"meeting_kind": MeetingKind.support_plan, "decision_id": "d1",
                              **kw}
    if decision is Decision.approve_plan:
        fields = {"plan_id": "pl1", "plan_version": 1, **fields}
    return DecisionRecorded(meeting_id="m1", item_id="i1", case_id="c1", decision=decision,
                            reason="会議で合意", decided_on=HELD, **fields)


def types(events: list[Any]) -> list[str]:
    return [e.type for e in events]


def not_applied(events: list[Any]) -> NotAppliedCode:
    [event] = events
    assert event.type == "DecisionNotApplied" and event.decision_id == "d1", events
    assert event.reason and event.code is not None
    return event.code


def test_only_the_decisions_that_change_a_case_have_a_function_in_the_table():
    assert set(decisions.APPLY) == {Decision.approve_plan, Decision.assign_lead, Decision.close,
                                    Decision.suspend, Decision.return_to_comprehensive}
    for decision in set(Decision) - set(decisions.APPLY):
        assert decisions.decide_decision(case(), decided(decision), FACTS) == []


def test_a_decision_is_applied_once_and_only_to_a_case_this_service_knows():
    state = case(closed())  # d0 applied
    assert decisions.decide_decision(state, decided(Decision.close, decision_id="d0"),
                                     FACTS) == []
    assert decisions.decide_decision(domain.CaseState("c9"), decided(Decision.close),
                                     FACTS) == []


def test_a_tabled_plan_is_approved_and_its_role_agencies_join():
    events = decisions.approve_plan(case(drafted(), tabled()), decided(Decision.approve_plan),
                                    FACTS)
    assert types(events) == ["PlanApproved", "MemberJoined"]
    assert isinstance(events[0], PlanApproved) and events[0].approved_on == HELD
    assert events[1].how is MembershipReason.plan_role and events[1].agency_id == "npo"


@pytest.mark.parametrize(("history", "kw", "facts", "code"), [
    ([drafted(), tabled(), closed()], {}, FACTS, "case_not_open"),
    ([drafted(), tabled()], {"meeting_kind": MeetingKind.confidential}, FACTS,
     "not_support_plan_meeting"),
    ([drafted(), tabled()], {"plan_id": None}, FACTS, "no_plan"),
    ([], {}, FACTS, "plan_not_drafted"),
    ([drafted(), tabled()], {"plan_version": 3}, FACTS, "plan_not_drafted"),
    ([drafted()], {}, FACTS, "plan_not_tabled"),
    ([drafted(), tabled("m0")], {}, FACTS, "plan_not_tabled"),
    ([drafted(), tabled(), drafted(2)], {}, FACTS, "plan_superseded"),
    ([drafted(), tabled(), PlanApproved(case_id="c1", plan_id="pl1", version=1,
                                        program=Program.multi_agency, meeting_id="m0",
                                        decision_id="d0", approved_on=HELD)],
     {}, FACTS, "plan_already_approved"),
    ([drafted(), tabled()], {}, DecisionFacts(consent=WITHDRAWN), "no_consent"),
    ([drafted(), tabled()], {}, DecisionFacts(), "no_consent"),
])
def test_an_approval_the_case_cannot_take_is_not_applied_with_its_code(history, kw, facts,
                                                                       code):
    events = decisions.decide_decision(case(*history), decided(Decision.approve_plan, **kw),
                                       facts)
    assert not_applied(events) == code


def test_a_lead_is_named_on_an_open_case_if_named_and_joins_it():
    events = decisions.assign_lead(case(), decided(Decision.assign_lead, lead_agency="npo"),
                                   FACTS)
    assert types(events) == ["LeadAgencyAssigned", "MemberJoined"]
    run = decisions.decide_decision
    assert not_applied(run(case(), decided(Decision.assign_lead), FACTS)) == "no_lead_agency"
    assert not_applied(run(case(suspended()), decided(Decision.assign_lead, lead_agency="npo"),
                           FACTS)) == "case_not_open"


def test_closing_ends_the_enrollments_and_a_closed_case_is_not_closed_again():
    events = decisions.close(case(), decided(Decision.close), FACTS)
    assert types(events) == ["CaseClosed", "EnrollmentEnded"]
    assert events[0].personal_reason.text == "会議で合意"  # sealed with the case's key
    assert types(decisions.close(case(suspended()), decided(Decision.close), FACTS)) == [
        "CaseClosed", "EnrollmentEnded"]
    assert not_applied(decisions.decide_decision(case(closed()), decided(Decision.close),
                                                 FACTS)) == "already_closed"


def test_only_an_open_case_is_suspended():
    assert types(decisions.suspend(case(), decided(Decision.suspend), FACTS)) == [
        "CaseSuspended"]
    assert not_applied(decisions.decide_decision(case(suspended()), decided(Decision.suspend),
                                                 FACTS)) == "case_not_open"


def test_an_open_or_suspended_case_returns_to_comprehensive_with_a_named_lead():
    back = decided(Decision.return_to_comprehensive, lead_agency="hokatsu")
    assert types(decisions.return_to_comprehensive(case(suspended()), back, FACTS)) == [
        "CaseReturnedToComprehensive", "MemberJoined", "EnrollmentEnded"]
    run = decisions.decide_decision
    assert not_applied(run(case(closed()), back, FACTS)) == "case_not_open"
    assert not_applied(run(case(), decided(Decision.return_to_comprehensive),
                           FACTS)) == "no_lead_agency"


def test_a_decision_stored_without_meeting_kind_still_applies():
    # Events stored before meeting_kind was set: an approval's plan was tabled at this very
    # meeting (the case records tablings at a 重層的支援会議 only), so no kind is needed.
    old = decided(Decision.approve_plan, meeting_kind=None)
    assert old.meeting_kind is None
    assert types(decisions.decide_decision(case(drafted(), tabled()), old, FACTS))[0] == (
        "PlanApproved")
    assert not_applied(decisions.decide_decision(case(drafted()), old, FACTS)) == (
        "plan_not_tabled")
    assert types(decisions.decide_decision(
        case(), decided(Decision.close, meeting_kind=None), FACTS))[0] == "CaseClosed"


def table(kind: MeetingKind | None, plan_version: int | None = 1) -> CaseTabled:
    return CaseTabled(meeting_id="m1", item_id="i1", case_id="c1", asks=(Ask.approve_plan,),
                      plan_id="pl1", plan_version=plan_version, meeting_kind=kind)


def test_a_plan_is_tabled_on_an_open_case_only_at_a_support_plan_meeting_if_drafted():
    tabling = decisions.decide_tabling(case(drafted()), table(MeetingKind.support_plan))
    assert tabling == [tabled()]
    assert decisions.decide_tabling(case(drafted(), drafted(2)),
                                    table(MeetingKind.support_plan, None)) == [tabled(version=2)]
    assert decisions.decide_tabling(case(drafted(), tabled()),
                                    table(MeetingKind.support_plan)) == []  # recorded before
    for kind, history, version, code in [
        (MeetingKind.confidential, [drafted()], 1, "not_support_plan_meeting"),
        (None, [drafted()], 1, "meeting_kind_unknown"),  # stored without a kind
        (MeetingKind.support_plan, [], 1, "plan_not_drafted"),
        (MeetingKind.support_plan, [drafted()], 2, "plan_not_drafted"),
        (MeetingKind.support_plan, [drafted(), closed()], 1, "case_not_open"),
        (MeetingKind.support_plan, [drafted(), suspended()], 1, "case_not_open"),
    ]:
        [event] = decisions.decide_tabling(case(*history), table(kind, version))
        assert event.type == "DecisionNotApplied" and event.code == code, (kind, code)


def test_the_casefile_applies_the_lead_the_meeting_recorded_without_reading_the_directory():
    # The meeting judged the lead an active directory entry when it recorded the decision
    # (meeting domain.check_lead): the casefile's facts hold no lead's standing.
    facts = DecisionFacts(consent=CONSENT)
    for decision, history in [(Decision.assign_lead, ()), (Decision.return_to_comprehensive,
                                                           (suspended(),))]:
        events = decisions.decide_decision(case(*history), decided(decision, lead_agency="npo"),
                                           facts)
        assert types(events)[:2] in (["LeadAgencyAssigned", "MemberJoined"],
                                     ["CaseReturnedToComprehensive", "MemberJoined"])


def test_a_plan_tabling_is_recorded_without_judging_consent_again():
    # Rule 1 (without consent a case goes to a 支援会議 only) was judged by the meeting when
    # it tabled the case; the casefile judges what the tabling does to the case.
    assert decisions.decide_tabling(case(drafted()), table(MeetingKind.support_plan)) == [
        tabled()]


def test_a_tabling_not_taken_at_one_meeting_does_not_hide_the_next_meetings_item_of_that_id():
    # Item ids are per meeting (item-1 at every meeting): a tabling judged before is known by
    # its meeting and item together, not by the item id alone.
    missed = DecisionNotApplied(case_id="c1", meeting_id="m0", decision_id="i1",
                                reason="never drafted", code=NotAppliedCode.plan_not_drafted)
    assert decisions.decide_tabling(case(drafted(), missed),
                                    table(MeetingKind.support_plan)) == [tabled()]
    again = missed.model_copy(update={"meeting_id": "m1"})  # this very tabling, judged before
    assert decisions.decide_tabling(case(drafted(), again), table(MeetingKind.support_plan)) == []
