"""Fakes for testing the kit: a projection that counts events per aggregate and can be told
to fail; an in-memory event store and key bucket for pure tests of the executor."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, select

from contracts.base import Actor
from contracts.directory import AgencyRegistered, AgencyUpdated
from contracts.envelope import Envelope
from eventstore.codec import decode, encode, new_envelope
from eventstore.crypto import KeyRing
from eventstore.db import upsert
from eventstore.errors import ConcurrencyConflict
from eventstore.projection import ApplyContext
from eventstore.store import History, Stored


@dataclass
class CountingProjection:
    name: str = "counting"
    aggregates: tuple[str, ...] | None = ("agency",)
    needs_personal: bool = False
    fail_on_names: set[str] = field(default_factory=set)
    calls: int = 0

    def __post_init__(self) -> None:
        self.metadata = MetaData()
        self.table = Table(
            "counts",
            self.metadata,
            Column("agency_id", String(64), primary_key=True),
            Column("events", Integer, nullable=False),
            Column("name", String(200)),
        )

    def apply(self, conn: Connection, env: Envelope, ctx: ApplyContext) -> None:
        self.calls += 1
        event = env.event
        name = getattr(event, "name", None)
        if name in self.fail_on_names:
            raise RuntimeError(f"cannot apply {name}")
        current = conn.execute(
            select(self.table.c.events).where(self.table.c.agency_id == env.aggregate_id)
        ).scalar()
        upsert(
            conn,
            self.table,
            {"agency_id": env.aggregate_id, "events": (current or 0) + 1, "name": name},
            ["agency_id"],
        )

    def rows(self, conn: Connection) -> list[tuple]:
        return [tuple(r) for r in conn.execute(select(self.table).order_by("agency_id"))]


def agency_event(agency_id: str, name: str = "Agency", updated: bool = False) -> Envelope:
    cls = AgencyUpdated if updated else AgencyRegistered
    event = cls(agency_id=agency_id, name=name, category="警察", verified_at=date(2025, 4, 1))
    return new_envelope(event, Actor(agency_id="ops"))


class MemoryStore:
    """The EventStore's load/append contract in memory, for pure tests of the executor:
    events go through encode/decode as on the stream, and an append whose expected last
    sequence of an aggregate it writes to is stale raises ConcurrencyConflict.

    Example::

        store = MemoryStore()
        executor = Executor(store, memory_keyring())  # type: ignore[arg-type]
    """

    def __init__(self) -> None:
        self.log: list[bytes] = []

    async def load(self, aggregate: str, aggregate_id: str) -> History:
        events = [Stored(seq, env) for seq, env in self.stored()
                  if (env.aggregate, env.aggregate_id) == (aggregate, aggregate_id)]
        return History(events, events[-1].seq if events else 0)

    def stored(self) -> list[tuple[int, Envelope]]:
        return [(i, decode(raw)) for i, raw in enumerate(self.log, start=1)]

    async def append(
        self, envelopes: Sequence[Envelope], expected: dict[tuple[str, str], int] | None = None
    ) -> list[int]:
        expected = expected or {}
        for key in {(e.aggregate, e.aggregate_id) for e in envelopes}:
            if key in expected and (await self.load(*key)).last_seq != expected[key]:
                raise ConcurrencyConflict(f"{key} changed")
        self.log.extend(encode(env) for env in envelopes)
        return list(range(len(self.log) - len(envelopes) + 1, len(self.log) + 1))


@dataclass
class _Entry:
    value: bytes
    revision: int = 0  # nothing on disk to erase in memory: KeyRing.destroy only purges


@dataclass
class MemoryKV:
    """The calls KeyRing and Receipts make on their JetStream KV buckets."""

    data: dict[str, bytes] = field(default_factory=dict)

    async def get(self, key: str) -> _Entry:
        if key not in self.data:
            raise KeyNotFoundError
        return _Entry(self.data[key])

    async def put(self, key: str, value: bytes) -> None:
        self.data[key] = value

    async def update(self, key: str, value: bytes, last: int) -> None:
        if key in self.data:
            raise KeyWrongLastSequenceError
        self.data[key] = value

    async def purge(self, key: str) -> None:
        self.data[key] = b""


def memory_keyring() -> KeyRing:
    return KeyRing(MemoryKV())  # type: ignore[arg-type]
