"""What `tsunagu verify` asks of a case's history: would the rules have let each event in?

Folds with the service's own ``evolve`` and judges each event by the deciders' own checks
(``require_open`` …), so an event written around the deciders (a second CaseClosed without
a reopen between, an enrollment ended twice) is named with the rule it breaks.
"""

from __future__ import annotations

from contracts.base import DomainEvent
from contracts.case import (
    CaseClosed,
    CaseOpened,
    CaseReopened,
    CaseReturnedToComprehensive,
    CaseSuspended,
    EnrollmentEnded,
    EnrollmentStarted,
    IntakeAssessmentRecorded,
    LeadAgencyAssigned,
    MonitoringRecorded,
    PlanApproved,
    PlanDrafted,
)
from contracts.envelope import Envelope
from eventstore.errors import DomainError
from services.casefile.domain import CaseState, Status, require_open
from services.casefile.domain import evolve as _evolve

AGGREGATE = "case"
initial = CaseState


def evolve(state: CaseState, env: Envelope) -> CaseState:
    return _evolve(state, env.event)


def forbidden(state: CaseState, event: DomainEvent) -> str | None:
    """Why the rules forbid ``event`` after ``state`` (None: it is allowed)."""
    if isinstance(event, CaseOpened):
        return f"case {state.case_id} was already opened" if state.opened else None
    if not state.opened:
        return f"case {state.case_id} was never opened"
    try:
        _check(state, event)
    except DomainError as exc:
        return exc.message
    return None


def _check(state: CaseState, event: DomainEvent) -> None:
    match event:
        case CaseClosed() | CaseSuspended() | CaseReturnedToComprehensive():
            require_open(state, event.type)
        case IntakeAssessmentRecorded() | PlanDrafted() | MonitoringRecorded():
            require_open(state, event.type)
        case CaseReopened() if state.status is Status.open:
            raise DomainError(f"case {state.case_id} is open: only a closed, suspended or "
                              "returned case can be reopened")
        case EnrollmentStarted() if event.enrollment_id in state.enrollments:
            raise DomainError(f"enrollment {event.enrollment_id} was already started")
        case EnrollmentEnded():
            e = state.enrollments.get(event.enrollment_id)
            if e is None:
                raise DomainError(f"enrollment {event.enrollment_id} was never started")
            if e.ended_on is not None:
                raise DomainError(f"enrollment {e.enrollment_id} already ended on {e.ended_on}")
        case PlanApproved() | LeadAgencyAssigned() if event.decision_id in state.decisions:
            raise DomainError(f"decision {event.decision_id} was already applied")
        case PlanApproved() if (event.plan_id, event.version) not in state.plans:
            raise DomainError(f"plan {event.plan_id} v{event.version} was never drafted")
