"""A reason an agency gives about a person is personal: events carry it only in a sealed
``FreeText`` block (shredded with the person's keys), never in a plain field. Events stored
before keep their plain ``reason``, which ``reason_of`` still reads."""

from __future__ import annotations

from datetime import date

from contracts.case import (
    CaseClosed,
    CaseOpened,
    CaseOrigin,
    CaseReopened,
    CaseReturnedToComprehensive,
    CaseSuspended,
    EnrollmentEnded,
    EnrollmentStarted,
    MemberJoined,
    MembershipReason,
)
from contracts.commands_casefile import EndEnrollment, ReopenCase
from contracts.common import FreeText, Program, SubjectRef, reason_of
from contracts.consent import ConsentRefused, ConsentWithdrawn
from contracts.meeting import DecisionRecorded
from eventstore.crypto import personal_fields
from services.casefile import domain

REASON = "母の入院で生活が再び不安定に"


def closed_case() -> domain.CaseState:
    day = date(2026, 4, 1)
    return domain.fold("c1", [
        CaseOpened(case_id="c1", subject=SubjectRef(person_id="p1"), origin=CaseOrigin.triage,
                   opened_on=day, coordinator="fukushi"),
        EnrollmentStarted(case_id="c1", enrollment_id="c1-e1", program=Program.multi_agency,
                          subject=SubjectRef(person_id="p1"), started_on=day),
        MemberJoined(case_id="c1", agency_id="shakyo", joined_on=day,
                     how=MembershipReason.opened),
        CaseClosed(case_id="c1", closed_on=date(2026, 6, 1), meeting_id="m1",
                   decision_id="d1", personal_reason=FreeText(text="終結")),
        EnrollmentEnded(case_id="c1", enrollment_id="c1-e1", program=Program.multi_agency,
                        ended_on=date(2026, 6, 1), reason="case closed"),
    ])


def test_every_reason_field_is_a_sealed_personal_block():
    for cls in (ConsentWithdrawn, ConsentRefused, DecisionRecorded, CaseClosed, CaseSuspended,
                CaseReturnedToComprehensive, CaseReopened, EnrollmentStarted,
                EnrollmentEnded):
        assert personal_fields(cls).get("personal_reason") is FreeText, cls.__name__


def test_a_reopening_reason_travels_only_in_the_sealed_block():
    events = domain.decide_reopen(closed_case(), "shakyo", ReopenCase(
        command_id="r1", case_id="c1", reopened_on=date(2026, 11, 1), reason=REASON))
    assert [type(e) for e in events] == [CaseReopened, EnrollmentStarted]
    for e in events:
        assert getattr(e, "reason", None) is None
        assert reason_of(e) == REASON


def test_an_enrollment_end_reason_travels_only_in_the_sealed_block():
    state = closed_case()
    state = domain.evolve(state, EnrollmentStarted(
        case_id="c1", enrollment_id="c1-e2", program=Program.outreach,
        subject=SubjectRef(person_id="p1"), started_on=date(2026, 7, 1)))
    [ended] = domain.decide_end_enrollment(state, "shakyo", EndEnrollment(
        command_id="e1", case_id="c1", enrollment_id="c1-e2", ended_on=date(2026, 8, 1),
        reason=REASON))
    assert isinstance(ended, EnrollmentEnded) and ended.reason is None
    assert reason_of(ended) == REASON


def test_an_event_stored_before_reasons_were_sealed_is_still_read():
    old = CaseReopened(case_id="c1", reopened_on=date(2025, 1, 1), reason="旧形式の理由")
    assert reason_of(old) == "旧形式の理由"
