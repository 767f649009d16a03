"""What people read: Japan time with the zone, Japanese labels for codes."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from contracts.jst import show_jst, today_jst
from contracts.labels_ja import LABELS_JA, ja


def test_times_are_shown_in_japan_with_the_zone():
    assert show_jst(datetime(2025, 4, 30, 16, 0, tzinfo=UTC)) == "2025-05-01 01:00 JST"
    assert show_jst("2025-04-30T14:59:00+00:00") == "2025-04-30 23:59 JST"
    assert today_jst(datetime(2025, 3, 31, 15, 0, tzinfo=UTC)) == date(2025, 4, 1)


def test_a_time_without_a_zone_is_refused_rather_than_guessed():
    with pytest.raises(ValueError, match="no time zone"):
        show_jst("2025-04-30T15:59:00")


def test_every_code_has_a_japanese_label_and_unknown_codes_show_as_they_are():
    from contracts.referral import TriageOutcome

    assert {ja("triage_outcome", o.value) for o in TriageOutcome} == set(
        LABELS_JA["triage_outcome"].values())
    assert ja("case_stage", "assessed") == "アセスメント済"
    assert ja("case_stage", "new-stage") == "new-stage" and ja("case_stage", None) == ""
