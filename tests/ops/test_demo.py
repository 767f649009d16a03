"""`tsunagu demo`: a realistic, repeatable history that every service can apply."""

from __future__ import annotations

import json
from collections import Counter

from contracts.base import Sealed
from contracts.case import CaseOpened
from contracts.referral import ReferralSubmitted
from eventstore.crypto import KeyRing, personal_fields
from tsunagu.ops.demo import DemoWorld, envelopes
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
    first = envelopes(DemoWorld(7, 200).build(), 7)
    second = envelopes(DemoWorld(7, 200).build(), 7)
    assert [e.event_id for e in first] == [e.event_id for e in second]
    assert [e.event for e in first] == [e.event for e in second]
    types = Counter(e.type for e in first)
    assert set(types) >= EVERY_STAGE
    assert types["AgencyRegistered"] == len(AGENCIES) >= 40
    people = {e.event.person_id for e in first if isinstance(e.event, ReferralSubmitted)}
    people |= {e.event.subject.person_id for e in first
               if isinstance(e.event, CaseOpened) and e.event.subject.person_id}
    assert len(people) == 200
    outcomes = Counter(e.event.outcome.value for e in first if e.type == "ReferralTriaged")
    assert set(outcomes) == {"complex", "ordinary", "returned", "abuse_response"}
    # The directory and the first meetings' invitations precede the first fiscal year.
    before = {"AgencyRegistered", "MeetingScheduled", "ConfidentialityAcknowledged"}
    days = sorted(e.occurred_at.date() for e in first if e.type not in before)
    assert days[0] >= START and days[-1] <= END
    assert {d.year for d in days} == {2024, 2025}  # FY2024 and FY2025 (to Nov 2025)
    # Stored in world order, so every aggregate's history reads as it happened.
    assert [e.occurred_at for e in first] == sorted(e.occurred_at for e in first)


async def test_demo_loads_sealed_events_and_a_second_run_appends_nothing(
    nc, topology, store, cli
):
    result = await cli("demo", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["appended"] == doc["events"] > 3000 and doc["skipped"] == 0
    info = await nc.jetstream().stream_info(topology.events_stream)
    assert info.state.messages == doc["events"]

    history = await store.load("referral", "ref-0001")
    event = history.events[0].envelope.event
    sealed = [v for f in personal_fields(type(event)) if (v := getattr(event, f)) is not None]
    assert sealed and all(isinstance(v, Sealed) for v in sealed)
    keyring = await KeyRing.open(nc, topology)
    await keyring.prefetch({sealed[0].key_id})
    assert keyring.unseal_event(event).personal.name  # type: ignore[attr-defined]

    again = await cli("demo", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["appended"] == 0
    assert json.loads(again.stdout)["skipped"] == doc["events"]
    info = await nc.jetstream().stream_info(topology.events_stream)
    assert info.state.messages == doc["events"]


async def test_a_demo_with_another_seed_over_an_existing_one_is_refused_and_appends_nothing(
    nc, topology, cli
):
    assert (await cli("demo", "--people", "20")).exit_code == 0
    before = (await nc.jetstream().stream_info(topology.events_stream)).state.messages
    result = await cli("demo", "--people", "20", "--seed", "8")
    assert result.exit_code == 1
    assert "conflict" in result.output and "fresh data directory" in result.output
    assert (await nc.jetstream().stream_info(topology.events_stream)).state.messages == before
