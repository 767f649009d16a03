"""Reserved agency ids: one rule in contracts/, used by the directory and `tsunagu creds`."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.directory import RESERVED_AGENCY_IDS, reserved_agency_id
from services.referral.directory_file import parse_file


@pytest.mark.parametrize("agency_id", [*sorted(RESERVED_AGENCY_IDS), "Operator", "ADMIN"])
def test_an_agency_may_not_take_a_platform_role_s_id(agency_id: str):
    message = reserved_agency_id(agency_id)
    assert message and "reserved for the platform" in message and repr(agency_id) in message


def test_ordinary_ids_are_free():
    assert reserved_agency_id("hokatsu") is None
    assert reserved_agency_id("operators-union") is None


def test_the_directory_file_refuses_a_reserved_id_naming_the_line_and_the_rule():
    raw = ("agency_id,name,category,verified_at\n"
           "hokatsu,包括,地域包括支援センター,2026-04-01\n"
           "operator,偽,警察,2026-04-01\n").encode()
    parsed = parse_file("d.csv", raw, (), date(2026, 4, 1))
    assert [(e.line, "reserved" in str(e)) for e in parsed.errors] == [(3, True)]
