"""Exact idempotency, proven on the executor with an in-memory store (no server): the key
is (sender agency, command_id), the body is compared by its fingerprint."""

from __future__ import annotations

from datetime import date
from typing import Literal

import pytest

from contracts.base import Command, DomainEvent, Id, ShortText
from contracts.case import CaseOpened, CaseOrigin, SubjectPersonal
from contracts.common import SubjectRef
from contracts.directory import AgencyUpdated
from eventstore.commands import Executor, Session
from eventstore.errors import CommandIdReused, DomainError
from eventstore.idempotency import Receipts, canonical_body, fingerprint
from tests.kit.fakes import MemoryKV, MemoryStore, agency_event, memory_keyring


class Rename(Command):
    type: Literal["kit_test_rename"] = "kit_test_rename"
    agency_id: Id
    name: ShortText
    note: ShortText | None = None


class Retire(Command):
    type: Literal["kit_test_other"] = "kit_test_other"
    agency_id: Id
    name: ShortText


class OpenForPerson(Command):
    type: Literal["kit_test_open"] = "kit_test_open"
    case_id: Id
    name: ShortText


async def rename(session: Session, cmd: Rename | Retire) -> list[DomainEvent]:
    await session.load("agency", cmd.agency_id)
    return [AgencyUpdated(agency_id=cmd.agency_id, name=cmd.name, category="警察",
                          verified_at=date(2025, 4, 1))]


async def open_for_person(session: Session, cmd: OpenForPerson) -> list[DomainEvent]:
    await session.load("case", cmd.case_id)
    return [CaseOpened(
        case_id=cmd.case_id, subject=SubjectRef(person_id="p-1"), origin=CaseOrigin.triage,
        opened_on=date(2025, 4, 1), coordinator="hq", personal=SubjectPersonal(name=cmd.name))]


async def open_then_rename(session: Session, cmd: OpenForPerson) -> list[DomainEvent]:
    """Renames hq and opens a case; a retry is refused by hq's history before the case is
    loaded, so the retry finds only the event without personal data."""
    hq = await session.load("agency", "hq")
    if hq.envelopes[-1].causation_id == cmd.command_id:
        raise DomainError("hq was already renamed", code="unchanged")
    return [AgencyUpdated(agency_id="hq", name="B", category="警察",
                          verified_at=date(2025, 4, 1)),
            *await open_for_person(session, cmd)]


@pytest.fixture(params=["with receipts", "histories only"])
async def world(request) -> tuple[MemoryStore, Executor]:
    """Both ways of recognising a key must hold each rule on their own: the receipt, and
    the histories (all a retry has when the receipt was lost in a crash)."""
    store = MemoryStore()
    await store.append([agency_event("hq"), agency_event("hq2")])
    receipts = Receipts(MemoryKV()) if request.param == "with receipts" else None  # type: ignore[arg-type]
    return store, Executor(store, memory_keyring(), receipts)  # type: ignore[arg-type]


@pytest.fixture
async def with_receipts() -> tuple[MemoryStore, Executor]:
    store = MemoryStore()
    await store.append([agency_event("hq"), agency_event("hq2")])
    receipts = Receipts(MemoryKV())  # type: ignore[arg-type]
    return store, Executor(store, memory_keyring(), receipts)  # type: ignore[arg-type]


async def test_a_resent_command_gets_the_original_reply_and_appends_nothing(world):
    store, executor = world
    cmd = Rename(command_id="c1", agency_id="hq", name="A")
    first = await executor.execute("police", cmd, rename)
    again = await executor.execute("police", Rename.model_validate_json(cmd.model_dump_json()),
                                   rename)
    assert not first["replayed"] and again["replayed"]
    assert again["events"] == first["events"]
    assert len(store.log) == 3


async def test_the_same_command_id_from_another_agency_is_its_own_command(world):
    store, executor = world
    a = await executor.execute("police", Rename(command_id="c1", agency_id="hq", name="A"),
                               rename)
    b = await executor.execute("school", Rename(command_id="c1", agency_id="hq", name="A"),
                               rename)
    assert not b["replayed"] and b["events"] != a["events"]
    assert [env.actor.agency_id for _, env in store.stored()[2:]] == ["police", "school"]
    again = await executor.execute("school", Rename(command_id="c1", agency_id="hq", name="A"),
                                   rename)
    assert again["replayed"] and again["events"] == b["events"]


@pytest.mark.parametrize(
    "changed",
    [
        Rename(command_id="c1", agency_id="hq", name="B"),
        Rename(command_id="c1", agency_id="hq", name="A", note="more"),
        Rename(command_id="c1", agency_id="hq", name="A", staff="someone else"),
        Retire(command_id="c1", agency_id="hq", name="A"),
    ],
    ids=["other field value", "field added", "other staff", "other type"],
)
async def test_a_command_id_resent_with_another_body_or_type_is_refused_and_appends_nothing(
    world, changed
):
    store, executor = world
    await executor.execute("police", Rename(command_id="c1", agency_id="hq", name="A"), rename)
    before = list(store.log)
    with pytest.raises(CommandIdReused) as refused:
        await executor.execute("police", changed, rename)
    assert refused.value.to_reply()["error"]["code"] == "command_id_reused"
    assert refused.value.details["command_id"] == "c1"
    assert store.log == before


def test_key_order_and_omitted_defaults_do_not_change_the_fingerprint():
    spelled_out = Rename.model_validate_json(
        '{"note": null, "name": "A", "agency_id": "hq", "command_id": "c1", "staff": null}')
    short = Rename.model_validate_json('{"command_id": "c1", "agency_id": "hq", "name": "A"}')
    assert canonical_body(spelled_out) == canonical_body(short)
    assert fingerprint(spelled_out) == fingerprint(short)
    assert fingerprint(short) != fingerprint(short.model_copy(update={"name": "B"}))


async def test_events_stored_before_fingerprints_are_replayed_as_before(world):
    store, executor = world
    cmd = Rename(command_id="c1", agency_id="hq", name="A")
    await executor.execute("police", cmd, rename)
    # An event as stored by the previous version: no command_fingerprint.
    legacy = store.stored()[2][1].model_copy(update={"command_fingerprint": None})
    store.log[2] = legacy.model_dump_json().encode()
    if executor.receipts is not None:
        executor.receipts.kv.data.clear()  # and no receipt: stored by the previous version
    again = await executor.execute("police", cmd.model_copy(update={"name": "B"}), rename)
    assert again["replayed"] and len(store.log) == 3


async def test_a_fingerprint_over_personal_data_is_keyed_by_the_persons_data_key(world):
    store, executor = world
    cmd = OpenForPerson(command_id="c2", case_id="case-1", name="山田 太郎")
    await executor.execute("hq", cmd, open_for_person)
    stored = store.stored()[-1][1].command_fingerprint or ""
    # Not a plain digest of the body: one could test guessed names against that forever.
    assert stored.startswith("hmac-sha256:case-1:") and stored != fingerprint(cmd)
    with pytest.raises(CommandIdReused):
        await executor.execute("hq", cmd.model_copy(update={"name": "山田 花子"}), open_for_person)
    await executor.keyring.destroy("case-1")  # the person is erased
    # The digest can no longer be compared: the original reply, nothing appended.
    again = await executor.execute("hq", cmd, open_for_person)
    assert again["replayed"] and len(store.log) == 3


async def test_two_agencies_events_never_share_a_message_id(world):
    store, executor = world
    for agency in ("police", "school"):
        await executor.execute(agency, Rename(command_id="c1", agency_id="hq", name="A"), rename)
    event_ids = [env.event_id for _, env in store.stored()]
    # The store sends each envelope's event_id as its Nats-Msg-Id (dedupe window key).
    assert len(set(event_ids)) == len(event_ids) == 4


@pytest.mark.parametrize(
    "other",
    [Rename(command_id="c1", agency_id="hq2", name="A"),
     OpenForPerson(command_id="c1", case_id="case-9", name="山田 太郎")],
    ids=["same type, other record", "other type, other record"],
)
async def test_a_command_id_reused_on_other_records_is_refused_by_its_receipt(
    with_receipts, other
):
    store, executor = with_receipts
    first = await executor.execute("police", Rename(command_id="c1", agency_id="hq", name="A"),
                                   rename)
    before = list(store.log)
    handler = rename if isinstance(other, Rename) else open_for_person
    with pytest.raises(CommandIdReused) as refused:
        await executor.execute("police", other, handler)
    assert refused.value.details["first_type"] == "kit_test_rename"
    assert refused.value.details["first_events"] == first["events"]
    assert store.log == before


async def test_a_receipt_lost_in_a_crash_is_written_again_by_the_retry(with_receipts):
    store, executor = with_receipts
    cmd = Rename(command_id="c1", agency_id="hq", name="A")
    first = await executor.execute("police", cmd, rename)
    executor.receipts.kv.data.clear()  # type: ignore[union-attr]  # crashed before the put
    again = await executor.execute("police", cmd, rename)  # found in the agency's history
    assert again["replayed"] and again["events"] == first["events"]
    with pytest.raises(CommandIdReused):
        await executor.execute("police", Rename(command_id="c1", agency_id="hq2", name="A"),
                               rename)
    assert len(store.log) == 3


async def test_a_retry_that_finds_only_part_of_its_events_is_still_the_same_command(world):
    store, executor = world
    cmd = OpenForPerson(command_id="c3", case_id="case-2", name="山田 太郎")
    first = await executor.execute("hq", cmd, open_then_rename)
    again = await executor.execute("hq", cmd, open_then_rename)
    assert again["replayed"] and len(store.log) == 4
    if executor.receipts is None:  # found in hq's history alone: the rename, not the case
        assert [e["type"] for e in again["events"]] == ["AgencyUpdated"]
    else:
        assert again["events"] == first["events"]
    with pytest.raises(CommandIdReused):
        await executor.execute("hq", cmd.model_copy(update={"name": "別人"}), open_then_rename)
