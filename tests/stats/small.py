"""A few events at a time, appended with the kit, for the smaller stats tests."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from nats.aio.client import Client

from contracts.base import Actor, DomainEvent
from contracts.case import CaseOpened, CaseOrigin, EnrollmentStarted
from contracts.common import AgeBand, Concern, Program, Sex, SubjectRef
from contracts.referral import ContactRoute, ReferralPersonal, ReferralSubmitted
from eventstore.codec import new_envelope
from eventstore.crypto import KeyRing
from eventstore.store import EventStore
from eventstore.topology import Topology

JST = timezone(timedelta(hours=9))


async def append(store: EventStore, keyring: KeyRing, event: DomainEvent,
                 on: date | datetime, actor: str = "shakyo") -> int:
    when = on if isinstance(on, datetime) else datetime(on.year, on.month, on.day, 10, tzinfo=JST)
    sealed = await keyring.seal_event(event)
    (seq,) = await store.append([new_envelope(sealed, Actor(agency_id=actor), occurred_at=when)])
    return seq


async def enrolled_person(
    store: EventStore, keyring: KeyRing, n: int, start: date, *, birth: date | None = None,
    sex: Sex = Sex.female, program: Program = Program.multi_agency,
) -> int:
    """A referred person (birth date sealed under their key) with a case and an enrollment."""
    person, case, referral = f"p{n}", f"c{n}", f"r{n}"
    await append(store, keyring, ReferralSubmitted(
        referral_id=referral, person_id=person, referring_agency="houkatsu-1",
        contact_route=ContactRoute.phone, concerns=(Concern.income,), sex=sex,
        age_band=AgeBand.unknown, personal=ReferralPersonal(summary="概要", birth_date=birth),
    ), start - timedelta(days=5), "houkatsu-1")
    await append(store, keyring, CaseOpened(
        case_id=case, subject=SubjectRef(person_id=person), referral_id=referral,
        origin=CaseOrigin.triage, opened_on=start, coordinator="shakyo", sex=sex,
    ), start)
    return await append(store, keyring, EnrollmentStarted(
        case_id=case, enrollment_id=f"e{n}", program=program,
        subject=SubjectRef(person_id=person), started_on=start,
    ), start)


async def last_seq(nc: Client, topology: Topology) -> int:
    info = await nc.jetstream().stream_info(topology.events_stream)
    return int(info.state.last_seq)


def cell(report: dict, program: str, band: str, sex: str) -> tuple[int, int]:
    (p,) = [p for p in report["programs"] if p["program"] == program]
    (row,) = [r for r in p["persons"]["grid"] if r["age_band"] == band]
    return row[sex]["current"], row[sex]["prior"]
