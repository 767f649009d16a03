"""What `tsunagu verify` asks of a meeting's history: would the rules have let each event
in? Folds with the service's own ``evolve`` and judges by the deciders' ``require_open`` /
``require_held`` (e.g. a meeting held twice, a decision before the meeting was held)."""

from __future__ import annotations

from contracts.base import DomainEvent
from contracts.envelope import Envelope
from contracts.meeting import (
    CaseTabled,
    DecisionRecorded,
    MeetingCancelled,
    MeetingHeld,
    MeetingRescheduled,
    MeetingScheduled,
    MemberInvited,
)
from eventstore.errors import DomainError
from services.meeting.domain import require_held, require_open
from services.meeting.recurrence import local_date
from services.meeting.state import Meeting
from services.meeting.state import evolve as _evolve

AGGREGATE = "meeting"
initial = Meeting


def evolve(m: Meeting, env: Envelope) -> Meeting:
    return _evolve(m, env.event, local_date(env.occurred_at))


def forbidden(m: Meeting, event: DomainEvent) -> str | None:
    """Why the rules forbid ``event`` after ``m`` (None: it is allowed)."""
    if isinstance(event, MeetingScheduled):
        return f"meeting {m.meeting_id} was already scheduled" if m.exists else None
    if not m.exists:
        return f"meeting {m.meeting_id} was never scheduled"
    try:
        if isinstance(event, MeetingHeld | MeetingCancelled | MeetingRescheduled | CaseTabled
                      | MemberInvited):
            require_open(m)
        elif isinstance(event, DecisionRecorded):
            require_held(m)
            if event.decision_id in m.decisions:
                raise DomainError(f"decision {event.decision_id} was already recorded")
    except DomainError as exc:
        return exc.message
    return None
