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
from eventstore.errors import CommandIdReused
from eventstore.idempotency import canonical_body, fingerprint
from tests.kit.fakes import MemoryStore, agency_event, memory_keyring


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


@pytest.fixture
async def world() -> tuple[MemoryStore, Executor]:
    store = MemoryStore()
    await store.append([agency_event("hq")])
    return store, Executor(store, memory_keyring())  # type: ignore[arg-type]


async def test_a_resent_command_gets_the_original_reply_and_appends_nothing(world):
    store, executor = world
    cmd = Rename(command_id="c1", agency_id="hq", name="A")
    first = await executor.execute("police", cmd, rename)
    again = await executor.execute("police", Rename.model_validate_json(cmd.model_dump_json()),
                                   rename)
    assert not first["replayed"] and again["replayed"]
    assert again["events"] == first["events"]
    assert len(store.log) == 2


async def test_the_same_command_id_from_another_agency_is_its_own_command(world):
    store, executor = world
    a = await executor.execute("police", Rename(command_id="c1", agency_id="hq", name="A"),
                               rename)
    b = await executor.execute("school", Rename(command_id="c1", agency_id="hq", name="A"),
                               rename)
    assert not b["replayed"] and b["events"] != a["events"]
    assert [env.actor.agency_id for _, env in store.stored()[1:]] == ["police", "school"]
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
    assert fingerprint(spelled_out, None) == fingerprint(short, None)
    assert fingerprint(short, None) != fingerprint(short.model_copy(update={"name": "B"}), None)


async def test_events_stored_before_fingerprints_are_replayed_as_before(world):
    store, executor = world
    cmd = Rename(command_id="c1", agency_id="hq", name="A")
    await executor.execute("police", cmd, rename)
    # An event as stored by the previous version: no command_fingerprint.
    legacy = store.stored()[1][1].model_copy(update={"command_fingerprint": None})
    store.log[1] = legacy.model_dump_json().encode()
    again = await executor.execute("police", cmd.model_copy(update={"name": "B"}), rename)
    assert again["replayed"] and len(store.log) == 2


async def test_a_fingerprint_over_personal_data_is_keyed_by_the_persons_data_key(world):
    store, executor = world
    cmd = OpenForPerson(command_id="c2", case_id="case-1", name="山田 太郎")
    await executor.execute("hq", cmd, open_for_person)
    stored = store.stored()[-1][1].command_fingerprint or ""
    # Not a plain digest of the body: one could test guessed names against that forever.
    assert stored.startswith("hmac-sha256:") and stored != fingerprint(cmd, None)
    with pytest.raises(CommandIdReused):
        await executor.execute("hq", cmd.model_copy(update={"name": "山田 花子"}), open_for_person)
    await executor.keyring.destroy("case-1")  # the person is erased
    # The digest can no longer be compared: the original reply, nothing appended.
    again = await executor.execute("hq", cmd, open_for_person)
    assert again["replayed"] and len(store.log) == 2


async def test_two_agencies_events_never_share_a_message_id(world):
    store, executor = world
    for agency in ("police", "school"):
        await executor.execute(agency, Rename(command_id="c1", agency_id="hq", name="A"), rename)
    event_ids = [env.event_id for _, env in store.stored()]
    # The store sends each envelope's event_id as its Nats-Msg-Id (dedupe window key).
    assert len(set(event_ids)) == len(event_ids) == 3
