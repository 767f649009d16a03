"""`tsunagu verify`: every event the rules forbid where it stands is reported, exit 1.

The forbidden history here is written with the kit, around the deciders, on purpose: it is
what verify exists to find (the demo, the fault suite and the bench are checked clean in
their own tests)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from contracts.base import Actor, DomainEvent
from contracts.case import CaseClosed, CaseOpened, CaseOrigin, CaseReopened
from contracts.common import SubjectRef
from contracts.meeting import MeetingHeld, MeetingKind, MeetingScheduled
from eventstore.codec import encode, new_envelope
from tsunagu.ops.verify import Verifier

D = date(2026, 5, 1)


def env(event: DomainEvent):
    return new_envelope(event, Actor(agency_id="coord"))


def closed(decision: str) -> CaseClosed:
    return CaseClosed(case_id="c1", closed_on=D, meeting_id="m1", decision_id=decision,
                      reason="目標達成")


HISTORY = [
    CaseOpened(case_id="c1", subject=SubjectRef(person_id="p1"), origin=CaseOrigin.triage,
               opened_on=D, coordinator="coord"),
    closed("d1"),
    CaseReopened(case_id="c1", reopened_on=D, reason="再燃"),
    closed("d2"),  # allowed: reopened between
    closed("d3"),  # forbidden: a second CaseClosed without a reopen between
]


def test_a_second_case_closed_without_a_reopen_between_is_forbidden():
    verifier = Verifier()
    for seq, event in enumerate(HISTORY, start=1):
        verifier.check(seq, encode(env(event)))
    [finding] = verifier.report.findings
    assert (finding.seq, finding.aggregate, finding.aggregate_id, finding.type) == \
        (5, "case", "c1", "CaseClosed")
    assert "closed" in finding.reason


def test_a_meeting_held_twice_and_an_event_on_a_case_never_opened_are_forbidden():
    verifier = Verifier()
    events: list[DomainEvent] = [
        MeetingScheduled(meeting_id="m1", kind=MeetingKind.support_plan, regular=False,
                         scheduled_for=datetime(2026, 5, 1, 5, tzinfo=UTC), convened_by="coord",
                         members=("coord",)),
        MeetingHeld(meeting_id="m1", held_on=D, attendees=("coord",)),
        MeetingHeld(meeting_id="m1", held_on=D, attendees=("coord",)),
        closed("d9"),
    ]
    for seq, event in enumerate(events, start=1):
        verifier.check(seq, encode(env(event)))
    assert [(f.seq, f.type) for f in verifier.report.findings] == \
        [(3, "MeetingHeld"), (4, "CaseClosed")]


async def test_verify_reports_forbidden_events_with_sequence_and_aggregate_and_exits_1(
    store, cli
):
    clean = await cli("verify", "--json")
    assert clean.exit_code == 0, clean.output
    for event in HISTORY:
        await store.append([env(event)])  # forbidden on purpose: no decider would write it
    result = await cli("verify", "--json")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] is False and doc["events"] == 5 and doc["checked"] == {"case": 5}
    [finding] = doc["findings"]
    assert finding["seq"] == 5 and finding["aggregate_id"] == "c1"
    text = await cli("verify")
    assert text.exit_code == 1 and "seq 5" in text.stdout and "CaseClosed" in text.stdout


def test_a_referral_triaged_twice_is_forbidden():
    from contracts.common import Concern
    from contracts.referral import (
        ContactRoute,
        ReferralPersonal,
        ReferralSubmitted,
        ReferralTriaged,
        TriageOutcome,
    )

    submitted = ReferralSubmitted(
        referral_id="r1", person_id="p1", referring_agency="hokatsu",
        contact_route=ContactRoute.phone, concerns=(Concern.work,),
        personal=ReferralPersonal(summary="相談"))
    triaged = ReferralTriaged(referral_id="r1", outcome=TriageOutcome.returned,
                              triaged_by="coord", person_id="p1", reason="記載不足")
    verifier = Verifier()
    for seq, event in enumerate([submitted, triaged, triaged], start=1):
        verifier.check(seq, encode(env(event)))
    [finding] = verifier.report.findings
    assert (finding.seq, finding.aggregate, finding.type) == (3, "referral", "ReferralTriaged")
    assert "already triaged" in finding.reason
