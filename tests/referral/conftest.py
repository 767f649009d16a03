"""Fixtures for the referral service: a running service and a small directory."""

from __future__ import annotations

import pytest

from tests.helpers import register_agency

#: Coordinator by directory flag; "fukushi-seisaku" may triage by configuration only.
AGENCIES = {
    "hokatsu-kita": ("地域包括支援センター北部", "地域包括支援センター", False),
    "shakyo": ("市社会福祉協議会", "社会福祉協議会", False),
    "fukushi-sodan": ("福祉相談課", "その他行政の担当部署", True),
    "fukushi-seisaku": ("福祉政策課", "その他行政の担当部署", False),
    "jido-sodan": ("児童相談所", "児童相談所", False),
    "hospital": ("市民病院", "医療機関", False),
}


@pytest.fixture(autouse=True)
def triage_by_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """The city's list of triaging agencies (the services read it when they start)."""
    monkeypatch.setenv("TSUNAGU_TRIAGE_AGENCIES", '["fukushi-seisaku"]')


@pytest.fixture
async def directory(store) -> dict:
    for agency_id, (name, category, can_triage) in AGENCIES.items():
        await register_agency(store, agency_id, name=name, category=category,
                              can_triage=can_triage)
    return AGENCIES


@pytest.fixture
async def referral_rt(directory, services):
    """The referral service, running in-process against the test's own prefix."""
    runtimes = await services("referral")
    return runtimes["referral"]
