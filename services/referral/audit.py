"""What `tsunagu verify` asks of a referral's history: would the rules have let each event
in? Folds with the service's own ``evolve_referral`` (e.g. a referral triaged twice, or
withdrawn after triage)."""

from __future__ import annotations

from contracts.base import DomainEvent
from contracts.envelope import Envelope
from contracts.referral import ReferralSubmitted, ReferralTriaged, ReferralWithdrawn
from services.referral.domain import ReferralState, evolve_referral, world_date

AGGREGATE = "referral"
initial = ReferralState


def evolve(state: ReferralState, env: Envelope) -> ReferralState:
    return evolve_referral(state, env.event, world_date(env.occurred_at))


def forbidden(state: ReferralState, event: DomainEvent) -> str | None:
    """Why the rules forbid ``event`` after ``state`` (None: it is allowed)."""
    if isinstance(event, ReferralSubmitted):
        return f"referral {state.referral_id} was already submitted" if state.exists else None
    if not state.exists:
        return f"referral {state.referral_id} was never submitted"
    if isinstance(event, ReferralTriaged | ReferralWithdrawn):
        if state.triage is not None:
            return f"referral {state.referral_id} was already triaged on {state.triaged_on}"
        if state.withdrawn_on is not None:
            return f"referral {state.referral_id} was withdrawn on {state.withdrawn_on}"
    return None
