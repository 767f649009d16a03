"""The projection keeps each person's resolved view and each enrollment's placement (年代,
性別) up to date, and the report only counts rows. Whatever order the events arrive in — a
correction before what it corrects, a match to another person, an erasure before or after
the enrollments it keeps bands for — the report equals the pure reference computed over the
whole projection. Small random histories, applied through the real projection in a random
order, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    SubjectPersonal,
)
from contracts.common import AgeBand, Concern, Program, Sex, SubjectRef
from contracts.directory import AgencyRegistered
from contracts.jst import JST
from contracts.meeting import (
    Ask,
    CaseMovedToSupportPlanMeeting,
    CaseTabled,
    ItemAttendance,
    MeetingHeld,
    MeetingKind,
    MeetingScheduled,
)
from contracts.person import PersonDataErased
from contracts.referral import (
    ContactRoute,
    PersonMatchDecided,
    ReferralCorrected,
    ReferralPersonal,
    ReferralSubmitted,
    ReferralTriaged,
    TriageOutcome,
)
from eventstore.codec import new_envelope
from eventstore.db import kit_metadata, make_engine
from eventstore.projection import ApplyContext
from services.stats import domain as d
from services.stats import queries
from services.stats.projection import StatsProjection, erased_facts_cleared

PERSONS = st.sampled_from(["p1", "p2", "p3"])
CASES = st.sampled_from(["c1", "c2", "c3"])
AGENCIES = st.sampled_from(["a1", "a2", "a3", "a4"])
DAYS = st.dates(date(2023, 3, 1), date(2026, 3, 31))
BIRTHS = st.none() | st.dates(date(1955, 1, 1), date(2008, 12, 31))
SEXES = st.sampled_from(list(Sex))
BANDS = st.sampled_from(list(AgeBand))
AS_OF = (date(2024, 3, 31), date(2025, 6, 30), date(2025, 11, 30), date(2026, 3, 31))
Item = tuple[DomainEvent, date]


def _referral(draw: st.DrawFn, i: int) -> list[Item]:
    r, p, day = f"r{i}", draw(PERSONS), draw(DAYS)
    common: dict[str, Any] = {"referral_id": r, "person_id": p,
                              "contact_route": ContactRoute.phone, "concerns": (Concern.income,)}
    out: list[Item] = [(ReferralSubmitted(
        **common, referring_agency=draw(AGENCIES), sex=draw(SEXES), age_band=draw(BANDS),
        personal=ReferralPersonal(summary="-", birth_date=draw(BIRTHS))), day)]
    if draw(st.booleans()):
        personal = ReferralPersonal(summary="-", birth_date=draw(BIRTHS))
        out.append((ReferralCorrected(**common, sex=draw(SEXES), age_band=draw(BANDS),
                                      personal=personal), draw(DAYS)))
    if draw(st.booleans()):
        other = draw(PERSONS)
        out.append((PersonMatchDecided(referral_id=r, candidate_person_id=other,
                                       decision="link", person_id=other), draw(DAYS)))
    if draw(st.booleans()):
        out.append((ReferralTriaged(referral_id=r, outcome=TriageOutcome.complex,
                                    triaged_by=draw(AGENCIES), case_id=draw(CASES),
                                    person_id=p), draw(DAYS)))
    return out


def _enrollment(draw: st.DrawFn, i: int) -> list[Item]:
    e, c, program = f"e{i}", draw(CASES), draw(st.sampled_from(list(Program)))
    by_agency = program == Program.participation and draw(st.booleans())
    subject = SubjectRef(agency_id=draw(AGENCIES)) if by_agency else SubjectRef(
        person_id=draw(PERSONS))
    # A later start replaces the first; none: its start was dead-lettered or is still to come.
    starts = draw(st.lists(DAYS, min_size=0, max_size=2))
    out: list[Item] = [(EnrollmentStarted(case_id=c, enrollment_id=e, program=program,
                                          subject=subject, started_on=s), s) for s in starts]
    if draw(st.booleans()) or not starts:
        end = max([draw(DAYS), *starts])
        out.append((EnrollmentEnded(case_id=c, enrollment_id=e, program=program, ended_on=end,
                                    reason="-"), end))
    return out


def _around(draw: st.DrawFn) -> list[Item]:
    """Cases, links, plans, meetings and closures: the as-of queries' other inputs."""
    out: list[Item] = []
    for c in ("c1", "c2", "c3"):
        if draw(st.booleans()):
            day = draw(DAYS)
            out.append((CaseOpened(
                case_id=c, subject=SubjectRef(person_id=draw(PERSONS)),
                referral_id=draw(st.none() | st.just("r0")), origin=CaseOrigin.triage,
                opened_on=day, coordinator=draw(AGENCIES), sex=draw(SEXES),
                age_band=draw(BANDS), personal=SubjectPersonal(birth_date=draw(BIRTHS))), day))
    for _ in range(draw(st.integers(0, 3))):
        day = draw(DAYS)
        out.append((MemberJoined(case_id=draw(CASES), agency_id=draw(AGENCIES), joined_on=day,
                                 how=MembershipReason.invitation), day))
    for i in range(draw(st.integers(0, 3))):
        day = draw(DAYS)
        out.append((PlanApproved(case_id=draw(CASES), plan_id=f"pl{i % 2}", version=i + 1,
                                 program=draw(st.sampled_from(list(Program))), meeting_id="m",
                                 decision_id="d", approved_on=day), day))
    for i in range(draw(st.integers(0, 2))):
        m, day, case = f"m{i}", draw(DAYS), draw(CASES)
        out.append((MeetingScheduled(
            meeting_id=m, kind=draw(st.sampled_from(list(MeetingKind))), regular=True,
            scheduled_for=datetime(day.year, day.month, day.day, 10, tzinfo=JST),
            convened_by="a1", members=("a1",)), day))
        out.append((CaseTabled(meeting_id=m, item_id="i", case_id=case,
                               asks=(Ask.share_information,),
                               program=draw(st.none() | st.sampled_from(list(Program)))), day))
        if draw(st.booleans()):
            out.append((CaseMovedToSupportPlanMeeting(meeting_id="m9", item_id="i", case_id=case,
                                                      to_meeting_id=m), day))
        per_item = draw(st.booleans())
        out.append((MeetingHeld(
            meeting_id=m, held_on=day, attendees=("a1", draw(AGENCIES)),
            item_attendance=(ItemAttendance(item_id="i", case_id=case,
                                            agencies=(draw(AGENCIES),)),) if per_item else None,
        ), day))
    for _ in range(draw(st.integers(0, 2))):
        day = draw(DAYS)
        out.append((CaseClosed(case_id=draw(CASES), closed_on=day, meeting_id="m",
                               decision_id="d", reason="-"), day))
    return out


@st.composite
def histories(draw: st.DrawFn) -> list[Item]:
    items: list[Item] = [(AgencyRegistered(agency_id="a1", name="a1", category="行政",
                                           verified_at=date(2023, 1, 1)), date(2023, 1, 1))]
    for i in range(draw(st.integers(1, 4))):
        items += _referral(draw, i)
    n = draw(st.integers(1, 5))
    for i in range(n):
        items += _enrollment(draw, i)
    items += _around(draw)
    for _ in range(draw(st.integers(0, 2))):
        bands = draw(st.dictionaries(st.sampled_from([f"e{i}" for i in range(n)]), BANDS,
                                     min_size=1, max_size=2))
        items.append((PersonDataErased(person_id=draw(PERSONS), reason="請求", erased_by="a1",
                                       age_bands=bands), draw(DAYS)))
    return draw(st.permutations(items))  # the order the projection receives them in


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(history=histories())
def test_the_report_from_the_kept_counts_equals_the_reference_in_any_arrival_order(
    db_url: str, history: list[Item]
):
    engine = make_engine(db_url)
    projection = StatsProjection()
    try:
        projection.metadata.drop_all(engine)
        projection.metadata.create_all(engine)
        kit_metadata.create_all(engine)
        ctx = ApplyContext(None)
        with engine.begin() as conn:
            for event, day in history:
                env = new_envelope(event, Actor(agency_id="a1"), occurred_at=datetime(
                    day.year, day.month, day.day, 10, tzinfo=JST))
                projection.apply(conn, env, ctx)
        with engine.connect() as conn:
            whole = d.prepare(queries.load_snapshot(conn))
        for as_of in AS_OF:
            assert queries.report(engine, as_of) == d.compute_report(whole, as_of), as_of
        with engine.connect() as conn:  # whatever arrived after an erasure, nothing came back
            for event, _ in history:
                if isinstance(event, PersonDataErased):
                    assert erased_facts_cleared(conn, event.person_id), event.person_id
    finally:
        engine.dispose()
