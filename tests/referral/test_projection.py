"""The referral projection on SQLite and PostgreSQL: inbox rows, rebuild, erasure."""

from __future__ import annotations

from sqlalchemy import select

from services.referral.projection import agencies, match_keys, referrals
from tests.helpers import register_agency
from tests.referral.conftest import AGENCIES
from tests.referral.support import ask, cid, send, submit, synced


def _rows(engine) -> dict:
    with engine.begin() as conn:
        return {t.name: sorted(tuple(r) for r in conn.execute(select(t)))
                for t in (agencies, referrals, match_keys)}


async def test_the_projection_is_the_same_after_a_rebuild_and_forgets_erased_people(
    service_db, services, store, nc, topology
):
    for agency_id, (name, category, can_triage) in AGENCIES.items():
        await register_agency(store, agency_id, name=name, category=category,
                              can_triage=can_triage)
    rt = (await services("referral", "casefile"))["referral"]
    a = (await submit(nc, topology))["ids"]["referral_id"]
    b = (await submit(nc, topology, "shakyo"))["ids"]["referral_id"]
    await send(nc, topology, "fukushi-sodan", "triage_referral",
               {"command_id": cid(), "referral_id": a, "outcome": "complex"})
    await send(nc, topology, "shakyo", "withdraw_referral",
               {"command_id": cid(), "referral_id": b, "reason": "重複送付"})
    await synced(rt, nc, topology)
    live = _rows(rt.engine)
    statuses = {row[0]: row[3] for row in live["referral_referrals"]}
    assert statuses == {a: "triaged", b: "withdrawn"}
    # kana+birth date and phone, for each referral and for the case opened from one.
    assert len(live["referral_match_keys"]) == 6

    await rt.runners["referral"].rebuild()
    await synced(rt, nc, topology)
    assert _rows(rt.engine) == live

    person = next(row[2] for row in live["referral_referrals"] if row[0] == a)
    erased = await send(nc, topology, "operator", "erase_person_data",
                        {"command_id": cid(), "person_id": person, "reason": "本人の求め"})
    assert erased["ok"], erased
    await synced(rt, nc, topology)
    left = {row[3] for row in _rows(rt.engine)["referral_match_keys"]}
    assert person not in left and left
    inbox = (await ask(nc, topology, "hokatsu-kita", "inbox"))["result"]
    assert {r["referral_id"] for r in inbox["sent"]} == {a}
