"""The city's one list of coordinating agencies (TSUNAGU_TRIAGE_AGENCIES) is declared once,
in ``contracts.directory.CoordinationSettings``: the referral service (who triages) and the
meeting service (who convenes) read the same variable through it."""

from __future__ import annotations

import pytest

from contracts.directory import CoordinationSettings
from services.meeting.settings import MeetingSettings
from services.referral.settings import ReferralSettings


def test_the_referral_and_meeting_services_read_the_one_list_of_coordinators(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("TSUNAGU_TRIAGE_AGENCIES", '["fukushi-seisaku", "kikan"]')
    for cls in (ReferralSettings, MeetingSettings):
        assert issubclass(cls, CoordinationSettings)
        # Inherited, not declared again beside it.
        assert "triage_agencies" not in vars(cls).get("__annotations__", {})
        assert cls().triage_agencies == ("fukushi-seisaku", "kikan")


def test_without_the_variable_no_agency_is_named_a_coordinator(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("TSUNAGU_TRIAGE_AGENCIES", raising=False)
    assert ReferralSettings().triage_agencies == MeetingSettings().triage_agencies == ()
