"""`tsunagu demo`: a realistic, repeatable story that every service accepts as commands."""

from __future__ import annotations

from collections import Counter

from contracts.case import CaseOpened
from contracts.referral import ReferralSubmitted
from tsunagu.ops.demo import DemoWorld
from tsunagu.ops.demo_story import DERIVED
from tsunagu.ops.demo_world import AGENCIES, END, START

EVERY_STAGE = {
    "AgencyRegistered", "ReferralSubmitted", "ReferralTriaged", "ReferralWithdrawn",
    "CaseOpened", "MemberJoined", "EnrollmentStarted", "EnrollmentEnded",
    "ApplicationRecorded", "ConsentRecorded", "ConsentRefused", "ConsentWithdrawn",
    "IntakeAssessmentRecorded", "PlanDrafted", "PlanTabled", "PlanApproved",
    "LeadAgencyAssigned", "MonitoringRecorded", "CaseClosed", "CaseSuspended",
    "CaseReturnedToComprehensive", "CaseReopened", "MeetingScheduled", "MemberInvited",
    "ConfidentialityAcknowledged", "CaseTabled", "CaseMovedToSupportPlanMeeting",
    "MeetingHeld", "DecisionRecorded", "ResourceGapRecorded", "MinutesRecorded",
}


def test_the_demo_world_is_deterministic_and_covers_every_stage_over_two_fiscal_years():
    first = DemoWorld(7, 200).build()
    second = DemoWorld(7, 200).build()
    assert [(i.when, i.event, i.story) for i in first] == \
        [(i.when, i.event, i.story) for i in second]
    types = Counter(i.event.type for i in first)
    assert set(types) >= EVERY_STAGE
    assert types["AgencyRegistered"] == len(AGENCIES) >= 40
    people = {i.event.person_id for i in first if isinstance(i.event, ReferralSubmitted)}
    people |= {i.event.subject.person_id for i in first
               if isinstance(i.event, CaseOpened) and i.event.subject.person_id}
    assert len(people) == 200
    outcomes = Counter(i.event.outcome.value for i in first if i.event.type == "ReferralTriaged")
    assert set(outcomes) == {"complex", "ordinary", "returned", "abuse_response"}
    # The directory and the first meetings' invitations precede the first fiscal year.
    before = {"AgencyRegistered", "MeetingScheduled", "ConfidentialityAcknowledged"}
    days = sorted(i.when.date() for i in first if i.event.type not in before)
    assert days[0] >= START and days[-1] <= END
    assert {d.year for d in days} == {2024, 2025}  # FY2024 and FY2025 (to Nov 2025)
    # Told in world order, so every aggregate's history reads as it happened.
    assert [i.when for i in first] == sorted(i.when for i in first)
    # What the services derive themselves is in the story but sent as no command.
    assert set(types) > DERIVED
