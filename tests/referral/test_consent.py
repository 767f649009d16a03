"""利用申込書 and consent as a history: recorded, withdrawn, expired, refused; coverage by date."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.consent import (
    ConsentRecorded,
    ConsentWithdrawn,
    case_consent_state,
    consent_status,
)
from tests.referral.support import ask, cid, refused, send, submit


async def _case(nc, topology) -> str:
    referral_id = (await submit(nc, topology))["ids"]["referral_id"]
    reply = await send(nc, topology, "fukushi-sodan", "triage_referral", {
        "command_id": cid(), "referral_id": referral_id, "outcome": "complex",
        "triaged_on": "2025-06-02",
    })
    assert reply["ok"], reply
    return reply["ids"]["case_id"]


def consent(case_id: str, **over) -> dict:
    return {"command_id": cid("cons"), "case_id": case_id, "agencies": ["shakyo", "hospital"],
            "purposes": ["支援会議での情報共有"], "method": "oral", "given_on": "2025-07-01",
            "valid_until": "2025-12-31", "obtained_by_staff": "相談員A", **over}


async def coverage(nc, topology, case_id: str, agency: str, on: str) -> dict:
    reply = await ask(nc, topology, "hokatsu-kita", "consent_coverage",
                      {"case_id": case_id, "agency_id": agency, "on": on})
    assert reply["ok"], reply
    return reply["result"]


async def test_consent_history_answers_coverage_for_any_agency_on_any_date(
    referral_rt, nc, topology
):
    case_id = await _case(nc, topology)
    app = await send(nc, topology, "hokatsu-kita", "record_application", {
        "command_id": cid(), "case_id": case_id, "applied_on": "2025-06-10",
        "with_consent": False,
    })
    assert [e["type"] for e in app["events"]] == ["ApplicationRecorded"]
    assert (await coverage(nc, topology, case_id, "shakyo", "2025-06-20"))["state"] == "none"

    # Consent arrives later, then is withdrawn.
    given = await send(nc, topology, "fukushi-sodan", "record_consent", consent(case_id))
    assert given["ok"], given
    history = (await ask(nc, topology, "hokatsu-kita", "consent_history",
                         {"case_id": case_id, "on": "2025-08-01"}))["result"]
    consent_id = history["events"][1]["consent_id"]
    assert history["state"] == "consented" and history["events"][1]["status"] == "active"
    assert history["events"][1]["obtained_by"] == "fukushi-sodan"

    gone = await send(nc, topology, "hokatsu-kita", "withdraw_consent", {
        "command_id": cid(), "case_id": case_id, "consent_id": consent_id,
        "withdrawn_on": "2025-09-15", "reason": "本人の申し出",
    })
    assert gone["ok"], gone

    expected = {
        ("shakyo", "2025-06-30"): (False, "none"),
        ("shakyo", "2025-07-01"): (True, "consented"),
        ("hospital", "2025-09-14"): (True, "consented"),
        ("hokatsu-kita", "2025-08-01"): (False, "consented"),  # not in the scope
        ("shakyo", "2025-09-15"): (False, "withdrawn"),
        ("shakyo", "2026-01-10"): (False, "withdrawn"),
    }
    for (agency, on), (covered, state) in expected.items():
        answer = await coverage(nc, topology, case_id, agency, on)
        assert (answer["covered"], answer["state"]) == (covered, state), (agency, on)

    # A second consent that simply runs out is "expired" after its last day.
    again = await send(nc, topology, "fukushi-sodan", "record_consent",
                       consent(case_id, given_on="2025-10-01", valid_until="2025-10-31"))
    assert again["ok"], again
    assert (await coverage(nc, topology, case_id, "shakyo", "2025-10-31"))["covered"] is True
    after = await coverage(nc, topology, case_id, "shakyo", "2025-11-01")
    assert (after["covered"], after["state"]) == (False, "expired")

    no = await send(nc, topology, "hokatsu-kita", "record_consent_refusal", {
        "command_id": cid(), "case_id": case_id, "refused_on": "2025-11-05", "reason": "拒否",
    })
    assert no["ok"], no
    assert (await coverage(nc, topology, case_id, "shakyo", "2025-11-06"))["state"] == "refused"


async def test_an_application_with_consent_records_both_in_one_batch(referral_rt, nc, topology,
                                                                     store):
    case_id = await _case(nc, topology)
    reply = await send(nc, topology, "fukushi-sodan", "record_application", {
        "command_id": cid(), "case_id": case_id, "applied_on": "2025-06-10",
        "with_consent": True,
        "consent": {"agencies": ["shakyo"], "purposes": ["プラン作成"], "method": "written",
                    "given_on": "2025-06-10", "obtained_by_staff": "相談員A",
                    "form_ref": "同意書-2025-001"},
    })
    assert reply["ok"], reply
    events = [env.event for env in (await store.load("consent", case_id)).envelopes]
    assert isinstance(events[1], ConsentRecorded) and events[1].valid_until is None
    assert events[1].person_id == events[0].person_id
    assert (await coverage(nc, topology, case_id, "shakyo", "2030-01-01"))["covered"] is True


@pytest.mark.parametrize(
    ("command", "payload", "code", "fragment"),
    [
        ("record_application", {"applied_on": "2099-01-01", "with_consent": False}, "invalid",
         "applied_on: 2099-01-01 is in the future"),
        ("record_application", {"applied_on": "2025-06-10", "with_consent": True}, "invalid",
         "consent: with_consent is true"),
        ("record_consent", {"agencies": ["shakyo", "ghost"], "purposes": ["共有"],
                            "method": "oral", "given_on": "2025-07-01"},
         "unknown_agency", "agencies: not active entries of the agency directory: ghost"),
        ("record_consent", {"agencies": ["shakyo"], "purposes": ["共有"], "method": "oral",
                            "given_on": "2025-07-01", "valid_until": "2025-06-30"},
         "invalid", "valid_until: 2025-06-30 is before given_on"),
        ("record_consent", {"agencies": ["shakyo"], "purposes": ["共有"], "method": "oral",
                            "given_on": "2099-07-01"}, "invalid", "given_on: 2099-07-01"),
        ("record_consent", {"agencies": ["shakyo"], "purposes": ["共有"],
                            "method": "telepathy", "given_on": "2025-07-01"},
         "invalid", "method"),
        ("withdraw_consent", {"consent_id": "cons-none", "withdrawn_on": "2025-07-02"},
         "not_found", "consent_id: case"),
        ("record_consent_refusal", {"refused_on": "2099-01-01"}, "invalid", "refused_on"),
    ],
)
async def test_an_application_or_consent_breaking_a_rule_is_refused(
    referral_rt, nc, topology, command, payload, code, fragment
):
    case_id = await _case(nc, topology)
    await refused(nc, topology, "fukushi-sodan", command,
                  {"command_id": cid(), "case_id": case_id, "staff": "相談員A", **payload},
                  code, fragment)


async def test_consent_rules_about_the_case_and_its_history(referral_rt, nc, topology):
    await refused(nc, topology, "hokatsu-kita", "record_consent",
                  consent("case-unknown"), "not_found", "case_id: no case case-unknown")
    case_id = await _case(nc, topology)
    await refused(nc, topology, "hospital", "record_consent", consent(case_id), "forbidden",
                  "'hospital' is not a member of case")
    first = await send(nc, topology, "hokatsu-kita", "record_application", {
        "command_id": cid(), "case_id": case_id, "applied_on": "2025-06-10",
        "with_consent": False})
    assert first["ok"]
    await refused(nc, topology, "hokatsu-kita", "record_application",
                  {"command_id": cid(), "case_id": case_id, "applied_on": "2025-06-11",
                   "with_consent": False}, "already_recorded", "already has its application")
    given = await send(nc, topology, "fukushi-sodan", "record_consent", consent(case_id))
    assert given["ok"]
    history = (await ask(nc, topology, "hokatsu-kita", "consent_history",
                         {"case_id": case_id}))["result"]
    consent_id = history["events"][-1]["consent_id"]
    withdraw = {"case_id": case_id, "consent_id": consent_id}
    await refused(nc, topology, "hokatsu-kita", "withdraw_consent",
                  {"command_id": cid(), **withdraw, "withdrawn_on": "2025-06-30"}, "invalid",
                  "withdrawn_on: 2025-06-30 is before the consent was given")
    ok = await send(nc, topology, "hokatsu-kita", "withdraw_consent",
                    {"command_id": cid(), **withdraw, "withdrawn_on": "2025-07-02"})
    assert ok["ok"]
    await refused(nc, topology, "hokatsu-kita", "withdraw_consent",
                  {"command_id": cid(), **withdraw, "withdrawn_on": "2025-07-03"},
                  "already_withdrawn", "was already withdrawn on 2025-07-02")


def test_the_pure_status_of_a_consent_over_time():
    c = ConsentRecorded(case_id="c1", consent_id="k1", person_id="p1", agencies=("a",),
                        purposes=("x",), method="oral", obtained_by="a",
                        given_on=date(2025, 7, 1), valid_until=date(2025, 7, 31))
    w = ConsentWithdrawn(case_id="c1", consent_id="k1", withdrawn_on=date(2025, 7, 20))
    assert consent_status(c, [c], date(2025, 6, 30)) == "not_yet_given"
    assert consent_status(c, [c], date(2025, 7, 31)) == "active"
    assert consent_status(c, [c], date(2025, 8, 1)) == "expired"
    assert consent_status(c, [c, w], date(2025, 7, 20)) == "withdrawn"
    assert consent_status(c, [c, w], date(2025, 7, 19)) == "active"
    assert case_consent_state([c, w], date(2025, 8, 5)) == "withdrawn"
    assert case_consent_state([c], date(2025, 8, 5)) == "expired"
    assert case_consent_state([], date(2025, 8, 5)) == "none"
