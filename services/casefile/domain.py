"""The case lifecycle as pure functions: ``evolve`` folds a case's events into a frozen
state; each ``decide_*`` checks a request against that state and returns the new events
or raises a DomainError naming the field and the rule. No I/O, no asyncio, no clock: the
caller passes the dates and the other aggregates' events (consent) it loaded. What a
meeting's decisions do to a case is judged in ``decisions.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from types import MappingProxyType

from contracts.base import DomainEvent
from contracts.case import (
    NATIONAL_ASSESSMENT_ITEMS,
    OPTIONAL_ASSESSMENT_ITEMS,
    CaseClosed,
    CaseEvent,
    CaseOpened,
    CaseOrigin,
    CaseReopened,
    CaseReturnedToComprehensive,
    CaseSuspended,
    DecisionNotApplied,
    EnrollmentEnded,
    EnrollmentStarted,
    IntakeAssessmentRecorded,
    LeadAgencyAssigned,
    MemberJoined,
    MembershipReason,
    MonitoringRecorded,
    PlanApproved,
    PlanDrafted,
    PlanTabled,
)
from contracts.commands_casefile import (
    DraftPlan,
    EndEnrollment,
    InviteMember,
    OpenCase,
    RecordIntakeAssessment,
    RecordMonitoring,
    ReopenCase,
    StartEnrollment,
)
from contracts.common import Program, SubjectRef, sealable
from contracts.consent import has_valid_consent
from eventstore.errors import DomainError, Forbidden, InvalidInput, NotFound


class Status(StrEnum):
    open = "open"
    suspended = "suspended"  # 中断
    closed = "closed"  # 終結
    returned = "returned"  # 包括的相談支援へ戻し


@dataclass(frozen=True)
class Enrollment:
    enrollment_id: str
    program: Program
    subject: SubjectRef
    started_on: date
    ended_on: date | None = None


@dataclass(frozen=True)
class PlanVersion:
    plan_id: str
    version: int
    program: Program
    roles: tuple[str, ...]  # agency ids with a role
    tabled_at: frozenset[str] = frozenset()  # meeting ids
    approved: bool = False


@dataclass(frozen=True)
class CaseState:
    case_id: str
    opened: bool = False
    #: World dates: when the case was opened, and since when it has its current status.
    opened_on: date | None = None
    status_since: date | None = None
    subject: SubjectRef | None = None
    coordinator: str | None = None
    origin: CaseOrigin | None = None
    status: Status = Status.open
    lead: str | None = None
    members: frozenset[str] = frozenset()
    enrollments: Mapping[str, Enrollment] = field(default_factory=lambda: MappingProxyType({}))
    #: (plan_id, version) -> version
    plans: Mapping[tuple[str, int], PlanVersion] = field(
        default_factory=lambda: MappingProxyType({})
    )
    #: program -> (plan_id, version) of "the plan" (the last approved version)
    approved: Mapping[Program, tuple[str, int]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    assessments: int = 0
    monitorings: int = 0
    next_monitoring_on: date | None = None
    decisions: frozenset[str] = frozenset()  # decision ids already applied or not applied
    #: (meeting_id, decision_id) of what was not applied: a tabling's "decision id" is its
    #: item id, which is unique only within its meeting.
    not_applied: frozenset[tuple[str, str]] = frozenset()

    @property
    def person_id(self) -> str | None:
        return self.subject.person_id if self.subject else None

    def open_enrollments(self, program: Program | None = None) -> list[Enrollment]:
        return [
            e for e in self.enrollments.values()
            if e.ended_on is None and (program is None or e.program == program)
        ]

    def latest_version(self, plan_id: str) -> PlanVersion | None:
        versions = [v for (p, _), v in self.plans.items() if p == plan_id]
        return max(versions, key=lambda v: v.version) if versions else None


def _put(mapping: Mapping, key: object, value: object) -> MappingProxyType:
    return MappingProxyType({**mapping, key: value})


def evolve(state: CaseState, event: DomainEvent) -> CaseState:
    if not isinstance(event, CaseEvent):
        return state
    match event:
        case CaseOpened():
            return replace(
                state, opened=True, subject=event.subject, coordinator=event.coordinator,
                origin=event.origin, status=Status.open, opened_on=event.opened_on,
                status_since=event.opened_on,
            )
        case EnrollmentStarted():
            e = Enrollment(event.enrollment_id, event.program, event.subject, event.started_on)
            return replace(state, enrollments=_put(state.enrollments, e.enrollment_id, e))
        case EnrollmentEnded():
            old = state.enrollments.get(event.enrollment_id)
            if old is None:
                return state
            ended = replace(old, ended_on=event.ended_on)
            return replace(state, enrollments=_put(state.enrollments, old.enrollment_id, ended))
        case MemberJoined():
            return replace(state, members=state.members | {event.agency_id})
        case IntakeAssessmentRecorded():
            return replace(state, assessments=state.assessments + 1)
        case PlanDrafted():
            v = PlanVersion(event.plan_id, event.version, event.program,
                            tuple(r.agency_id for r in event.roles))
            return replace(state, plans=_put(state.plans, (v.plan_id, v.version), v))
        case PlanTabled():
            key = (event.plan_id, event.version)
            if key not in state.plans:
                return state
            v = state.plans[key]
            tabled = replace(v, tabled_at=v.tabled_at | {event.meeting_id})
            return replace(state, plans=_put(state.plans, key, tabled))
        case PlanApproved():
            key = (event.plan_id, event.version)
            plans = state.plans
            if key in plans:
                plans = _put(plans, key, replace(plans[key], approved=True))
            return replace(
                state, plans=plans, approved=_put(state.approved, event.program, key),
                decisions=state.decisions | {event.decision_id},
            )
        case MonitoringRecorded():
            return replace(
                state, monitorings=state.monitorings + 1,
                next_monitoring_on=event.next_monitoring_on,
            )
        case LeadAgencyAssigned():
            return replace(state, lead=event.agency_id,
                           decisions=state.decisions | {event.decision_id})
        case CaseClosed():
            return replace(state, status=Status.closed, status_since=event.closed_on,
                           decisions=state.decisions | {event.decision_id})
        case CaseSuspended():
            return replace(state, status=Status.suspended, status_since=event.suspended_on,
                           decisions=state.decisions | {event.decision_id})
        case CaseReturnedToComprehensive():
            return replace(state, status=Status.returned, lead=event.lead_agency,
                           status_since=event.returned_on,
                           decisions=state.decisions | {event.decision_id})
        case CaseReopened():
            return replace(state, status=Status.open, status_since=event.reopened_on)
        case DecisionNotApplied():
            return replace(state, decisions=state.decisions | {event.decision_id},
                           not_applied=state.not_applied | {(event.meeting_id,
                                                             event.decision_id)})
    return state


def fold(case_id: str, events: Iterable[DomainEvent]) -> CaseState:
    state = CaseState(case_id)
    for event in events:
        state = evolve(state, event)
    return state


# ---- checks shared by the deciders -------------------------------------------------------


def require_case(state: CaseState) -> None:
    if not state.opened:
        raise NotFound(f"case {state.case_id!r} does not exist", details={"case_id": state.case_id})


def require_member(state: CaseState, agency_id: str) -> None:
    require_case(state)
    if agency_id not in state.members:
        raise Forbidden(
            f"agency {agency_id!r} is not a member of case {state.case_id!r}; "
            "only member agencies may record on a case",
            details={"agency_id": agency_id, "case_id": state.case_id},
        )


def require_open(state: CaseState, action: str) -> None:
    if state.status is not Status.open:
        raise DomainError(
            f"case {state.case_id!r} is {state.status.value}: {action} needs an open case "
            "(reopen it first, with a reason)",
            code="case_not_open",
            details={"case_id": state.case_id, "status": state.status.value},
        )


def _not_before(value: date, floor: date, field_name: str, what: str) -> None:
    if value < floor:
        raise InvalidInput(
            f"{field_name} {value.isoformat()} is before {what} ({floor.isoformat()})",
            details={"field": field_name},
        )


def not_before_opening(state: CaseState, value: date, field_name: str) -> None:
    """A fact about a case is not dated before the case was opened (world dates)."""
    if state.opened_on is not None:
        _not_before(value, state.opened_on, field_name, "the case was opened")


# ---- commands from agencies --------------------------------------------------------------


def decide_open(case_id: str, agency_id: str, cmd: OpenCase) -> list[DomainEvent]:
    subject = cmd.subject
    if (subject.person_id is None) == (subject.agency_id is None):
        raise InvalidInput(
            "subject: give exactly one of person_id or agency_id", details={"field": "subject"}
        )
    if subject.agency_id is not None:
        if cmd.program is not Program.participation:
            raise InvalidInput(
                "subject.agency_id: only 参加支援 (participation) accepts an agency as subject",
                details={"field": "subject.agency_id"},
            )
        if cmd.personal is not None:
            raise InvalidInput(
                "personal: a case about an agency (person not yet identified) carries no "
                "personal data", details={"field": "personal"},
            )
    origin = CaseOrigin.outreach if cmd.program is Program.outreach else CaseOrigin.participation
    return [
        CaseOpened(case_id=case_id, subject=subject, origin=origin, opened_on=cmd.opened_on,
                   coordinator=agency_id, sex=cmd.sex, age_band=cmd.age_band,
                   personal=cmd.personal),
        EnrollmentStarted(case_id=case_id, enrollment_id=f"{case_id}-e1", program=cmd.program,
                          subject=subject, started_on=cmd.opened_on,
                          personal_reason=sealable(cmd.reason)),
        MemberJoined(case_id=case_id, agency_id=agency_id, joined_on=cmd.opened_on,
                     how=MembershipReason.opened),
    ]


def check_national_items(items: Mapping[str, str]) -> None:
    missing = [k for k in NATIONAL_ASSESSMENT_ITEMS if not items.get(k)]
    if missing:
        raise InvalidInput(
            f"national_items: required item(s) missing: {', '.join(missing)}",
            details={"field": "national_items", "missing": missing},
        )
    allowed = {**NATIONAL_ASSESSMENT_ITEMS, **OPTIONAL_ASSESSMENT_ITEMS}
    for key, value in items.items():
        if key not in allowed:
            raise InvalidInput(
                f"national_items.{key}: not an assessment item (known: {', '.join(allowed)})",
                details={"field": f"national_items.{key}"},
            )
        if value not in allowed[key]:
            # The value is not echoed: a typo'd field may hold free text about the person.
            raise InvalidInput(
                f"national_items.{key}: must be one of {', '.join(allowed[key])}",
                details={"field": f"national_items.{key}", "allowed": list(allowed[key])},
            )


def decide_assessment(
    state: CaseState, agency_id: str, assessment_id: str, cmd: RecordIntakeAssessment
) -> list[DomainEvent]:
    require_member(state, agency_id)
    require_open(state, "an intake assessment")
    not_before_opening(state, cmd.assessed_on, "assessed_on")
    check_national_items(cmd.national_items)
    if cmd.personal is None and cmd.attachment is None:
        raise InvalidInput(
            "personal: give the assessment text (personal.situation) or attach the "
            "agency's own assessment sheet (attachment)", details={"field": "personal"},
        )
    return [IntakeAssessmentRecorded(
        case_id=state.case_id, assessment_id=assessment_id, assessed_on=cmd.assessed_on,
        assessed_by=agency_id, national_items=dict(cmd.national_items), personal=cmd.personal,
        attachment=cmd.attachment,
    )]


def decide_draft_plan(
    state: CaseState, agency_id: str, new_plan_id: str, cmd: DraftPlan,
    consent: list[DomainEvent], today: date,
) -> list[DomainEvent]:
    require_member(state, agency_id)
    require_open(state, "a plan")
    not_before_opening(state, cmd.drafted_on, "drafted_on")
    if not state.assessments:
        raise DomainError(
            f"case {state.case_id!r} has no intake assessment yet: a plan is drafted after it",
            code="no_assessment",
        )
    if not (has_valid_consent(consent, cmd.drafted_on) and has_valid_consent(consent, today)):
        raise DomainError(
            f"case {state.case_id!r} has no valid consent (本人同意): without consent a case "
            "gets an intake assessment and a 支援会議, but no plan",
            code="no_consent", details={"case_id": state.case_id},
        )
    if not state.open_enrollments(cmd.program):
        raise DomainError(
            f"program: case {state.case_id!r} is not enrolled in {cmd.program.value}; "
            "a plan belongs to a program the case is enrolled in",
            code="not_enrolled", details={"field": "program"},
        )
    seen: set[str] = set()
    for i, role in enumerate(cmd.roles):
        if role.agency_id in seen:
            raise InvalidInput(f"roles[{i}].agency_id: {role.agency_id!r} has two roles; "
                               "give each agency one role", details={"field": f"roles.{i}"})
        seen.add(role.agency_id)
        if role.period_from and role.period_to and role.period_to < role.period_from:
            raise InvalidInput(f"roles[{i}].period_to is before period_from",
                               details={"field": f"roles.{i}.period_to"})
    if cmd.monitoring_on is not None:
        _not_before(cmd.monitoring_on, cmd.drafted_on, "monitoring_on", "drafted_on")
    version = 1
    plan_id = new_plan_id
    if cmd.plan_id is not None:
        latest = state.latest_version(cmd.plan_id)
        if latest is None:
            raise NotFound(f"plan_id: case {state.case_id!r} has no plan {cmd.plan_id!r}",
                           details={"field": "plan_id"})
        if latest.program is not cmd.program:
            raise InvalidInput(
                f"program: plan {cmd.plan_id!r} belongs to {latest.program.value}; a revision "
                "stays in its program", details={"field": "program"},
            )
        plan_id, version = cmd.plan_id, latest.version + 1
    return [PlanDrafted(
        case_id=state.case_id, plan_id=plan_id, version=version, program=cmd.program,
        drafted_by=agency_id, drafted_on=cmd.drafted_on, roles=cmd.roles,
        monitoring_on=cmd.monitoring_on, personal=cmd.personal,
    )]


def decide_monitoring(
    state: CaseState, agency_id: str, monitoring_id: str, cmd: RecordMonitoring
) -> list[DomainEvent]:
    require_member(state, agency_id)
    require_open(state, "monitoring")
    not_before_opening(state, cmd.recorded_on, "recorded_on")
    if cmd.program not in state.approved:
        raise DomainError(
            f"program: case {state.case_id!r} has no approved {cmd.program.value} plan; "
            "monitoring records the progress of an approved plan",
            code="no_approved_plan", details={"field": "program"},
        )
    if cmd.next_monitoring_on is not None:
        _not_before(cmd.next_monitoring_on, cmd.recorded_on, "next_monitoring_on", "recorded_on")
    return [MonitoringRecorded(
        case_id=state.case_id, monitoring_id=monitoring_id, program=cmd.program,
        recorded_on=cmd.recorded_on, recorded_by=agency_id,
        next_monitoring_on=cmd.next_monitoring_on, personal=cmd.personal,
    )]


def decide_start_enrollment(
    state: CaseState, agency_id: str, cmd: StartEnrollment
) -> list[DomainEvent]:
    require_member(state, agency_id)
    require_open(state, "an enrollment")
    not_before_opening(state, cmd.started_on, "started_on")
    subject = cmd.subject or state.subject
    assert subject is not None
    if (subject.person_id is None) == (subject.agency_id is None):
        raise InvalidInput("subject: give exactly one of person_id or agency_id",
                           details={"field": "subject"})
    if subject.agency_id is not None and cmd.program is not Program.participation:
        raise InvalidInput(
            "subject.agency_id: only 参加支援 (participation) accepts an agency as subject",
            details={"field": "subject.agency_id"},
        )
    for e in state.open_enrollments(cmd.program):
        if e.subject == subject:
            raise DomainError(
                f"program: the subject is already enrolled in {cmd.program.value} on this case "
                f"(enrollment {e.enrollment_id!r}, since {e.started_on.isoformat()})",
                code="already_enrolled", details={"enrollment_id": e.enrollment_id},
            )
    enrollment_id = f"{state.case_id}-e{len(state.enrollments) + 1}"
    return [EnrollmentStarted(
        case_id=state.case_id, enrollment_id=enrollment_id, program=cmd.program,
        subject=subject, started_on=cmd.started_on, personal_reason=sealable(cmd.reason),
    )]


def decide_end_enrollment(
    state: CaseState, agency_id: str, cmd: EndEnrollment
) -> list[DomainEvent]:
    require_member(state, agency_id)
    e = state.enrollments.get(cmd.enrollment_id)
    if e is None:
        raise NotFound(f"enrollment_id: case {state.case_id!r} has no enrollment "
                       f"{cmd.enrollment_id!r}", details={"field": "enrollment_id"})
    if e.ended_on is not None:
        raise DomainError(
            f"enrollment {e.enrollment_id!r} already ended on {e.ended_on.isoformat()}",
            code="already_ended",
        )
    _not_before(cmd.ended_on, e.started_on, "ended_on", "the enrollment's start")
    return [EnrollmentEnded(case_id=state.case_id, enrollment_id=e.enrollment_id,
                            program=e.program, ended_on=cmd.ended_on,
                            personal_reason=sealable(cmd.reason))]


def decide_invite(state: CaseState, agency_id: str, cmd: InviteMember) -> list[DomainEvent]:
    require_member(state, agency_id)
    require_open(state, "inviting a member")
    not_before_opening(state, cmd.joined_on, "joined_on")
    if cmd.agency_id in state.members:
        raise DomainError(f"agency_id: {cmd.agency_id!r} is already a member of case "
                          f"{state.case_id!r}", code="already_member",
                          details={"field": "agency_id"})
    return [MemberJoined(case_id=state.case_id, agency_id=cmd.agency_id,
                         joined_on=cmd.joined_on, how=MembershipReason.invitation)]


def decide_reopen(state: CaseState, agency_id: str, cmd: ReopenCase) -> list[DomainEvent]:
    require_member(state, agency_id)
    if state.status is Status.open:
        raise DomainError(f"case {state.case_id!r} is open; only a closed, suspended or "
                          "returned case can be reopened", code="case_open")
    if state.status_since is not None:
        _not_before(cmd.reopened_on, state.status_since, "reopened_on",
                    f"the case was {state.status.value}")
    events: list[DomainEvent] = [
        CaseReopened(case_id=state.case_id, reopened_on=cmd.reopened_on,
                     personal_reason=sealable(cmd.reason))
    ]
    # Closure and return ended the 多機関協働 enrollment; reopening starts a new one.
    if (state.status in (Status.closed, Status.returned) and state.subject is not None
            and not state.open_enrollments(Program.multi_agency)):
        events.append(EnrollmentStarted(
            case_id=state.case_id,
            enrollment_id=f"{state.case_id}-e{len(state.enrollments) + 1}",
            program=Program.multi_agency, subject=state.subject,
            started_on=cmd.reopened_on, personal_reason=sealable(cmd.reason),
        ))
    return events


def refuse_direct_decision(what: str) -> DomainError:
    return DomainError(
        f"{what} is a meeting decision: it happens only through a meeting "
        "(DecisionRecorded at a 重層的支援会議 or 支援会議), not by a direct command",
        code="only_through_meeting",
    )
