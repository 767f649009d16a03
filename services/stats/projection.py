"""The stats projection: everything the counts need, from events only, in any order.

World dates come from the payloads (started_on, joined_on, held_on …) or, where an event has
none, from the envelope's ``occurred_at`` in Japan time — never from ``recorded_at``.
"""

from __future__ import annotations

import functools
from datetime import UTC, date
from typing import Any

from sqlalchemy import Column, Connection, and_, bindparam, or_, select, update

from contracts.base import Sealed
from contracts.case import (
    CaseClosed,
    CaseOpened,
    CaseReturnedToComprehensive,
    EnrollmentEnded,
    EnrollmentStarted,
    LeadAgencyAssigned,
    MemberJoined,
    PlanApproved,
    PlanDrafted,
)
from contracts.directory import AgencyRegistered, AgencyUpdated
from contracts.envelope import Envelope
from contracts.jst import JST
from contracts.meeting import (
    CaseMovedToSupportPlanMeeting,
    CaseTabled,
    MeetingHeld,
    MeetingScheduled,
)
from contracts.person import PersonDataErased
from contracts.referral import (
    PersonMatchDecided,
    ReferralCorrected,
    ReferralSubmitted,
    ReferralTriaged,
    TriageOutcome,
)
from contracts.stats import StatsReportPublished
from eventstore import fastsql
from eventstore.db import upsert
from eventstore.projection import ApplyContext
from services.stats import derived
from services.stats import tables as t
from services.stats.domain import figures_sha256


def world_day(env: Envelope) -> date:
    return env.occurred_at.astimezone(JST).date()


def version(env: Envelope, rank: int = 0) -> str:
    """Orders facts by world time; the rank puts a correction after what it corrects."""
    at = env.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return f"{at}|{rank}|{env.event_id}"


@functools.cache
def _lookup(key: Column[Any], col: Column[Any]) -> Any:
    # Built once per (key, column): building a statement costs more than running it.
    return select(col).where(key == bindparam("key"))


def _current(conn: Connection, key: Column[Any], value: Any, col: Column[Any]) -> Any:
    """``col`` of the row whose ``key`` column equals ``value`` (None if there is none)."""
    return fastsql.scalar(conn, _lookup(key, col), {"key": value})


_pf = t.person_facts.c
_FACT_ROW = select(_pf.version, _pf.person_id, _pf.matched_person_id).where(
    _pf.source == bindparam("key"))


def _newer(conn: Connection, key: Column[Any], value: Any, col: Column[Any], v: str) -> bool:
    existing = _current(conn, key, value, col)
    return existing is None or v > existing


class StatsProjection:
    name = "stats"
    metadata = t.metadata
    aggregates: tuple[str, ...] | None = (
        "agency", "referral", "case", "meeting", "person", "stats",
    )
    needs_personal = True
    #: What apply uses; a rebuild skips the rest (assessments, monitorings, …) undecoded.
    event_types = frozenset(c.model_fields["type"].default for c in (
        AgencyRegistered, AgencyUpdated, ReferralSubmitted, ReferralCorrected, ReferralTriaged,
        PersonMatchDecided, CaseOpened, EnrollmentStarted, EnrollmentEnded, MemberJoined,
        LeadAgencyAssigned, CaseReturnedToComprehensive, PlanDrafted, PlanApproved, CaseClosed,
        MeetingScheduled, MeetingHeld, CaseTabled, CaseMovedToSupportPlanMeeting,
        PersonDataErased, StatsReportPublished))

    def apply(self, conn: Connection, env: Envelope, ctx: ApplyContext) -> None:
        event = env.event
        if isinstance(event, AgencyRegistered | AgencyUpdated):
            v = version(env)
            if _newer(conn, t.agencies.c.agency_id, event.agency_id, t.agencies.c.version, v):
                upsert(conn, t.agencies, {"agency_id": event.agency_id,
                                          "category": event.category, "version": v}, ["agency_id"])
        elif isinstance(event, ReferralSubmitted | ReferralCorrected):
            self._referral(conn, ctx.unseal(env))
        elif isinstance(event, ReferralTriaged):
            values: dict[str, Any] = {
                "referral_id": event.referral_id,
                "triaged_by": event.triaged_by,
                "triaged_on": getattr(event, "triaged_on", None) or world_day(env),
            }
            if event.outcome == TriageOutcome.complex and event.case_id:
                values["case_id"] = event.case_id
            upsert(conn, t.referrals, values, ["referral_id"])
        elif isinstance(event, PersonMatchDecided):
            self._match(conn, env, event)
        elif isinstance(event, CaseOpened):
            self._case_opened(conn, ctx.unseal(env))
        elif isinstance(event, EnrollmentStarted):
            self._enrollment_started(conn, env, event)
        elif isinstance(event, EnrollmentEnded):
            self._enrollment_ended(conn, env, event)
        elif isinstance(event, MemberJoined):
            self._link(conn, env, event.case_id, event.agency_id, event.joined_on, "member")
        elif isinstance(event, LeadAgencyAssigned):
            self._link(conn, env, event.case_id, event.agency_id, event.assigned_on, "lead")
        elif isinstance(event, CaseReturnedToComprehensive):
            self._link(conn, env, event.case_id, event.lead_agency, event.returned_on, "lead")
        elif isinstance(event, PlanDrafted):
            for i, role in enumerate(event.roles):
                self._link(conn, env, event.case_id, role.agency_id, event.drafted_on,
                           "plan_role", program=event.program.value, n=i)
        elif isinstance(event, PlanApproved):
            upsert(conn, t.approvals, {
                "plan_id": event.plan_id, "version": event.version,
                "program": event.program.value, "approved_on": event.approved_on,
                "case_id": event.case_id,
            }, ["plan_id", "version"])
        elif isinstance(event, CaseClosed):
            upsert(conn, t.closures, {"event_id": str(env.event_id), "case_id": event.case_id,
                                      "closed_on": event.closed_on}, ["event_id"])
        else:
            self._other(conn, env)

    def _other(self, conn: Connection, env: Envelope) -> None:
        event = env.event
        if isinstance(event, MeetingScheduled):
            upsert(conn, t.meetings, {"meeting_id": event.meeting_id, "kind": event.kind.value},
                   ["meeting_id"])
        elif isinstance(event, MeetingHeld):
            v = version(env)
            if _newer(conn, t.meetings.c.meeting_id, event.meeting_id,
                      t.meetings.c.held_version, v):
                upsert(conn, t.meetings, {"meeting_id": event.meeting_id,
                                          "held_on": event.held_on, "held_version": v},
                       ["meeting_id"])
            if event.item_attendance is not None:  # per item: only the cases attended for
                for item in event.item_attendance:
                    for agency_id in item.agencies:
                        upsert(conn, t.item_attendees, {
                            "meeting_id": event.meeting_id, "case_id": item.case_id,
                            "agency_id": agency_id}, ["meeting_id", "case_id", "agency_id"])
                return
            for agency_id in dict.fromkeys(event.attendees):
                upsert(conn, t.attendees, {"meeting_id": event.meeting_id,
                                           "agency_id": agency_id}, ["meeting_id", "agency_id"])
        elif isinstance(event, CaseTabled):
            upsert(conn, t.tabled, {
                "meeting_id": event.meeting_id, "item_id": event.item_id,
                "case_id": event.case_id,
                "program": event.program.value if event.program else None,
            }, ["meeting_id", "item_id"])
        elif isinstance(event, CaseMovedToSupportPlanMeeting):
            upsert(conn, t.tabled, {
                "meeting_id": event.to_meeting_id, "item_id": f"moved-{event.item_id}",
                "case_id": event.case_id, "program": None,
            }, ["meeting_id", "item_id"])
        elif isinstance(event, PersonDataErased):
            self._erased(conn, event)
        elif isinstance(event, StatsReportPublished):
            upsert(conn, t.published, {
                "report_id": event.report_id, "as_of": event.as_of,
                "figures_sha256": figures_sha256(event.report),
            }, ["report_id"])
            for c in event.report.get("corrections", ()):
                upsert(conn, t.corrections, {
                    "report_id": c["report_id"], "by_report_id": event.report_id,
                    "figures_sha256": c["figures_sha256"],
                }, ["report_id", "by_report_id"])

    # ----- persons ---------------------------------------------------------------------
    def _is_erased(self, conn: Connection, person_id: str) -> bool:
        return _current(conn, t.erased.c.person_id, person_id,
                        t.erased.c.person_id) is not None

    def _fact(
        self, conn: Connection, source: str, person_id: str, v: str, sex: str, band: str,
        personal: object,
    ) -> None:
        row = fastsql.first(conn, _FACT_ROW, {"key": source})
        if row is not None and row[0] is not None and v <= row[0]:
            return
        matched = row[2] if row is not None else None
        birth = None
        if not isinstance(personal, Sealed) and personal is not None:
            birth = getattr(personal, "birth_date", None)
        if birth is not None and (self._is_erased(conn, person_id)
                                  or (matched and self._is_erased(conn, matched))):
            birth = None  # a late copy of an erased person's data is not kept
        upsert(conn, t.person_facts, {
            "source": source, "person_id": person_id, "sex": sex, "age_band": band,
            "birth_date": birth, "version": v,
        }, ["source"])
        before = (matched or row[1]) if row is not None else None
        derived.refresh_persons(conn, (before, matched or person_id))

    def _referral(self, conn: Connection, env: Envelope) -> None:
        event = env.event
        assert isinstance(event, ReferralSubmitted | ReferralCorrected)
        rank = 1 if isinstance(event, ReferralCorrected) else 0
        self._fact(conn, f"referral:{event.referral_id}", event.person_id, version(env, rank),
                   event.sex.value, event.age_band.value, event.personal)
        if isinstance(event, ReferralSubmitted):
            upsert(conn, t.referrals, {
                "referral_id": event.referral_id, "referring_agency": event.referring_agency,
                "submitted_on": world_day(env),
            }, ["referral_id"])

    def _match(self, conn: Connection, env: Envelope, event: PersonMatchDecided) -> None:
        source = f"referral:{event.referral_id}"
        v = version(env)
        row = fastsql.first(conn, _FACT_ROW, {"key": source})
        if _newer(conn, t.person_facts.c.source, source, t.person_facts.c.match_version, v):
            values: dict[str, object] = {"source": source, "matched_person_id": event.person_id,
                                         "match_version": v}
            if self._is_erased(conn, event.person_id):
                values["birth_date"] = None  # matched to an erased person: not kept
            upsert(conn, t.person_facts, values, ["source"])
            before = (row[2] or row[1]) if row is not None else None
            derived.refresh_persons(conn, (before, event.person_id))

    def _case_opened(self, conn: Connection, env: Envelope) -> None:
        event = env.event
        assert isinstance(event, CaseOpened)
        if event.subject.person_id:
            self._fact(conn, f"case:{event.case_id}", event.subject.person_id, version(env),
                       event.sex.value, event.age_band.value, event.personal)
        upsert(conn, t.cases, {"case_id": event.case_id, "referral_id": event.referral_id},
               ["case_id"])
        self._link(conn, env, event.case_id, event.coordinator, event.opened_on, "coordinator")

    def _erased(self, conn: Connection, event: PersonDataErased) -> None:
        upsert(conn, t.erased, {"person_id": event.person_id}, ["person_id"])
        touched = derived.touched_by_erasure(conn, event.person_id)
        conn.execute(
            update(t.person_facts)
            .where(or_(t.person_facts.c.person_id == event.person_id,
                       t.person_facts.c.matched_person_id == event.person_id))
            .values(birth_date=None)
        )
        for enrollment_id, band in event.age_bands.items():
            upsert(conn, t.erased_bands, {"enrollment_id": enrollment_id,
                                          "age_band": band.value}, ["enrollment_id"])
        derived.refresh_persons(conn, (*touched, event.person_id))
        derived.refresh_enrollments(conn, event.age_bands)

    # ----- enrollments and links -------------------------------------------------------
    def _enrollment_started(self, conn: Connection, env: Envelope, e: EnrollmentStarted) -> None:
        v = version(env)
        if _newer(conn, t.enrollments.c.enrollment_id, e.enrollment_id,
                  t.enrollments.c.start_version, v):
            upsert(conn, t.enrollments, {
                "enrollment_id": e.enrollment_id, "case_id": e.case_id,
                "program": e.program.value, "person_id": e.subject.person_id,
                "agency_id": e.subject.agency_id, "started_on": e.started_on,
                "start_version": v, **derived.at_start(
                    conn, e.enrollment_id, e.subject.person_id, e.program.value, e.started_on),
            }, ["enrollment_id"])

    def _enrollment_ended(self, conn: Connection, env: Envelope, e: EnrollmentEnded) -> None:
        v = version(env)
        if _newer(conn, t.enrollments.c.enrollment_id, e.enrollment_id,
                  t.enrollments.c.end_version, v):
            upsert(conn, t.enrollments, {
                "enrollment_id": e.enrollment_id, "case_id": e.case_id,
                "program": e.program.value, "ended_on": e.ended_on, "end_version": v,
            }, ["enrollment_id"])

    def _link(
        self, conn: Connection, env: Envelope, case_id: str, agency_id: str, on: date,
        kind: str, program: str | None = None, n: int = 0,
    ) -> None:
        upsert(conn, t.links, {
            "link_id": f"{env.event_id}:{n}", "case_id": case_id, "agency_id": agency_id,
            "on_date": on, "program": program, "kind": kind,
        }, ["link_id"])


def erased_facts_cleared(conn: Connection, person_id: str) -> bool:
    """Test helper: no birth date is kept for an erased person (facts and resolved view)."""
    view = conn.execute(select(t.persons.c.birth_date).where(
        t.persons.c.person_id == person_id)).scalar()
    if view is not None:
        return False
    row = conn.execute(
        select(t.person_facts.c.source).where(and_(
            or_(t.person_facts.c.person_id == person_id,
                t.person_facts.c.matched_person_id == person_id),
            t.person_facts.c.birth_date.is_not(None),
        ))
    ).first()
    return row is None
