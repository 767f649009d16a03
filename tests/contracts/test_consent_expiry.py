"""Issue 15, item 2: which agencies must get the redacted view when a consent expires
(the pure rule the casefile's timer uses on each day, in Japan)."""

from __future__ import annotations

from datetime import date

from contracts.consent import ConsentRecorded, ConsentWithdrawn, uncovered_by_expiry

LAST = date(2026, 6, 30)
NEXT = date(2026, 7, 1)


def consent(cid: str, agencies: tuple[str, ...], until: date | None) -> ConsentRecorded:
    return ConsentRecorded(case_id="c1", consent_id=cid, person_id="p1", agencies=agencies,
                           method="written", obtained_by="fukushi",
                           given_on=date(2026, 4, 1), valid_until=until)


def test_on_the_day_after_its_last_day_every_agency_it_alone_covered_is_redacted():
    assert uncovered_by_expiry([consent("k1", ("hokatsu", "npo"), LAST)], NEXT) == {
        "hokatsu", "npo"}


def test_an_agency_another_valid_consent_still_covers_is_not_redacted():
    events = [consent("k1", ("hokatsu", "npo"), LAST), consent("k2", ("npo",), None)]
    assert uncovered_by_expiry(events, NEXT) == {"hokatsu"}


def test_nothing_is_redacted_on_the_last_valid_day_nor_on_later_days():
    events = [consent("k1", ("hokatsu",), LAST)]
    assert uncovered_by_expiry(events, LAST) == frozenset()
    assert uncovered_by_expiry(events, date(2026, 7, 2)) == frozenset()


def test_a_consent_withdrawn_before_it_ends_never_expires():
    events = [consent("k1", ("hokatsu",), LAST),
              ConsentWithdrawn(case_id="c1", consent_id="k1", withdrawn_on=date(2026, 6, 1))]
    assert uncovered_by_expiry(events, NEXT) == frozenset()
