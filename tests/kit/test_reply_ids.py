"""A reply names what its command created, by kind, as the exported reply schema says."""

from __future__ import annotations

from datetime import date

import jsonschema
import pytest

from contracts.base import Actor, DomainEvent
from contracts.case import CaseOpened, CaseOrigin, EnrollmentStarted, MemberJoined, MembershipReason
from contracts.catalog import event_types
from contracts.common import Program, SubjectRef
from contracts.consent import ApplicationRecorded, ConsentRecorded, ConsentWithdrawn
from contracts.export import OK_REPLY
from contracts.referral import ReferralTriaged, TriageOutcome
from eventstore.codec import new_envelope
from eventstore.commands import reply_ok
from eventstore.replies import reply_ids
from tests.kit.fakes import agency_event

D = date(2026, 5, 1)


def stored(*events: DomainEvent) -> list:
    return [(seq, new_envelope(e, Actor(agency_id="fukushi")))
            for seq, e in enumerate(events, start=1)]


def _case(case_id: str = "case-1") -> list[DomainEvent]:
    subject = SubjectRef(person_id="p-1")
    return [
        CaseOpened(case_id=case_id, subject=subject, origin=CaseOrigin.triage, opened_on=D,
                   coordinator="fukushi"),
        EnrollmentStarted(case_id=case_id, enrollment_id=f"{case_id}-a",
                          program=Program.multi_agency, subject=subject, started_on=D),
        EnrollmentStarted(case_id=case_id, enrollment_id=f"{case_id}-b",
                          program=Program.participation, subject=subject, started_on=D),
        MemberJoined(case_id=case_id, agency_id="fukushi", joined_on=D,
                     how=MembershipReason.triage),
    ]


def test_several_created_of_a_kind_are_listed_and_one_is_also_named_alone():
    triaged = ReferralTriaged(referral_id="ref-1", outcome=TriageOutcome.complex, case_id="case-1",
                              person_id="p-1", triaged_by="fukushi", triaged_on=D)
    ids = reply_ids(stored(triaged, *_case()))
    assert ids["referral_id"] == "ref-1"  # the aggregate touched, as before
    assert ids["case_id"] == "case-1" and ids["case_ids"] == ["case-1"]
    assert ids["enrollment_ids"] == ["case-1-a", "case-1-b"]
    assert "enrollment_id" not in ids  # two were created: which one is not guessed


def test_a_created_consent_is_named_by_its_own_id_and_its_case_by_the_case_id():
    ids = reply_ids(stored(
        ApplicationRecorded(case_id="case-1", person_id="p-1", applied_on=D, with_consent=True),
        ConsentRecorded(case_id="case-1", consent_id="cons-1", person_id="p-1",
                        agencies=("fukushi",), purposes=("支援",), method="written",
                        obtained_by="fukushi", given_on=D)))
    assert ids["consent_id"] == "cons-1" and ids["consent_ids"] == ["cons-1"]
    assert ids["case_id"] == "case-1"
    withdrawn = reply_ids(stored(ConsentWithdrawn(case_id="case-1", consent_id="cons-1",
                                                  withdrawn_on=D)))
    assert withdrawn == {"consent_id": "cons-1", "case_id": "case-1"}
    # An application without consent created no consent: the case, not a "consent_id".
    applied = reply_ids(stored(ApplicationRecorded(case_id="case-1", person_id="p-1",
                                                   applied_on=D, with_consent=False)))
    assert applied == {"case_id": "case-1"}


def test_nothing_created_names_the_records_touched_as_before():
    assert reply_ids(stored(_case()[-1])) == {"case_id": "case-1"}
    assert reply_ids(stored(agency_event("hq", updated=True).event)) == {"agency_id": "hq"}


@pytest.mark.parametrize("events", [_case(), [], [agency_event("hq").event]])
def test_replies_validate_against_the_exported_reply_schema(events):
    from contracts.base import Command

    reply = reply_ok(Command(type="x", command_id="c1"), stored(*events), replayed=False)
    jsonschema.validate(reply, OK_REPLY)


def test_every_created_field_is_an_id_field_of_its_event():
    for cls in event_types().values():
        for name in cls.creates:
            assert name.endswith("_id") and name in cls.model_fields, (cls.__name__, name)
