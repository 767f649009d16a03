"""Every refusal of the referral commands says why and appends nothing."""

from __future__ import annotations

import pytest

from tests.referral.support import cid, refused, send, sheet, submit


async def _triaged(nc, topology, outcome: str = "returned") -> str:
    referral_id = (await submit(nc, topology))["ids"]["referral_id"]
    reply = await send(nc, topology, "fukushi-sodan", "triage_referral", {
        "command_id": cid(), "referral_id": referral_id, "outcome": outcome, "reason": "理由",
    })
    assert reply["ok"], reply
    return referral_id


@pytest.mark.parametrize(
    ("overrides", "code", "fragment"),
    [
        ({"personal": {"birth_date": "2099-01-01"}}, "invalid",
         "personal.birth_date: birth date 2099-01-01 is in the future"),
        ({"personal": {"household": [{"relation": "子", "birth_date": "2099-01-01"}]}},
         "invalid", "personal.household.0.birth_date"),
        ({"personal": {"summary": "   "}}, "invalid", "personal.summary"),
        ({"contact_route": "not_reachable"}, "invalid", "personal.contact_note"),
        ({"personal": {"phone": None}}, "invalid", "personal.phone: contact_route is phone"),
        ({"age_band": "20s"}, "invalid", "age_band 20s contradicts the birth date (50s)"),
        ({"concerns": []}, "invalid", "concerns"),
        ({"concerns": ["space_travel"]}, "invalid", "concerns.0"),
        ({"personal": {"birth_date": "1850-01-01"}}, "invalid", "personal.birth_date"),
        ({"nickname": "x"}, "invalid", "nickname"),
    ],
)
async def test_a_sheet_breaking_a_rule_is_refused(referral_rt, nc, topology, overrides, code,
                                                  fragment):
    await refused(nc, topology, "hokatsu-kita", "submit_referral", sheet(**overrides), code,
                  fragment)


async def test_an_agency_outside_the_directory_cannot_submit(referral_rt, nc, topology):
    reply = await refused(nc, topology, "stranger", "submit_referral", sheet(), "forbidden",
                          "'stranger' (sender) is not an active entry")
    assert reply["error"]["details"] == {"agency_id": "stranger"}


async def test_a_referral_cannot_be_triaged_twice(referral_rt, nc, topology):
    referral_id = await _triaged(nc, topology)
    await refused(nc, topology, "fukushi-seisaku", "triage_referral",
                  {"command_id": cid(), "referral_id": referral_id, "outcome": "complex"},
                  "already_triaged", "was already triaged (returned) by fukushi-sodan")


async def test_an_agency_not_allowed_to_triage_is_refused(referral_rt, nc, topology):
    referral_id = (await submit(nc, topology))["ids"]["referral_id"]
    await refused(nc, topology, "shakyo", "triage_referral",
                  {"command_id": cid(), "referral_id": referral_id, "outcome": "complex"},
                  "forbidden", "'shakyo' may not triage referrals")


@pytest.mark.parametrize(
    ("payload", "code", "fragment"),
    [
        ({"outcome": "ordinary"}, "invalid", "assigned_agency: an ordinary"),
        ({"outcome": "ordinary", "assigned_agency": "ghost"}, "unknown_agency",
         "assigned_agency: 'ghost' is not an active entry"),
        ({"outcome": "complex", "assigned_agency": "shakyo"}, "invalid", "assigned_agency"),
        ({"outcome": "returned"}, "invalid", "reason: say why"),
        ({"outcome": "complex", "triaged_on": "2099-01-01"}, "invalid",
         "triaged_on: 2099-01-01 is in the future"),
        ({"outcome": "complex", "triaged_on": "2025-05-31"}, "invalid",
         "is before the referral was submitted (2025-06-01)"),
        ({"outcome": "maybe"}, "invalid", "outcome"),
    ],
)
async def test_a_triage_decision_breaking_a_rule_is_refused(referral_rt, nc, topology, payload,
                                                            code, fragment):
    referral_id = (await submit(nc, topology))["ids"]["referral_id"]
    await refused(nc, topology, "fukushi-sodan", "triage_referral",
                  {"command_id": cid(), "referral_id": referral_id, **payload}, code, fragment)


async def test_an_unknown_referral_cannot_be_triaged(referral_rt, nc, topology):
    await refused(nc, topology, "fukushi-sodan", "triage_referral",
                  {"command_id": cid(), "referral_id": "ref-nope", "outcome": "complex"},
                  "not_found", "referral_id: no referral ref-nope")


@pytest.mark.parametrize("outcome", ["complex", "ordinary", "returned"])
async def test_suspected_abuse_may_only_be_routed_to_the_abuse_response(
    referral_rt, nc, topology, outcome
):
    referral_id = (await submit(nc, topology, suspected_abuse=True,
                                concerns=["abuse_dv"]))["ids"]["referral_id"]
    await refused(nc, topology, "fukushi-sodan", "triage_referral",
                  {"command_id": cid(), "referral_id": referral_id, "outcome": outcome,
                   "assigned_agency": "shakyo" if outcome == "ordinary" else None,
                   "reason": "x"},
                  "abuse_must_be_routed", "may only be triaged to abuse_response")
    routed = await send(nc, topology, "fukushi-sodan", "triage_referral", {
        "command_id": cid(), "referral_id": referral_id, "outcome": "abuse_response",
        "assigned_agency": "jido-sodan",
    })
    assert routed["ok"], routed
    assert routed["events"][0]["type"] == "ReferralTriaged"


async def test_abuse_routing_can_be_switched_off_by_configuration(
    directory, services, settings, nc, topology, monkeypatch
):
    from tsunagu import services as registry

    monkeypatch.setitem(registry.SERVICES, "referral", "tests.referral.support:no_abuse_spec")
    await services("referral")
    referral_id = (await submit(nc, topology, suspected_abuse=True))["ids"]["referral_id"]
    reply = await send(nc, topology, "fukushi-sodan", "triage_referral",
                       {"command_id": cid(), "referral_id": referral_id, "outcome": "complex"})
    assert reply["ok"], reply


async def test_only_the_sender_may_correct_or_withdraw_and_only_until_triage(
    referral_rt, nc, topology
):
    referral_id = (await submit(nc, topology))["ids"]["referral_id"]
    correction = sheet(referral_id=referral_id, command_id=cid())
    await refused(nc, topology, "shakyo", "correct_referral", correction, "forbidden",
                  "only the sending agency (hokatsu-kita) may correct")
    await refused(nc, topology, "shakyo", "withdraw_referral",
                  {"command_id": cid(), "referral_id": referral_id, "reason": "x"},
                  "forbidden", "may withdraw")
    ok = await send(nc, topology, "hokatsu-kita", "correct_referral",
                    sheet(referral_id=referral_id, command_id=cid(), concerns=["housing"]))
    assert ok["ok"] and ok["events"][0]["type"] == "ReferralCorrected"

    triaged = await _triaged(nc, topology)
    await refused(nc, topology, "hokatsu-kita", "correct_referral",
                  sheet(referral_id=triaged, command_id=cid()), "already_triaged",
                  "cannot change any more")
    await refused(nc, topology, "hokatsu-kita", "withdraw_referral",
                  {"command_id": cid(), "referral_id": triaged, "reason": "x"},
                  "already_triaged", "already triaged")


async def test_a_withdrawn_referral_cannot_be_triaged_or_withdrawn_again(referral_rt, nc,
                                                                         topology):
    referral_id = (await submit(nc, topology))["ids"]["referral_id"]
    ok = await send(nc, topology, "hokatsu-kita", "withdraw_referral",
                    {"command_id": cid(), "referral_id": referral_id, "reason": "本人転居"})
    assert ok["ok"], ok
    await refused(nc, topology, "fukushi-sodan", "triage_referral",
                  {"command_id": cid(), "referral_id": referral_id, "outcome": "complex"},
                  "withdrawn", "was withdrawn by its sender")
    await refused(nc, topology, "hokatsu-kita", "withdraw_referral",
                  {"command_id": cid(), "referral_id": referral_id, "reason": "x"},
                  "withdrawn", "withdrawn")
