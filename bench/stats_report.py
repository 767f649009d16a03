"""How long the statistics report takes over a large history (default 1,000,000 events).

    .venv/bin/python -m bench.stats_report [--events N] [--db sqlite:///path]

Synthetic history: ~100,000 people over four fiscal years, each with a referral, its triage,
a case, one or two program enrollments (most ended), members joining, plans and their
approvals, and monthly meetings discussing cases. The events are applied through the real
``StatsProjection.apply`` in batches of 5,000 per transaction (what the runner does, minus
NATS; personal blocks in clear, no key lookups), then the report (``queries.report``: the
projection's kept counts and per-window aggregate queries) and a publication (which recomputes
every earlier published report) are timed. Prints one JSON line of numbers.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from contracts.base import Actor, DomainEvent
from contracts.case import (
    CaseClosed,
    CaseOpened,
    CaseOrigin,
    EnrollmentEnded,
    EnrollmentStarted,
    MemberJoined,
    MembershipReason,
    PlanApproved,
    PlanDrafted,
    PlanPersonal,
    PlanRole,
)
from contracts.common import AGENCY_CATEGORIES, AgeBand, Concern, Program, Sex, SubjectRef
from contracts.directory import AgencyRegistered
from contracts.envelope import Envelope
from contracts.jst import JST
from contracts.meeting import Ask, CaseTabled, MeetingHeld, MeetingKind, MeetingScheduled
from contracts.referral import (
    ContactRoute,
    ReferralPersonal,
    ReferralSubmitted,
    ReferralTriaged,
    TriageOutcome,
)
from eventstore.codec import new_envelope
from eventstore.db import kit_metadata, make_engine
from eventstore.projection import ApplyContext
from services.stats import queries
from services.stats.domain import Published, figures_sha256, publication_of
from services.stats.projection import StatsProjection

START, END = date(2022, 4, 1), date(2026, 3, 31)
AS_OF = date(2025, 11, 30)
ACTOR = Actor(agency_id="shakyo")


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, tzinfo=JST)


def events(total: int, rng: random.Random) -> Iterator[tuple[DomainEvent, date]]:
    agencies = [f"ag{i:04d}" for i in range(600)]
    for i, a in enumerate(agencies):
        yield AgencyRegistered(agency_id=a, name=a, verified_at=date(2025, 4, 1),
                               category=AGENCY_CATEGORIES[i % len(AGENCY_CATEGORIES)]), START
    n = len(agencies)
    person = 0
    span = (END - START).days
    while n < total:
        person += 1
        p, c, r = f"p{person}", f"c{person}", f"r{person}"
        start = START + timedelta(days=rng.randrange(span))
        birth = date(rng.randrange(1935, 2010), rng.randrange(1, 13), rng.randrange(1, 29))
        sex = rng.choice(list(Sex))
        yield ReferralSubmitted(
            referral_id=r, person_id=p, referring_agency=rng.choice(agencies),
            contact_route=ContactRoute.phone, concerns=(Concern.income,), sex=sex,
            age_band=AgeBand.unknown,
            personal=ReferralPersonal(summary="-", birth_date=birth if rng.random() < .8 else None),
        ), start - timedelta(days=7)
        yield ReferralTriaged(referral_id=r, outcome=TriageOutcome.complex, triaged_by="ag0000",
                              case_id=c, person_id=p), start - timedelta(days=2)
        yield CaseOpened(case_id=c, subject=SubjectRef(person_id=p), referral_id=r,
                         origin=CaseOrigin.triage, opened_on=start, coordinator="ag0000",
                         sex=sex), start
        n += 3
        ended = None
        for k, program in enumerate(rng.sample(list(Program), rng.choice((1, 1, 2)))):
            e = f"e{person}-{k}"
            yield EnrollmentStarted(case_id=c, enrollment_id=e, program=program,
                                    subject=SubjectRef(person_id=p), started_on=start), start
            n += 1
            if rng.random() < 0.7:
                ended = start + timedelta(days=rng.randrange(30, 500))
                yield EnrollmentEnded(case_id=c, enrollment_id=e, program=program,
                                      ended_on=ended, reason="-"), ended
                n += 1
        for _ in range(rng.randrange(1, 4)):
            joined = start + timedelta(days=rng.randrange(0, 200))
            yield MemberJoined(case_id=c, agency_id=rng.choice(agencies), joined_on=joined,
                               how=MembershipReason.invitation), joined
            n += 1
        if rng.random() < 0.3:
            drafted = start + timedelta(days=20)
            yield PlanDrafted(
                case_id=c, plan_id=f"plan{person}", version=1, program=Program.multi_agency,
                drafted_by="ag0000", drafted_on=drafted,
                roles=(PlanRole(agency_id=rng.choice(agencies), role="-"),),
                personal=PlanPersonal(long_term_goal="-", short_term_goals=(), direction="-"),
            ), drafted
            yield PlanApproved(case_id=c, plan_id=f"plan{person}", version=1,
                               program=Program.multi_agency, meeting_id="m", decision_id="d",
                               approved_on=drafted + timedelta(days=10)), drafted
            n += 2
        if ended is not None and rng.random() < 0.5:
            yield CaseClosed(case_id=c, closed_on=ended, meeting_id="m", decision_id="d",
                             reason="-"), ended
            n += 1
        if person % 50 == 0:  # a meeting discussing this case
            held = start + timedelta(days=30)
            m = f"m{person}"
            yield MeetingScheduled(meeting_id=m, kind=MeetingKind.support_plan, regular=True,
                                   scheduled_for=at(held), convened_by="ag0000",
                                   members=("ag0000",)), held
            yield CaseTabled(meeting_id=m, item_id="i", case_id=c,
                             asks=(Ask.share_information,)), held
            yield MeetingHeld(meeting_id=m, held_on=held,
                              attendees=tuple(rng.sample(agencies, 4))), held
            n += 3


def fill(engine: Engine, total: int, seed: int = 1) -> tuple[int, float, float]:
    """Create the stats tables on ``engine`` and apply ``total`` synthetic events through the
    real projection, 5,000 per transaction: (events applied, seconds applying, seconds
    building envelopes)."""
    projection = StatsProjection()
    projection.metadata.drop_all(engine)
    projection.metadata.create_all(engine)
    kit_metadata.create_all(engine)
    ctx = ApplyContext(None)
    started = time.perf_counter()
    applied, batch = 0, []
    build_s = 0.0

    def flush(items: list[Envelope]) -> None:
        with engine.begin() as conn:
            for env in items:
                projection.apply(conn, env, ctx)
            ctx.finish(conn)

    for event, day in events(total, random.Random(seed)):
        t0 = time.perf_counter()
        batch.append(new_envelope(event, ACTOR, occurred_at=at(day)))
        build_s += time.perf_counter() - t0
        if len(batch) == 5000:
            flush(batch)
            applied += len(batch)
            batch = []
    flush(batch)
    applied += len(batch)
    return applied, time.perf_counter() - started - build_s, build_s


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--db", default=None, help="SQLAlchemy URL (default: a temp SQLite)")
    args = parser.parse_args()
    url = args.db or f"sqlite:///{Path(tempfile.mkdtemp()) / 'stats-bench.sqlite'}"
    engine = make_engine(url)
    applied, project_s, build_s = fill(engine, args.events)

    t0 = time.perf_counter()
    report = queries.report(engine, AS_OF)
    report_s = time.perf_counter() - t0

    # A publication recomputes every earlier published report: 24 month ends (what
    # queries.publication does, with these as the published ones).
    t0 = time.perf_counter()
    months = [date(2023 + (m + 3) // 12, (m + 3) % 12 + 1, 1) - timedelta(days=1)
              for m in range(1, 25)]
    published = tuple(Published(f"r{i}", d, figures_sha256(report)) for i, d in enumerate(months))
    with engine.connect() as conn:
        publication_of(lambda day: queries.report_on(conn, day), AS_OF, published, frozenset())
    publication_s = time.perf_counter() - t0

    print(json.dumps({
        "events": applied,
        "persons_served_multi_agency": report["programs"][0]["persons"]["total"],
        "envelope_build_s": round(build_s, 1),
        "projection_apply_s": round(project_s, 1),
        "projection_events_per_s": round(applied / project_s),
        "report_s": round(report_s, 2),
        "publication_with_24_earlier_reports_s": round(publication_s, 2),
        "database": url.split(":")[0],
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
