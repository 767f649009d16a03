"""A small projection for testing the kit: counts events per aggregate, can be told to fail."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, select

from contracts.base import Actor
from contracts.directory import AgencyRegistered, AgencyUpdated
from contracts.envelope import Envelope
from eventstore.codec import new_envelope
from eventstore.db import upsert
from eventstore.projection import ApplyContext


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
