"""World time in the executor: the backdating policy per role, with a fake store (no server),
then once over NATS on the agencies' and the migration subjects."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts.base import Actor, DomainEvent
from contracts.envelope import Envelope
from contracts.worldtime import DatingPolicy
from eventstore.commands import Executor, Session, request_patiently
from eventstore.errors import InvalidInput
from eventstore.service import ServiceSpec, build_app
from eventstore.store import History, Stored
from tests.kit.fakes import agency_event
from tests.kit.test_commands import RenameAgency, rename


class FakeStore:
    """Histories in memory; ``append`` checks the expected sequences like the real one."""

    def __init__(self, *envelopes: Envelope) -> None:
        self.log: list[Envelope] = list(envelopes)

    async def load(self, aggregate: str, aggregate_id: str) -> History:
        events = [Stored(i + 1, e) for i, e in enumerate(self.log)
                  if (e.aggregate, e.aggregate_id) == (aggregate, aggregate_id)]
        return History(events, events[-1].seq if events else 0)

    async def append(self, envelopes: list[Envelope], expected: dict[Any, int]) -> list[int]:
        self.log.extend(envelopes)
        return list(range(len(self.log) - len(envelopes) + 1, len(self.log) + 1))


class PlainKeyRing:
    async def seal_event(self, event: DomainEvent) -> DomainEvent:
        return event  # the toy events carry no personal data

    async def seal_staff(self, key_id: str, staff: str | None) -> None:
        return None  # nor a staff name


def executor(store: FakeStore, days: int = 90) -> Executor:
    return Executor(store, PlainKeyRing(), policy=DatingPolicy(agency_days=days))  # type: ignore[arg-type]


def renamed(name: str, occurred_at: datetime | None) -> RenameAgency:
    return RenameAgency(command_id=uuid.uuid4().hex, agency_id="hq", name=name,
                        occurred_at=occurred_at)


def old(days: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


async def test_an_agency_cannot_date_a_record_beyond_the_limit_and_nothing_is_appended():
    store = FakeStore(agency_event("hq", "HQ"))
    with pytest.raises(InvalidInput) as err:
        await executor(store).execute("hq", renamed("Old", old(100)), rename)
    assert err.value.code == "too_far_back" and "occurred_at" in err.value.message
    assert len(store.log) == 1
    await executor(store, days=120).execute("hq", renamed("Old", old(100)), rename)
    assert len(store.log) == 2


async def test_the_migration_role_dates_a_record_in_the_past_and_recorded_at_stays_real():
    store = FakeStore(agency_event("hq", "HQ"))
    before = datetime.now(UTC)
    when = datetime(2025, 4, 10, 1, 0, tzinfo=UTC)
    await executor(store).execute("hq", renamed("Old", when), rename, role="migration")
    stored = store.log[-1]
    assert stored.occurred_at == when and stored.recorded_at >= before


async def test_a_command_dated_in_the_future_is_refused_even_for_migration():
    store = FakeStore(agency_event("hq", "HQ"))
    with pytest.raises(InvalidInput) as err:
        await executor(store).execute("hq", renamed("Soon", old(-1)), rename, role="migration")
    assert err.value.code == "in_future" and len(store.log) == 1


async def test_a_command_without_a_world_time_happens_now():
    store = FakeStore(agency_event("hq", "HQ"))
    seen: list[datetime] = []

    async def spy(session: Session, cmd: RenameAgency) -> list[DomainEvent]:
        seen.append(session.world)
        return await rename(session, cmd)

    await executor(store).execute("hq", renamed("Now", None), spy)
    assert seen[0] == store.log[-1].occurred_at
    assert abs(store.log[-1].occurred_at - store.log[-1].recorded_at) < timedelta(seconds=5)


# ---- over NATS ---------------------------------------------------------------------------

@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"backdate_days": 90})  # the default, not the tests'


@pytest.fixture
async def service(settings, store):
    await store.append([agency_event("hq", "HQ")])
    spec = ServiceSpec(name="kittest", commands={"kit_test_rename": (RenameAgency, rename)})
    app, runtime = build_app(spec, settings)
    async with app:
        yield runtime


async def _send(nc, subject: str, cmd: RenameAgency) -> dict:
    msg = await request_patiently(nc, subject, cmd.model_dump_json().encode())
    return json.loads(msg.data)


async def test_an_old_date_is_refused_on_the_command_subject_and_accepted_on_migrate(
    service, nc, topology, store
):
    cmd = renamed("Old", old(200))
    refused = await _send(nc, topology.command_subject("hq", "kit_test_rename"), cmd)
    assert refused["error"]["code"] == "too_far_back", refused
    assert len((await store.load("agency", "hq")).events) == 1
    accepted = await _send(nc, topology.migrate_subject("hq", "kit_test_rename"), cmd)
    assert accepted["ok"] and not accepted["replayed"], accepted
    again = await _send(nc, topology.migrate_subject("hq", "kit_test_rename"), cmd)
    assert again["ok"] and again["replayed"]
    history = await store.load("agency", "hq")
    assert len(history.events) == 2
    stored = history.envelopes[-1]
    assert stored.occurred_at == cmd.occurred_at
    assert stored.actor == Actor(agency_id="hq")
    assert stored.recorded_at > datetime.now(UTC) - timedelta(minutes=1)
