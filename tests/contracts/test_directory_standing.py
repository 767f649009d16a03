"""The directory's rules, judged once (contracts.directory): whether an agency is an active
entry, and who may coordinate (triage referrals, convene meetings)."""

from __future__ import annotations

from datetime import date

from contracts.directory import (
    Agency,
    AgencyRegistered,
    AgencyRetired,
    AgencyUpdated,
    active_entry,
    agency_standing,
    evolve_agency,
    inactive_agency,
    is_active,
    may_coordinate,
)
from contracts.precondition import Refusal

DAY = date(2025, 4, 1)


def registered(agency_id: str = "kita", can_triage: bool = False) -> AgencyRegistered:
    return AgencyRegistered(agency_id=agency_id, name="北部", category="地域包括支援センター",
                            verified_at=DAY, can_triage=can_triage)


def updated(agency_id: str = "kita", can_triage: bool = False) -> AgencyUpdated:
    return AgencyUpdated(agency_id=agency_id, name="北部", category="社会福祉協議会",
                         verified_at=DAY, can_triage=can_triage)


def retired(agency_id: str = "kita") -> AgencyRetired:
    return AgencyRetired(agency_id=agency_id, reason="統合")


def test_an_agency_never_registered_has_no_standing_and_is_not_active():
    assert agency_standing([]) is None
    assert not is_active(None)


def test_a_registered_agency_is_active_until_it_is_retired_and_again_once_updated():
    assert is_active(agency_standing([registered()]))
    assert not is_active(agency_standing([registered(), retired()]))
    assert is_active(agency_standing([registered(), retired(), updated()]))


def test_the_standing_follows_the_latest_entry():
    standing = agency_standing([registered(can_triage=True), updated(can_triage=False)])
    assert standing == Agency("kita", active=True, can_triage=False, category="社会福祉協議会")


def test_the_latest_directory_event_alone_gives_the_same_standing_as_the_whole_history():
    history = [registered(can_triage=True), retired(), updated(can_triage=True)]
    for i in range(1, len(history) + 1):
        assert is_active(evolve_agency(None, history[i - 1])) == is_active(
            agency_standing(history[:i]))
        assert may_coordinate(evolve_agency(None, history[i - 1])) == may_coordinate(
            agency_standing(history[:i]))


def test_an_inactive_agency_is_refused_with_the_role_it_was_named_in():
    assert inactive_agency("kita", agency_standing([registered()])) is None
    assert inactive_agency("kita", None) == (
        "agency 'kita' (sender) is not an active entry of the agency directory")
    assert inactive_agency("kita", agency_standing([registered(), retired()]), "lead_agency") == (
        "agency 'kita' (lead_agency) is not an active entry of the agency directory")
    assert inactive_agency("kita", None, role=None) == (
        "agency 'kita' is not an active entry of the agency directory")


def test_an_active_entry_marked_can_triage_may_coordinate():
    assert may_coordinate(agency_standing([registered(can_triage=True)]))
    assert not may_coordinate(agency_standing([registered(can_triage=False)]))


def test_an_agency_the_city_names_in_its_setting_may_coordinate_while_it_is_active():
    assert may_coordinate(agency_standing([registered()]), configured=("kita",))
    assert not may_coordinate(agency_standing([registered()]), configured=("minami",))
    assert not may_coordinate(agency_standing([registered(), retired()]), configured=("kita",))


def test_a_retired_or_unknown_agency_may_not_coordinate_even_if_it_was_marked():
    assert not may_coordinate(agency_standing([registered(can_triage=True), retired()]))
    assert not may_coordinate(None, configured=("kita",))


def test_the_active_entry_precondition_loads_the_agency_and_refuses_naming_it():
    check = active_entry("kita", "lead_agency")
    assert (check.aggregate, check.aggregate_id, dict(check.details)) == (
        "agency", "kita", {"agency_id": "kita"})
    assert check.judge([registered()]) == agency_standing([registered()])
    assert check.judge([registered(), retired()]) == Refusal(
        "agency 'kita' (lead_agency) is not an active entry of the agency directory")
    assert check.judge([]) == check.judge([registered(), retired()])
