"""Likely duplicate people: keyed hashes only, shown in the triage view, decided by a person."""

from __future__ import annotations

from sqlalchemy import select

from services.referral.projection import match_keys, matching_keys, normal_kana
from tests.referral.support import ask, cid, refused, send, submit, synced


def test_kana_is_compared_in_one_normal_form():
    assert normal_kana("ﾔﾏﾀﾞ ﾀﾛｳ") == normal_kana("やまだ　たろう") == "ヤマダタロウ"


def test_matching_keys_are_keyed_hashes_not_the_data():
    keys = matching_keys(b"k" * 32, "ヤマダ タロウ", None, "090-1234-5678")
    assert set(keys) == {"phone"} and "5678" not in keys["phone"]
    assert keys != matching_keys(b"x" * 32, "ヤマダ タロウ", None, "090-1234-5678")


async def test_the_triage_view_shows_a_likely_match_and_the_coordinator_decides(
    referral_rt, nc, topology
):
    first = (await submit(nc, topology, "hokatsu-kita"))["ids"]["referral_id"]
    case = await send(nc, topology, "fukushi-sodan", "triage_referral",
                      {"command_id": cid(), "referral_id": first, "outcome": "complex"})
    assert case["ok"], case
    # Same person, written differently, by another agency.
    second = (await submit(nc, topology, "shakyo", personal={
        "kana": "ﾔﾏﾀﾞ ﾀﾛｳ", "phone": "０９０１２３４５６７８"}))["ids"]["referral_id"]
    other = (await submit(nc, topology, "shakyo", personal={
        "kana": "スズキ ハナコ", "birth_date": "1980-01-01", "phone": "026-111-2222"}))
    await synced(referral_rt, nc, topology)

    queue = (await ask(nc, topology, "fukushi-sodan", "triage_queue"))["result"]["waiting"]
    by_id = {r["referral_id"]: r for r in queue}
    [match] = by_id[second]["likely_matches"]
    assert match["matched_on"] == ["kana_birth", "phone"]
    assert match["open_cases"] == [case["ids"]["case_id"]]
    assert by_id[other["ids"]["referral_id"]]["likely_matches"] == []

    with referral_rt.engine.begin() as conn:
        stored = conn.execute(select(match_keys.c.key_hash)).scalars().all()
    assert stored and not any("1234" in h or "ヤマダ" in h for h in stored)

    await refused(nc, topology, "shakyo", "decide_person_match",
                  {"command_id": cid(), "referral_id": second,
                   "candidate_person_id": match["person_id"], "decision": "link"},
                  "forbidden", "may not triage")
    await refused(nc, topology, "fukushi-sodan", "decide_person_match",
                  {"command_id": cid(), "referral_id": second,
                   "candidate_person_id": "p-nobody", "decision": "link"},
                  "not_found", "no person p-nobody")
    linked = await send(nc, topology, "fukushi-sodan", "decide_person_match", {
        "command_id": cid(), "referral_id": second, "candidate_person_id": match["person_id"],
        "decision": "link"})
    assert linked["ok"], linked
    await refused(nc, topology, "fukushi-sodan", "decide_person_match",
                  {"command_id": cid(), "referral_id": second,
                   "candidate_person_id": match["person_id"], "decision": "separate"},
                  "invalid", "already the referral's person")
    await synced(referral_rt, nc, topology)
    queue = (await ask(nc, topology, "fukushi-sodan", "triage_queue"))["result"]["waiting"]
    row = next(r for r in queue if r["referral_id"] == second)
    assert row["person_id"] == match["person_id"] and row["likely_matches"] == []


async def test_keeping_people_separate_hides_the_match_and_changes_nothing_else(
    referral_rt, nc, topology
):
    await submit(nc, topology, "hokatsu-kita")
    second = (await submit(nc, topology, "shakyo"))["ids"]["referral_id"]
    await synced(referral_rt, nc, topology)
    queue = (await ask(nc, topology, "fukushi-sodan", "triage_queue"))["result"]["waiting"]
    row = next(r for r in queue if r["referral_id"] == second)
    [match] = row["likely_matches"]
    assert match["open_cases"] == []  # a match on an earlier referral, no case yet
    kept = await send(nc, topology, "fukushi-sodan", "decide_person_match", {
        "command_id": cid(), "referral_id": second, "candidate_person_id": match["person_id"],
        "decision": "separate"})
    assert kept["ok"], kept
    await refused(nc, topology, "fukushi-sodan", "decide_person_match",
                  {"command_id": cid(), "referral_id": second,
                   "candidate_person_id": match["person_id"], "decision": "link"},
                  "already_decided", "already recorded")
    await synced(referral_rt, nc, topology)
    queue = (await ask(nc, topology, "fukushi-sodan", "triage_queue"))["result"]["waiting"]
    row2 = next(r for r in queue if r["referral_id"] == second)
    assert row2["likely_matches"] == [] and row2["person_id"] == row["person_id"]
