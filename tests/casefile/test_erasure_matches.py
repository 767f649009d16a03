"""Erasing a person reaches the referrals a coordinator linked to them (PersonMatchDecided),
not only those submitted under their id: the rule, pure, then the
projection, then end to end over NATS through commands."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import create_engine, select

from contracts.base import Actor
from contracts.common import Concern
from contracts.person import PersonDataErased
from contracts.referral import (
    ContactRoute,
    PersonMatchDecided,
    ReferralPersonal,
    ReferralSubmitted,
)
from eventstore.codec import new_envelope
from eventstore.crypto import KeyRing
from eventstore.db import kit_metadata, make_engine
from eventstore.projection import ApplyContext
from eventstore.topology import Topology
from services.casefile import tables
from services.casefile.erasure import matched_referrals
from services.casefile.projection import CasefileProjection
from services.referral.projection import match_keys
from tests.casefile.world import World, settle
from tests.helpers import ask, eventually


def test_a_referral_linked_to_the_person_is_erased_with_them_and_its_submitter_key_too():
    referrals, keys = matched_referrals(
        "pP", submitted={"r1": "pR", "r2": "pP", "r3": "pX"},
        matches=[("r1", "pP")], case_persons=set())
    assert referrals == {"r1", "r2"}
    assert keys == {"pR"}  # pR was only ever r1's: the same human


def test_the_latest_match_of_a_referral_decides_whose_it_is():
    referrals, keys = matched_referrals(
        "pP", submitted={"r1": "pR", "r2": "pS"},
        matches=[("r1", "pP"), ("r2", "pP"), ("r2", "pQ")], case_persons=set())
    assert referrals == {"r1"}  # r2 was re-linked to pQ: it is pQ's now
    assert keys == {"pR"}


def test_a_submitter_key_sealing_someone_else_s_data_is_kept():
    # r3 was linked to pR later and stays pR's; a case names pS: their keys seal others' data.
    referrals, keys = matched_referrals(
        "pP", submitted={"r1": "pR", "r2": "pS", "r3": "pX"},
        matches=[("r3", "pR"), ("r1", "pP"), ("r2", "pP")], case_persons={"pS"})
    assert referrals == {"r1", "r2"}
    assert keys == set()


def test_the_erased_person_s_own_key_is_not_listed_twice():
    referrals, keys = matched_referrals(
        "pP", submitted={"r1": "pP"}, matches=[("r1", "pP")], case_persons={"pP"})
    assert (referrals, keys) == ({"r1"}, set())


def _sheet(referral_id: str, person_id: str) -> ReferralSubmitted:
    return ReferralSubmitted(
        referral_id=referral_id, person_id=person_id, referring_agency="hokatsu",
        contact_route=ContactRoute.phone, concerns=(Concern.income,),
        personal=ReferralPersonal(name="山田 太郎", address="北区1-2-3",
                                  birth_date=date(1980, 1, 2), summary="生活の相談"))


def _rows(engine) -> dict[str, object]:
    with engine.begin() as conn:
        return {r.referral_id: r.personal for r in conn.execute(select(tables.referrals))}


def test_the_casefile_clears_the_sheet_of_a_referral_matched_to_the_erased_person(db_url):
    engine = make_engine(db_url)
    kit_metadata.create_all(engine)
    tables.metadata.create_all(engine)
    projection = CasefileProjection(Topology("tx"))
    actor = Actor(agency_id="hokatsu")
    envs = [
        new_envelope(_sheet("r1", "pR"), actor),
        new_envelope(_sheet("r9", "pOther"), actor),
        new_envelope(PersonMatchDecided(referral_id="r1", candidate_person_id="pP",
                                        decision="link", person_id="pP"), actor),
        new_envelope(PersonDataErased(person_id="pP", reason="本人の求め", erased_by="operator",
                                      key_ids=("pP", "pR"), referral_ids=("r1",)), actor),
    ]
    for _ in range(2):  # live, then a rebuild from the same events
        ctx = ApplyContext(None)
        with engine.begin() as conn:
            for seq, env in enumerate(envs, start=1):
                ctx.seq = seq
                projection.apply(conn, env, ctx)
            ctx.finish(conn)
        rows = _rows(engine)
        assert rows["r1"] is None
        assert rows["r9"] is not None  # someone else's referral keeps its sheet
        tables.metadata.drop_all(engine)
        tables.metadata.create_all(engine)
    engine.dispose()


OTHER_NAME, OTHER_ADDRESS = "佐藤一郎", "茨木市別院町九番"


def _casefile_rows(url: str) -> str:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return repr([[dict(r) for r in conn.execute(select(t)).mappings()]
                         for t in tables.metadata.sorted_tables])
    finally:
        engine.dispose()


@pytest.fixture
async def casefile(service_db, services):
    return (await services("casefile"))["casefile"]


async def test_erasing_a_person_shreds_a_referral_submitted_under_another_id_and_linked(
    nc, store, topology, casefile, service_db, services
):
    world = await World(nc, store, topology).setup(services)
    await world.triaged_case()  # p1's case c1, from referral r-c1
    referral_rt = (await services())["referral"]
    sheet = {"contact_route": "phone", "concerns": ["income"], "personal": {
        "name": OTHER_NAME, "address": OTHER_ADDRESS, "birth_date": "1984-05-06",
        "phone": "072-999-0000",
        "summary": "同じ方と思われる"}}
    r2 = (await world.send("hokatsu", "submit_referral", {"command_id": "r2", **sheet}))
    assert r2["ok"], r2
    r2_id = r2["ids"]["referral_id"]
    p_r = (await store.load("referral", r2_id)).envelopes[0].event.person_id

    async def linked() -> bool:  # the candidate must be known to the referral service first
        reply = await world.send("shakyo", "decide_person_match", {
            "command_id": "m1", "referral_id": r2_id, "candidate_person_id": world.id("p1"),
            "decision": "link"})
        return bool(reply["ok"])

    await eventually(linked)
    await settle(nc, topology, casefile)
    assert OTHER_NAME in _casefile_rows(service_db)

    reply = await world.send("operator", "erase_person_data", {
        "command_id": "er1", "person_id": world.id("p1"), "reason": "本人の申出"})
    assert reply["ok"], reply
    erased = (await store.load("person", world.id("p1"))).envelopes[0].event
    assert isinstance(erased, PersonDataErased)
    assert r2_id in erased.referral_ids and p_r in erased.key_ids
    keyring = await KeyRing.open(nc, topology)

    async def key_gone() -> bool:
        return await KeyRing(keyring.kv).get(p_r) is None

    await eventually(key_gone)
    await settle(nc, topology, casefile)
    rows = _casefile_rows(service_db)
    assert OTHER_NAME not in rows and OTHER_ADDRESS not in rows
    await casefile.runners["casefile"].rebuild()
    await settle(nc, topology, casefile)
    rows = _casefile_rows(service_db)
    assert OTHER_NAME not in rows and OTHER_ADDRESS not in rows
    # The referral service: the sheet reads as erased, and nothing links to the person.
    answer = await ask(nc, topology, "shakyo", "referral", {"referral_id": r2_id})
    assert answer["result"]["sheet"]["personal"] is None
    assert OTHER_NAME not in json.dumps(answer, ensure_ascii=False)
    with referral_rt.engine.begin() as conn:
        assert not conn.execute(select(match_keys).where(
            match_keys.c.source_id == r2_id)).first()


async def test_a_linked_referral_whose_key_seals_another_referral_reads_as_erased(
    nc, store, topology, casefile, service_db, services
):
    world = await World(nc, store, topology).setup(services)
    await world.triaged_case()
    sheet = {"contact_route": "phone", "concerns": ["income"], "personal": {
        "name": OTHER_NAME, "address": OTHER_ADDRESS, "phone": "072-999-0000",
        "summary": "同じ方と思われる"}}
    r2 = (await world.send("hokatsu", "submit_referral", {"command_id": "r2", **sheet}))
    r3 = (await world.send("hokatsu", "submit_referral", {
        "command_id": "r3", **sheet, "personal": {**sheet["personal"], "name": "別人"}}))
    r2_id, r3_id = r2["ids"]["referral_id"], r3["ids"]["referral_id"]
    p_r = (await store.load("referral", r2_id)).envelopes[0].event.person_id

    def linker(command_id: str, referral_id: str, person_id: str):
        async def linked() -> bool:
            return bool((await world.send("shakyo", "decide_person_match", {
                "command_id": command_id, "referral_id": referral_id,
                "candidate_person_id": person_id, "decision": "link"}))["ok"])
        return linked

    await eventually(linker("m3", r3_id, p_r))  # r3 is pR's now: pR's key seals its future
    await eventually(linker("m2", r2_id, world.id("p1")))
    assert (await world.send("operator", "erase_person_data", {
        "command_id": "er1", "person_id": world.id("p1"), "reason": "本人の申出"}))["ok"]
    erased = (await store.load("person", world.id("p1"))).envelopes[0].event
    assert r2_id in erased.referral_ids and p_r not in erased.key_ids
    await settle(nc, topology, casefile)
    rows = _casefile_rows(service_db)
    assert OTHER_NAME not in rows and "別人" in rows
    answer = await ask(nc, topology, "shakyo", "referral", {"referral_id": r2_id})
    assert answer["result"]["sheet"]["personal"] is None, answer
    kept = await ask(nc, topology, "shakyo", "referral", {"referral_id": r3_id})
    assert kept["result"]["sheet"]["personal"]["name"] == "別人"
