"""Which decisions answer which asks, and what each kind of meeting may be asked (pure)."""

from __future__ import annotations

from collections.abc import Iterable

from contracts.meeting import Ask, Decision, MeetingKind

#: A decision answers an ask when it is one of that ask's possible outcomes.
ANSWERS: dict[Ask, frozenset[Decision]] = {
    Ask.approve_plan: frozenset({Decision.approve_plan, Decision.reject_plan}),
    Ask.evaluate: frozenset(
        {Decision.evaluate, Decision.continue_support, Decision.close, Decision.suspend}
    ),
    Ask.close: frozenset({Decision.close, Decision.continue_support}),
    Ask.suspend: frozenset({Decision.suspend, Decision.continue_support}),
    Ask.return_to_comprehensive: frozenset(
        {Decision.return_to_comprehensive, Decision.continue_support}
    ),
    Ask.assign_lead: frozenset({Decision.assign_lead}),
    Ask.assign_roles: frozenset({Decision.assign_roles}),
    Ask.share_information: frozenset({Decision.information_shared, Decision.continue_support}),
}

#: Rule 2: without consent there is no plan, so a 支援会議 never approves one.
NOT_AT_CONFIDENTIAL: frozenset[Ask] = frozenset({Ask.approve_plan})

#: Decisions that name the agency that leads from now on.
NEEDS_LEAD: frozenset[Decision] = frozenset(
    {Decision.assign_lead, Decision.return_to_comprehensive}
)


def ask_answered_by(
    asks: Iterable[Ask], answered: Iterable[Ask], decision: Decision
) -> Ask | None:
    """The first ask of the item, not yet answered, that ``decision`` answers."""
    done = set(answered)
    return next((a for a in asks if a not in done and decision in ANSWERS[a]), None)


def asks_allowed(kind: MeetingKind) -> frozenset[Ask]:
    return frozenset(Ask) - (NOT_AT_CONFIDENTIAL if kind is MeetingKind.confidential else set())
