"""Derived ids: one function (contracts.ids), and every id already stored stays the same.

The expected ids below were computed with each service's own derivation before they were
merged into ``contracts.ids.derived_id``; a change of scheme would orphan stored records."""

from __future__ import annotations

from types import SimpleNamespace

from contracts.ids import CASEFILE, MEETING, REFERRAL, derived_id
from contracts.meeting import Ask
from services.casefile.handlers import new_id
from services.meeting import domain as meeting
from services.referral import domain as referral


def test_the_referral_ids_stored_before_are_derived_again():
    assert referral.referral_id_for("hokatsu", "cmd-1") == "ref-f6d8d373b6c15439b75c1b8e"
    assert referral.person_id_for("hokatsu", "cmd-1") == "p-f6d8d373b6c15439b75c1b8e"
    assert referral.consent_id_for("hokatsu", "cmd-1") == "cons-f6d8d373b6c15439b75c1b8e"
    assert referral.case_id_for("ref-abc") == "case-dc0065e86af55bb480d785fe"
    assert referral.enrollment_id_for("case-x") == "enr-ca5153d5585357018cda5758"
    assert derived_id(REFERRAL, "ref", "hokatsu", "cmd-1") == "ref-f6d8d373b6c15439b75c1b8e"


def test_the_casefile_ids_stored_before_are_derived_again():
    session = SimpleNamespace(agency_id="hokatsu", command=SimpleNamespace(command_id="cmd-1"))
    assert new_id("case", session) == "case-12fe38a7d07657c69d77"  # type: ignore[arg-type]
    assert new_id("plan", session) == "plan-12fe38a7d07657c69d77"  # type: ignore[arg-type]
    assert derived_id(CASEFILE, "case", "hokatsu", "cmd-1") == "case-12fe38a7d07657c69d77"


def test_the_meeting_ids_stored_before_are_derived_again():
    assert meeting.derived_id("mtg", "hokatsu", "cmd-1") == "mtg-690e729adc865c70"
    assert meeting.decision_id_for("mtg-1", "item-1", Ask.approve_plan) == "dec-1c6ff937f8795764"
    assert derived_id(MEETING, "mtg", "hokatsu", "cmd-1") == "mtg-690e729adc865c70"


def test_a_derived_id_is_the_same_for_the_same_parts_and_differs_for_others():
    assert derived_id(REFERRAL, "x", "a", "b") == derived_id(REFERRAL, "x", "a", "b")
    assert derived_id(REFERRAL, "x", "a", "b") != derived_id(REFERRAL, "x", "b", "a")
    assert derived_id(MEETING, "x", "a") != derived_id(CASEFILE, "x", "a")
