"""Issue 15, item 3: a triage or return reason, a referral's withdrawal reason and a
consent's purposes, who obtained it and its form reference are about the person: the
deciders put them only in sealed blocks under the person's key (so ``tsunagu erase``
shreds them); the stored event carries no plaintext. Pure: deciders and sealing."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from contracts.commands_referral import TriageReferral, WithdrawReferral
from contracts.common import reason_of
from contracts.consent import ConsentRecorded, consent_text
from contracts.referral import ReferralSubmitted, TriageOutcome
from eventstore.crypto import key_id_of
from services.referral import domain
from tests.meeting.test_free_text_sealed import stored
from tests.referral.test_consent_privacy import CASE, _cmd, _facts

WHY, PURPOSE, STAFF = "鰐淵さんは窓口が違う", "鰐淵さんの債務整理の相談", "相談員 楢崎"


def pending() -> domain.ReferralState:
    sheet = ReferralSubmitted.model_validate({
        "referral_id": "r1", "person_id": "p1", "referring_agency": "shakyo",
        "contact_route": "phone", "concerns": ["debt"], "personal": {"summary": "概要"}})
    return replace(domain.ReferralState("r1"), referring_agency="shakyo", person_id="p1",
                   sheet=sheet, submitted_on=date(2026, 5, 1))


def test_a_return_reason_travels_only_sealed_with_the_persons_key():
    facts = domain.TriageFacts(agency_id="fukushi", allowed=True, today=date(2026, 5, 2),
                               route_abuse=False, assigned_active=None, case_id="c1",
                               case_is_empty=True, personal=None)
    [event] = domain.decide_triage(TriageReferral(
        command_id="t", referral_id="r1", outcome=TriageOutcome.returned, reason=WHY),
        pending(), facts)
    assert reason_of(event) == WHY and event.reason is None  # type: ignore[union-attr]
    assert key_id_of(event) == "p1" and WHY not in stored(event)


def test_a_withdrawal_reason_travels_only_sealed_with_the_persons_key():
    [event] = domain.decide_withdraw(WithdrawReferral(command_id="w", referral_id="r1",
                                                      reason=WHY), pending(), agency_id="shakyo")
    assert reason_of(event) == WHY and key_id_of(event) == "p1" and WHY not in stored(event)


def test_a_consents_purposes_staff_and_form_travel_only_sealed():
    [event] = domain.decide_consent(_cmd(purposes=[PURPOSE], obtained_by_staff=STAFF),
                                    CASE, _facts("fukushi-sodan"), consent_id="k1")
    assert isinstance(event, ConsentRecorded) and key_id_of(event) == "p1"
    text = consent_text(event)
    assert text is not None and text.purposes == (PURPOSE,) and text.obtained_by_staff == STAFF
    assert event.purposes == () and event.obtained_by_staff is None and event.form_ref is None
    body = stored(event)
    assert PURPOSE not in body and STAFF not in body and "同意書-2025-015" not in body


def test_a_consent_stored_before_its_text_was_sealed_is_still_read():
    old = ConsentRecorded(case_id="c1", consent_id="k0", person_id="p1", agencies=("a",),
                          purposes=("旧形式",), method="written", obtained_by="a",
                          obtained_by_staff="旧職員", given_on=date(2025, 1, 1))
    text = consent_text(old)
    assert text is not None and (text.purposes, text.obtained_by_staff) == (("旧形式",), "旧職員")
