"""Erasure reaches what a person's case left elsewhere: the material and minutes of their
agenda items, their attached documents in the object store and those documents' filenames.
Meeting-wide minutes, other people's items, shared objects, counts and histories stay."""

from __future__ import annotations

import json

import pytest
from nats.js.errors import ObjectNotFoundError
from sqlalchemy import MetaData, create_engine, select

from contracts.base import Actor, PersonalData, Sealed
from contracts.common import AttachmentRef, Concern
from contracts.meeting import MaterialPersonal, MaterialShared
from contracts.referral import ContactRoute, ReferralCorrected, ReferralPersonal
from eventstore import attachments
from eventstore.codec import new_envelope
from eventstore.crypto import KeyRing
from services.casefile import tables as casefile_tables
from services.meeting import projection as meeting_tables
from services.referral import projection as referral_tables
from tests.casefile.world import NAME, World, assessment_payload, raw_feed, settle
from tests.helpers import ask, eventually
from tests.meeting.support import Driver, soon, today_jst

OTHER = "佐藤次郎"  # the person who is not erased
SHEET = f"{NAME}_つなぐシート.pdf"
ASSESSMENT = f"{NAME}_アセスメント.pdf"
MATERIAL = f"{NAME}_資料.pdf"
ABOUT_P1 = "通院先は市民病院、借入は三社"  # material of p1's item
MINUTES_P1 = "本人は転居を希望している"  # minutes of p1's item
#: Nothing of these may be readable anywhere after p1 is erased.
GONE = (NAME, SHEET, ASSESSMENT, MATERIAL, ABOUT_P1, MINUTES_P1)


def pdf(text: str) -> bytes:
    return f"%PDF-1.7\n% {text}\n%%EOF\n".encode()


def all_rows(url: str, *metadatas: MetaData) -> str:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return json.dumps([[dict(r) for r in conn.execute(select(t)).mappings()]
                               for m in metadatas for t in m.sorted_tables],
                              ensure_ascii=False, default=str)
    finally:
        engine.dispose()


def shown(text: str) -> list[str]:
    return [s for s in GONE if s in text]


@pytest.fixture
async def platform(nc, store, topology, services, service_db):
    world = await World(nc, store, topology).setup(services)
    rt = await services("casefile")  # World started the referral and meeting services
    return world, Driver(nc, topology, store, rt["meeting"]), rt


async def upload(nc, topology, text: str, filename: str) -> AttachmentRef:
    return await attachments.upload(nc, topology, pdf(text), filename)


async def test_erasure_shreds_item_material_and_minutes_and_deletes_the_documents(
    platform, nc, store, topology, service_db
):
    world, drv, rt = platform
    sheet = await upload(nc, topology, "p1 sheet", SHEET)
    other_sheet = await upload(nc, topology, "p2 sheet", f"{OTHER}_シート.pdf")
    leaflet = await upload(nc, topology, "leaflet", "制度案内.pdf")  # given to both people
    await world.triaged_case(attachment=sheet)
    await world.triaged_case(case_id="c2", person_id="p2", name=OTHER, attachment=other_sheet)
    for case_id, person_id in ((world.id("c1"), world.id("p1")), (world.id("c2"), world.id("p2"))):
        await world.consent(case_id=case_id, person_id=person_id)
    assessment = await upload(nc, topology, "p1 assessment", ASSESSMENT)
    assessed = await world.send("shakyo", "record_intake_assessment", assessment_payload(
        "a1", attachment=assessment.model_dump(mode="json")))
    assert assessed["ok"], assessed
    material = await upload(nc, topology, "p1 material", MATERIAL)

    meeting_id = (await drv.ok("shakyo", "schedule_meeting", kind="support_plan",
                               scheduled_for=soon(), members=["hokatsu"]))["ids"]["meeting_id"]
    for item_id, case_id in (("item-1", world.id("c1")), ("item-2", world.id("c2"))):
        await drv.ok("shakyo", "table_case", meeting_id=meeting_id, case_id=case_id,
                     asks=["share_information"], item_id=item_id)
    await drv.ok("shakyo", "share_material", meeting_id=meeting_id, item_id="item-1",
                 title=f"{NAME}さんの状況", text=ABOUT_P1,
                 attachment=material.model_dump(mode="json"))
    await drv.ok("shakyo", "share_material", meeting_id=meeting_id, item_id="item-1",
                 title="制度案内", text="共通資料", attachment=leaflet.model_dump(mode="json"))
    await drv.ok("shakyo", "share_material", meeting_id=meeting_id, item_id="item-2",
                 title=f"{OTHER}さんの状況", text="就労の希望あり",
                 attachment=leaflet.model_dump(mode="json"))
    await drv.ok("shakyo", "share_material", meeting_id=meeting_id, title="地域の社会資源",
                 text="全体資料")
    await drv.ok("shakyo", "record_meeting_held", meeting_id=meeting_id,
                 held_on=today_jst().isoformat(), attendees=["shakyo", "hokatsu"])
    await drv.ok("shakyo", "record_minutes", meeting_id=meeting_id, text="全体の議事")
    await drv.ok("shakyo", "record_minutes", meeting_id=meeting_id, item_id="item-1",
                 text=MINUTES_P1)
    await drv.ok("shakyo", "record_minutes", meeting_id=meeting_id, item_id="item-2",
                 text="就労支援につなぐ")
    # The item's material and minutes are sealed with the case's key, not the meeting's.
    sealed = [e for e in await drv.events_of(meeting_id)
              if getattr(e, "item_id", None) == "item-1" and hasattr(e, "personal")]
    assert len(sealed) == 3
    assert {e.personal.key_id for e in sealed} == {world.id("c1")}
    await _caught_up(nc, topology, rt)
    stored = [e.model_dump(mode="json") for e in await drv.events_of(meeting_id)]
    assert not shown(json.dumps(stored, ensure_ascii=False))
    before = all_rows(service_db, *_metadatas())
    assert NAME in before and ABOUT_P1 in before and MINUTES_P1 in before  # views need them
    timeline_before = await _timeline(nc, topology, world.id("c1"))

    erase = await world.send("operator", "erase_person_data", {
        "command_id": "er1", "person_id": world.id("p1"), "reason": "本人の申出"})
    assert erase["ok"], erase
    ring = await KeyRing.open(nc, topology)

    async def keys_gone() -> bool:
        fresh = KeyRing(ring.kv)
        return await fresh.get(world.id("p1")) is None and await fresh.get(world.id("c1")) is None

    await eventually(keys_gone)
    await _caught_up(nc, topology, rt)

    # The documents are gone from the object store; the shared leaflet and p2's sheet stay.
    obs = await nc.jetstream().object_store(topology.attachment_bucket)
    for ref in (sheet, assessment, material):
        with pytest.raises(ObjectNotFoundError):
            await obs.get_info(ref.object_name)
    for ref in (other_sheet, leaflet):
        assert (await obs.get(ref.object_name)).data
    # Meeting views: p1's item shows as erased, the rest as before.
    materials = await drv.ask("hokatsu", "meeting_materials", meeting_id=meeting_id)
    assert [(m["item_id"], m["erased"]) for m in materials] == [
        ("item-1", True), ("item-1", True), ("item-2", False), (None, False)]
    assert all(m["title"] is m["text"] is m["attachment"] is None for m in materials[:2])
    assert materials[2]["attachment"]["filename"] == "制度案内.pdf"
    minutes = await drv.ask("hokatsu", "meeting_minutes", meeting_id=meeting_id)
    assert minutes["text"] == "全体の議事" and minutes["erased"] is False
    assert [(i["item_id"], i["text"], i["erased"]) for i in minutes["items"]] == [
        ("item-1", None, True), ("item-2", "就労支援につなぐ", False)]
    assert [c["held"] for c in await drv.ask("hokatsu", "meeting_counts")] == [1]
    # Case and referral views: no personal data, no filename; the history stays.
    view = (await ask(nc, topology, "hokatsu", "case_view", {"case_id": world.id("c1")}))["result"]
    assert view["erased"] is True and view["assessments"][0]["attachment"] is None
    assert await _timeline(nc, topology, world.id("c1")) == timeline_before
    referral = (await ask(nc, topology, "shakyo", "referral",
                          {"referral_id": world.id("r-c1")}))["result"]
    assert referral["sheet"]["personal"] is None and referral["sheet"]["attachment"] is None
    other = (await ask(nc, topology, "shakyo", "referral",
                       {"referral_id": world.id("r-c2")}))["result"]
    assert other["sheet"]["attachment"]["filename"] == f"{OTHER}_シート.pdf"
    # Nowhere: projection rows of every service, the feeds, the views.
    rows = all_rows(service_db, *_metadatas())
    assert not shown(rows) and OTHER in rows and "全体の議事" in rows
    feeds = b"\n".join(await raw_feed(nc, topology)).decode()
    assert not shown(feeds) and OTHER in feeds
    assert not shown(json.dumps([view, referral, materials, minutes], ensure_ascii=False))
    # A rebuild, and a replay of the stored events, read nothing of it either.
    await rt["meeting"].runners["meeting"].rebuild()
    await _caught_up(nc, topology, rt)
    assert await drv.ask("hokatsu", "meeting_materials", meeting_id=meeting_id) == materials
    assert await drv.ask("hokatsu", "meeting_minutes", meeting_id=meeting_id) == minutes
    assert not shown(all_rows(service_db, meeting_tables.metadata))
    fresh = KeyRing(ring.kv)
    for aggregate, aggregate_id in (("meeting", meeting_id), ("referral", world.id("r-c1")),
                                    ("case", world.id("c1"))):
        for env in (await store.load(aggregate, aggregate_id)).envelopes:
            await fresh.prefetch({v.key_id for v in env.event.__dict__.values()
                                  if isinstance(v, Sealed)})
            plain = fresh.unseal_event(env.event)
            assert not shown(plain.model_dump_json())
            if aggregate != "meeting" or getattr(env.event, "case_id", None) == world.id("c1"):
                assert not any(isinstance(v, PersonalData) for v in plain.__dict__.values())


async def test_nothing_personal_can_be_added_to_an_erased_persons_item_afterwards(
    platform, nc, topology
):
    world, drv, _ = platform
    await world.triaged_case()
    await world.consent()
    meeting_id = (await drv.ok("shakyo", "schedule_meeting", kind="support_plan",
                               scheduled_for=soon(), members=["hokatsu"]))["ids"]["meeting_id"]
    await drv.ok("shakyo", "table_case", meeting_id=meeting_id, case_id=world.id("c1"),
                 asks=["share_information"])
    await drv.ok("shakyo", "record_meeting_held", meeting_id=meeting_id,
                 held_on=today_jst().isoformat(), attendees=["shakyo", "hokatsu"])
    assert (await world.send("operator", "erase_person_data", {
        "command_id": "er1", "person_id": world.id("p1"), "reason": "本人の申出"}))["ok"]
    ring = await KeyRing.open(nc, topology)

    async def key_gone() -> bool:
        return await KeyRing(ring.kv).get(world.id("c1")) is None

    await eventually(key_gone)
    # A fresh key under the destroyed id would record new data about the erased person.
    error = await drv.refused("shakyo", "share_material", "person_erased",
                              meeting_id=meeting_id, item_id="item-1", title="追加", text="x")
    assert "erased" in error["message"]
    await drv.refused("shakyo", "record_minutes", "person_erased", meeting_id=meeting_id,
                      item_id="item-1", text="x")
    await drv.ok("shakyo", "record_minutes", meeting_id=meeting_id, text="全体の議事")
    assert await KeyRing(ring.kv).get(world.id("c1")) is None


async def test_older_events_with_plain_references_are_covered_too(
    platform, nc, store, topology, service_db
):
    """Before references were sealed, they were stored in plain, and an item's material
    was sealed with the meeting's key: the log keeps them, but erasure still deletes the
    documents and no view or row shows them."""
    world, drv, rt = platform
    sheet = await upload(nc, topology, "p1 sheet", SHEET)
    material = await upload(nc, topology, "p1 material", MATERIAL)
    await world.triaged_case()
    await world.consent()
    assert world.keyring is not None
    corrected = await world.keyring.seal_event(ReferralCorrected(
        referral_id=world.id("r-c1"), person_id=world.id("p1"), contact_route=ContactRoute.phone,
        concerns=(Concern.income,), personal=ReferralPersonal(name=NAME, summary="訂正")))
    meeting_id = (await drv.ok("shakyo", "schedule_meeting", kind="support_plan",
                               scheduled_for=soon(), members=["hokatsu"]))["ids"]["meeting_id"]
    await drv.ok("shakyo", "table_case", meeting_id=meeting_id, case_id=world.id("c1"),
                 asks=["share_information"])
    shared = await world.keyring.seal_event(MaterialShared(
        meeting_id=meeting_id, material_id="mat-old", item_id="item-1", shared_by="shakyo",
        personal=MaterialPersonal(title=f"{NAME}さんの状況", text=ABOUT_P1)))
    assert isinstance(shared.personal, Sealed) and shared.personal.key_id == meeting_id
    # Direct: today's deciders seal references and key materials by case; these are old shapes.
    await store.append([new_envelope(corrected.model_copy(update={"attachment": sheet}),
                                     Actor(agency_id="hokatsu"))])
    await store.append([new_envelope(shared.model_copy(update={"attachment": material}),
                                     Actor(agency_id="shakyo"))])
    await _caught_up(nc, topology, rt)
    assert MATERIAL in all_rows(service_db, meeting_tables.metadata)

    assert (await world.send("operator", "erase_person_data", {
        "command_id": "er1", "person_id": world.id("p1"), "reason": "本人の申出"}))["ok"]
    ring = await KeyRing.open(nc, topology)

    async def key_gone() -> bool:
        return await KeyRing(ring.kv).get(world.id("c1")) is None

    await eventually(key_gone)
    await _caught_up(nc, topology, rt)
    obs = await nc.jetstream().object_store(topology.attachment_bucket)
    for ref in (sheet, material):
        with pytest.raises(ObjectNotFoundError):
            await obs.get_info(ref.object_name)
    [old] = await drv.ask("hokatsu", "meeting_materials", meeting_id=meeting_id)
    assert old["erased"] is True and old["text"] is None and old["attachment"] is None
    referral = (await ask(nc, topology, "shakyo", "referral",
                          {"referral_id": world.id("r-c1")}))["result"]
    assert referral["sheet"]["attachment"] is None
    assert not shown(all_rows(service_db, *_metadatas()))
    assert not shown(json.dumps(referral, ensure_ascii=False))


def _metadatas() -> tuple[MetaData, ...]:
    return (casefile_tables.metadata, meeting_tables.metadata, referral_tables.metadata)


async def _caught_up(nc, topology, rt) -> None:
    """Every runner of the three services has applied all its events."""
    await settle(nc, topology, rt["casefile"])
    js = nc.jetstream()

    async def idle() -> bool:
        for name in ("meeting", "referral"):
            for runner in rt[name].runners.values():
                try:
                    info = await js.consumer_info(topology.events_stream, runner.durable)
                except Exception:
                    return False
                if info.num_pending or info.num_ack_pending:
                    return False
        return True

    await eventually(idle)


async def _timeline(nc, topology, case_id: str) -> list[str]:
    reply = await ask(nc, topology, "hokatsu", "case_timeline", {"case_id": case_id})
    assert reply["ok"], reply
    return [row["type"] for row in reply["result"]]
