"""Erasure by crypto-shredding: afterwards no projection, feed, rebuild or replay shows the
person's personal data, while the case history and the statistics' age bands stay."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import create_engine, select
from structlog.testing import capture_logs

from contracts.base import PersonalData, Sealed
from contracts.case import CaseOpened, EnrollmentStarted
from contracts.common import AgeBand, SubjectRef
from contracts.person import PersonDataErased
from eventstore.crypto import KeyRing
from services.casefile import tables
from services.casefile.erasure import age_bands
from tests.casefile.world import (
    NAME,
    World,
    assessment_payload,
    contains_secret,
    feed,
    plan_payload,
    raw_feed,
    settle,
)
from tests.helpers import ask, eventually


@pytest.fixture
async def casefile(service_db, services):
    return (await services("casefile"))["casefile"]


def all_rows(url: str) -> str:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return repr([[dict(r) for r in conn.execute(select(t)).mappings()]
                         for t in tables.metadata.sorted_tables])
    finally:
        engine.dispose()


async def test_erasure_leaves_no_personal_data_in_feeds_rows_rebuilds_or_replays(
    nc, store, topology, casefile, service_db, services
):
    world = await World(nc, store, topology).setup(services)
    await world.triaged_case()
    await world.consent()
    await world.triaged_case(case_id="c2", person_id="p2")  # someone else, untouched
    await world.consent(case_id="c2", person_id="p2")
    assert (await world.send("shakyo", "record_intake_assessment", assessment_payload("a")))["ok"]
    assert (await world.send("shakyo", "draft_plan", plan_payload("p")))["ok"]
    await settle(nc, topology, casefile)
    assert contains_secret(all_rows(service_db))  # before: the consented views need it
    assert any(contains_secret(m) for m in await raw_feed(nc, topology))
    history_before = [e.type for e in (await store.load("case", world.id("c1"))).envelopes]

    with capture_logs() as logs:
        reply = await world.send("operator", "erase_person_data", {
            "command_id": "er1", "person_id": world.id("p1"), "reason": "本人の申出",
            "staff": "運用担当"})
        assert reply["ok"], reply
        keyring = await KeyRing.open(nc, topology)

        async def keys_gone() -> bool:
            fresh = KeyRing(keyring.kv)
            return (await fresh.get(world.id("p1")) is None
                    and await fresh.get(world.id("c1")) is None)

        await eventually(keys_gone)
        await settle(nc, topology, casefile)

    erased = (await store.load("person", world.id("p1"))).envelopes[0].event
    assert isinstance(erased, PersonDataErased)
    assert erased.key_ids == (world.id("p1"), world.id("c1")) and erased.erased_by == "運用担当"
    # born 1984-05-06, enrolled 2026-05-01
    assert erased.age_bands == {world.id("c1-e1"): AgeBand.forties}
    # Feeds: nothing stored in the FEED stream shows p1's data; the agency is told.
    about_c1 = [m for m in map(json.loads, await raw_feed(nc, topology))
                if m.get("case_id", m.get("view", {}).get("case_id")) == world.id("c1")]
    assert about_c1 and not any(contains_secret(json.dumps(m, ensure_ascii=False))
                                for m in about_c1)
    hokatsu = await feed(nc, topology, "hokatsu")
    assert {m["case_id"]: m["erased"] for m in hokatsu if "erased" in m} == {world.id("c1"): True}
    assert not any(contains_secret(json.dumps(m, ensure_ascii=False)) for m in hokatsu
                   if m.get("view", {}).get("case_id") == world.id("c1"))
    # Views and rows.
    view = (await ask(nc, topology, "hokatsu", "case_view", {"case_id": world.id("c1")}))["result"]
    assert view["erased"] is True and view["subject"]["personal"] is None
    assert view["stage"] == "plan_drafted" and view["plans"][0]["personal"] is None
    other = (await ask(nc, topology, "hokatsu", "case_view", {"case_id": world.id("c2")}))["result"]
    assert other["subject"]["personal"]["name"] == NAME  # the other person is untouched
    rows_after = all_rows(service_db).replace(repr(other["subject"]["personal"]), "")
    assert world.id("p1") in rows_after and world.id("c1") in rows_after  # the case history stays
    # Rebuild from the first event: still nothing of p1.
    await casefile.runners["casefile"].rebuild()
    await settle(nc, topology, casefile)
    view = (await ask(nc, topology, "hokatsu", "case_view", {"case_id": world.id("c1")}))["result"]
    assert view["subject"]["personal"] is None and view["assessments"][0]["personal"] is None
    # Replay: every personal block of c1 and of p1's referral stays sealed for ever.
    fresh = KeyRing(keyring.kv)
    for agg, agg_id in (("case", world.id("c1")), ("referral", world.id("r-c1"))):
        history = await store.load(agg, agg_id)
        for env in history.envelopes:
            ids = {v.key_id for v in env.event.__dict__.values() if isinstance(v, Sealed)}
            await fresh.prefetch(ids)
            plain = fresh.unseal_event(env.event)
            assert not any(isinstance(v, PersonalData) for v in plain.__dict__.values())
    assert [e.type for e in (await store.load("case", world.id("c1"))).envelopes] == history_before
    assert not contains_secret(repr(logs))


async def test_erasing_twice_or_writing_personal_data_after_erasure_is_refused(
    nc, store, topology, casefile, services
):
    world = await World(nc, store, topology).setup(services)
    await world.triaged_case()
    assert (await world.send("operator", "erase_person_data", {
        "command_id": "er1", "person_id": world.id("p1"), "reason": "本人の申出"}))["ok"]
    await settle(nc, topology, casefile)
    js = nc.jetstream()
    before = (await js.stream_info(topology.events_stream)).state.last_seq
    again = await world.send("operator", "erase_person_data", {
        "command_id": "er2", "person_id": world.id("p1"), "reason": "again"})
    assert again["error"]["code"] == "already_erased"
    late = await world.send("shakyo", "record_intake_assessment", assessment_payload("a"))
    assert late["error"]["code"] == "person_erased" and "erased" in late["error"]["message"]
    assert (await js.stream_info(topology.events_stream)).state.last_seq == before
    retry = await world.send("operator", "erase_person_data", {
        "command_id": "er1", "person_id": world.id("p1"), "reason": "本人の申出"})
    assert retry["ok"] and retry["replayed"]


def test_age_bands_use_the_birth_date_else_the_recorded_band():
    subject = SubjectRef(person_id="p")
    opened = CaseOpened(case_id="c", subject=subject, origin="outreach",
                        opened_on=date(2026, 4, 1), coordinator="a", age_band=AgeBand.fifties)
    events = [opened,
              EnrollmentStarted(case_id="c", enrollment_id="e1", program="outreach",
                                subject=subject, started_on=date(2026, 4, 1)),
              EnrollmentStarted(case_id="c", enrollment_id="e2", program="participation",
                                subject=SubjectRef(person_id="someone-else"),
                                started_on=date(2026, 4, 1))]
    assert age_bands("p", [(opened, events)], {}) == {"e1": AgeBand.fifties}
    with_birth = opened.model_copy(update={"personal": opened.personal})
    from contracts.case import SubjectPersonal

    born = with_birth.model_copy(update={"personal": SubjectPersonal(birth_date=date(1961, 4, 2))})
    # 64 on the day before the 65th birthday … 60～64歳
    assert age_bands("p", [(born, [born, *events[1:]])], {}) == {"e1": AgeBand.sixty_to_64}
