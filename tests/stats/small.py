"""A few people at a time, sent as commands (migration subjects: their dates are in the
past), for the smaller stats tests."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from typing import Any, NamedTuple

from nats.aio.client import Client

from contracts.common import Sex
from eventstore.commands import request_patiently
from eventstore.store import EventStore
from eventstore.topology import Topology
from tests.helpers import register_agency

JST = timezone(timedelta(hours=9))
REFERRING, COORDINATOR = "houkatsu-1", "shakyo"


class Enrolled(NamedTuple):
    seq: int  # the stream's last sequence once the person is enrolled
    person_id: str
    case_id: str
    enrollment_id: str


async def start_intake(services: Any, store: EventStore) -> None:
    """The directory and the services that take referrals and open cases."""
    await register_agency(store, REFERRING)
    await register_agency(store, COORDINATOR, category="社会福祉協議会", can_triage=True)
    await services("referral", "casefile")


async def migrate(nc: Client, topology: Topology, agency: str, command: str,
                  body: dict[str, Any]) -> dict[str, Any]:
    """A command about the past, on the migration subject; its reply, checked ok."""
    msg = await request_patiently(nc, topology.migrate_subject(agency, command),
                                  json.dumps(body, default=str).encode())
    reply: dict[str, Any] = json.loads(msg.data)
    assert reply["ok"], reply
    return reply


def at(on: date) -> str:
    return datetime(on.year, on.month, on.day, 10, tzinfo=JST).isoformat()


async def enrolled_person(
    store: EventStore, n: int, start: date, *, birth: date | None = None,
    sex: Sex = Sex.female,
) -> Enrolled:
    """A referred person (birth date sealed under their key) triaged into a case, which
    enrolls them in 多機関協働 on ``start`` (needs ``start_intake``)."""
    nc, topology = store.nc, store.topology
    personal: dict[str, Any] = {"summary": "概要", "phone": "090-0000-0000"}
    if birth is not None:
        personal["birth_date"] = birth.isoformat()
    submitted = await migrate(nc, topology, REFERRING, "submit_referral", {
        "command_id": f"small-ref-{n}", "occurred_at": at(start - timedelta(days=5)),
        "contact_route": "phone", "concerns": ["income"], "sex": sex.value,
        "personal": personal})
    triaged = await migrate(nc, topology, COORDINATOR, "triage_referral", {
        "command_id": f"small-triage-{n}", "occurred_at": at(start),
        "referral_id": submitted["ids"]["referral_id"], "outcome": "complex",
        "triaged_on": start.isoformat()})
    case_id = triaged["ids"]["case_id"]
    case = await store.load("case", case_id)
    opened = case.envelopes[0].event
    [enrollment] = [e.event.enrollment_id for e in case.envelopes
                    if e.type == "EnrollmentStarted"]
    return Enrolled(case.last_seq, opened.subject.person_id, case_id, enrollment)


async def last_seq(nc: Client, topology: Topology) -> int:
    info = await nc.jetstream().stream_info(topology.events_stream)
    return int(info.state.last_seq)


def cell(report: dict, program: str, band: str, sex: str) -> tuple[int, int]:
    (p,) = [p for p in report["programs"] if p["program"] == program]
    (row,) = [r for r in p["persons"]["grid"] if r["age_band"] == band]
    return row[sex]["current"], row[sex]["prior"]
