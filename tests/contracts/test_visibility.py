"""The one rule for who sees a person's data (contracts.visibility), proved on the pure
function: consent judged today, a 支援会議 seat, and nothing else."""

from __future__ import annotations

from datetime import date

from contracts.consent import ConsentMethod, ConsentRecorded, ConsentWithdrawn
from contracts.visibility import Basis, Seat, disclosure_basis

GIVEN = date(2026, 5, 1)
TODAY = date(2026, 6, 10)


def consent(consent_id: str = "k1", agencies: tuple[str, ...] = ("hokatsu", "shakyo"),
            given_on: date = GIVEN, valid_until: date | None = None) -> ConsentRecorded:
    return ConsentRecorded(case_id="c1", consent_id=consent_id, person_id="p1",
                           agencies=agencies, purposes=("支援のための情報共有",),
                           method=ConsentMethod.written, obtained_by="shakyo",
                           given_on=given_on, valid_until=valid_until)


def withdrawn(on: date, consent_id: str = "k1") -> ConsentWithdrawn:
    return ConsentWithdrawn(case_id="c1", consent_id=consent_id, withdrawn_on=on)


def test_a_covered_member_sees_the_person_on_the_basis_of_its_consent():
    basis = disclosure_basis("hokatsu", consent=[consent()], today=TODAY, takes_part=True)
    assert basis == Basis(kind="consent", consent_id="k1")


def test_consent_is_judged_today_so_a_withdrawal_cannot_be_stepped_around():
    events = [consent(), withdrawn(TODAY)]
    assert disclosure_basis("hokatsu", consent=events, today=TODAY, takes_part=True) is None
    # the rule only ever gets "today": yesterday's coverage is no basis now
    assert disclosure_basis("hokatsu", consent=events, today=date(2026, 6, 9),
                            takes_part=True) is not None


def test_an_expired_consent_is_no_basis():
    events = [consent(valid_until=date(2026, 6, 1))]
    assert disclosure_basis("hokatsu", consent=events, today=TODAY, takes_part=True) is None


def test_consent_that_does_not_name_the_agency_is_no_basis():
    assert disclosure_basis("hellowork", consent=[consent()], today=TODAY,
                            takes_part=True) is None


def test_consent_is_no_basis_for_an_agency_that_takes_no_part():
    assert disclosure_basis("hokatsu", consent=[consent()], today=TODAY,
                            takes_part=False) is None


def test_a_bound_seat_at_a_support_meeting_is_a_basis_without_consent():
    seats = [Seat("s2", "hospital", date(2026, 5, 3)), Seat("s1", "shakyo", None)]
    basis = disclosure_basis("hospital", consent=[], today=TODAY, takes_part=False,
                             seats=seats)
    assert basis == Basis(kind="support_meeting", meeting_id="s2",
                          acknowledged_at=date(2026, 5, 3))
    assert basis.as_dict() == {"kind": "support_meeting", "consent_id": None,
                               "meeting_id": "s2", "acknowledged_at": "2026-05-03"}


def test_the_latest_covering_consent_is_the_basis():
    events = [consent("k1"), consent("k2", given_on=date(2026, 5, 20))]
    basis = disclosure_basis("shakyo", consent=events, today=TODAY, takes_part=True)
    assert basis is not None and basis.consent_id == "k2"
