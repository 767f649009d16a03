"""A realistic event mix and a realistic projection, shared by the benchmarks and fault tests.

The mix follows a case's life: opened, agencies join, a lead is named, monitoring notes,
closure. ``CaseBoard`` is shaped like the services' own projections: an UPSERT per event,
plus read-modify-write counters that would show any double application.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from sqlalchemy import (
    Column,
    Connection,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    select,
    update,
)

from contracts.base import Actor, DomainEvent
from contracts.case import (
    CaseClosed,
    CaseOpened,
    CaseOrigin,
    CaseSuspended,
    LeadAgencyAssigned,
    MemberJoined,
    MembershipReason,
)
from contracts.common import SubjectRef
from contracts.envelope import Envelope
from eventstore.codec import encode, new_envelope
from eventstore.db import upsert
from eventstore.projection import ApplyContext
from eventstore.topology import Topology

DAY = date(2025, 6, 1)
ACTOR = Actor(agency_id="bench-hq", staff="bench")
_PLACEHOLDER_CASE = "CASEPLACEHOLDER0"
_PLACEHOLDER_UUID = "01234567-89ab-7cde-8f01-23456789abcd"

#: Events per case in the standard life, in order.
LIFE = ("CaseOpened", "MemberJoined", "MemberJoined", "LeadAgencyAssigned", "CaseClosed")


def case_event(kind: str, case_id: str, n: int = 0) -> DomainEvent:
    if kind == "CaseOpened":
        return CaseOpened(
            case_id=case_id, subject=SubjectRef(person_id=f"p-{case_id}"),
            origin=CaseOrigin.triage, opened_on=DAY, coordinator="bench-hq",
        )
    if kind == "MemberJoined":
        return MemberJoined(
            case_id=case_id, agency_id=f"agency-{n % 40}", joined_on=DAY,
            how=MembershipReason.meeting,
        )
    if kind == "LeadAgencyAssigned":
        return LeadAgencyAssigned(
            case_id=case_id, agency_id="agency-1", meeting_id="m-1", decision_id=f"d-{case_id}",
            assigned_on=DAY,
        )
    if kind == "CaseSuspended":
        return CaseSuspended(
            case_id=case_id, suspended_on=DAY, meeting_id="m-1", decision_id=f"s-{case_id}",
            reason="本人の希望により中断",
        )
    return CaseClosed(
        case_id=case_id, closed_on=DAY, meeting_id="m-1", decision_id=f"c-{case_id}",
        reason="課題が整理され支援の見通しがついたため終結",
    )


def envelope(kind: str, case_id: str, n: int = 0) -> Envelope:
    return new_envelope(case_event(kind, case_id, n), ACTOR)


@dataclass(frozen=True)
class Template:
    kind: str
    body: bytes


def templates() -> dict[tuple[str, int], Template]:
    """Encoded envelopes with placeholders, so a million events cost string replaces,
    not a million pydantic models (the data is the same as the real encoder's)."""
    out: dict[tuple[str, int], Template] = {}
    for i, kind in enumerate(LIFE):
        env = envelope(kind, _PLACEHOLDER_CASE, i)
        raw = encode(env).decode().replace(str(env.event_id), _PLACEHOLDER_UUID)
        raw = raw.replace(str(env.correlation_id), _PLACEHOLDER_UUID)
        out[(kind, i)] = Template(kind, raw.encode())
    return out


def _uuid(n: int, tag: str = "") -> str:
    # Distinct per tag, so two loads never collide in the server's Msg-Id window.
    salt = int.from_bytes(tag.encode()[:4].ljust(4, b"\0"), "big") << 24
    h = f"{0x0190_0000_0000_7000_8000_0000_0000_0000 + salt + n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def stream_of(topology: Topology, count: int, cases: int | None = None,
              tag: str = "c") -> Iterator[tuple[str, bytes, str]]:
    """(subject, payload, msg_id) for ``count`` events; cases interleaved round-robin in
    groups so that each case's events stay in life order."""
    tpl = templates()
    per_case = len(LIFE)
    cases = cases or max(1, count // per_case)
    counter = itertools.count()
    emitted = 0
    for step, kind in enumerate(LIFE):
        for c in range(cases):
            if emitted >= count:
                return
            case_id = f"{tag}{c:07d}"
            n = next(counter)
            body = tpl[(kind, step)].body
            body = body.replace(_PLACEHOLDER_CASE.encode(), case_id.encode())
            uid = _uuid(n, tag)
            body = body.replace(_PLACEHOLDER_UUID.encode(), uid.encode())
            yield topology.event_subject("case", case_id, kind), body, uid
            emitted += 1
    # More events than a life per case: keep adding members.
    while emitted < count:
        c = emitted % cases
        case_id = f"{tag}{c:07d}"
        n = next(counter)
        body = tpl[("MemberJoined", 1)].body.replace(_PLACEHOLDER_CASE.encode(), case_id.encode())
        uid = _uuid(n, tag)
        yield (topology.event_subject("case", case_id, "MemberJoined"),
               body.replace(_PLACEHOLDER_UUID.encode(), uid.encode()), uid)
        emitted += 1


class CaseBoard:
    """A projection like the services': one row per case, one per (case, member)."""

    aggregates: tuple[str, ...] | None = ("case",)
    needs_personal = False

    def __init__(self, name: str = "benchboard") -> None:
        self.name = name
        self.metadata = MetaData()
        self.cases = Table(
            f"{name}_cases", self.metadata,
            Column("case_id", String(64), primary_key=True),
            Column("stage", String(20), nullable=False),
            Column("coordinator", String(64)),
            Column("lead", String(64)),
            Column("opened_on", Date),
            Column("members", Integer, nullable=False, default=0),
            Column("events", Integer, nullable=False, default=0),
            Column("last_seq", Integer, nullable=False, default=0),
        )
        self.members = Table(
            f"{name}_members", self.metadata,
            Column("case_id", String(64), primary_key=True),
            Column("agency_id", String(64), primary_key=True),
            Column("joined_on", Date),
            Column("how", String(20)),
        )

        # Statements are built once and executed with parameters: building a statement
        # per event costs more than the database write itself (see bench/README.md).
        t, m = self.cases, self.members
        where = t.c.case_id == bindparam("b_case")
        bump = {"events": t.c.events + 1, "last_seq": bindparam("b_seq")}
        self._bump = update(t).where(where).values(**bump)
        self._bump_member = update(t).where(where).values(members=t.c.members + 1, **bump)
        self._set_lead = update(t).where(where).values(lead=bindparam("b_lead"), **bump)
        self._set_stage = update(t).where(where).values(stage=bindparam("b_stage"), **bump)
        self._find_member = select(m.c.agency_id).where(
            m.c.case_id == bindparam("b_case"), m.c.agency_id == bindparam("b_agency"))
        self._add_member = m.insert()

    def apply(self, conn: Connection, env: Envelope, ctx: ApplyContext) -> None:
        e = env.event
        if isinstance(e, CaseOpened):
            upsert(conn, self.cases, {
                "case_id": e.case_id, "stage": "open", "coordinator": e.coordinator,
                "opened_on": e.opened_on, "members": 0, "events": 1, "last_seq": ctx.seq,
            }, ["case_id"])
            return
        # Deliberately not idempotent: a second application would count twice, so the
        # fault tests can see any event applied more than once.
        params: dict[str, object] = {"b_case": env.aggregate_id, "b_seq": ctx.seq}
        stmt = self._bump
        if isinstance(e, MemberJoined):
            found = conn.execute(self._find_member, {**params, "b_agency": e.agency_id}).first()
            if found is None:
                conn.execute(self._add_member, {"case_id": e.case_id, "agency_id": e.agency_id,
                                                "joined_on": e.joined_on, "how": str(e.how)})
                stmt = self._bump_member
        elif isinstance(e, LeadAgencyAssigned):
            stmt, params["b_lead"] = self._set_lead, e.agency_id
        elif isinstance(e, CaseClosed | CaseSuspended):
            stage = "closed" if isinstance(e, CaseClosed) else "suspended"
            stmt, params["b_stage"] = self._set_stage, stage
        conn.execute(stmt, params)

    def snapshot(self, conn: Connection) -> tuple[list[tuple], list[tuple]]:
        """Everything the projection holds, in a comparable order."""
        cases = [tuple(r) for r in conn.execute(select(self.cases).order_by(self.cases.c.case_id))]
        members = [tuple(r) for r in conn.execute(
            select(self.members).order_by(self.members.c.case_id, self.members.c.agency_id))]
        return cases, members
