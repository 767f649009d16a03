"""What a meeting's events do to a case, judged by the casefile alone (pure: no I/O).

The meeting service records a decision under the meeting's rules only (held, by its
convener, on an item of its agenda, answering an ask that kind of meeting may be asked,
naming a lead that is an active directory entry where one is needed), and tables a case
under them (which case may go to which meeting: rule 1's consent, a case not closed).
Whether the case can take it — an open case, the plan drafted, tabled at this meeting and
still the latest, consent on the day of an approval, a lead named — is judged here, once,
from the event (its ``meeting_kind``, plan, lead) and the case's own history: neither the
meeting's aggregate nor the directory is read (the recorded lead was judged when the
decision was made). What the case cannot take is recorded as ``DecisionNotApplied`` with a
``NotAppliedCode``; the meeting's convener hears either outcome on its feed
(``decision_applied`` / ``decision_not_applied``, docs/FEEDS.md).

``APPLY`` is the table: one small function per decision that changes the case.

Events stored without ``meeting_kind`` (it is optional) apply as well: a decision needs no
kind (an approval needs its plan tabled at this very meeting, and the case records a tabling
only for a 重層的支援会議); a tabling without one is not recorded (``meeting_kind_unknown``),
since only the kind says whether a plan may be tabled there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType

from contracts.base import DomainEvent
from contracts.case import (
    CaseClosed,
    CaseReturnedToComprehensive,
    CaseSuspended,
    DecisionNotApplied,
    EnrollmentEnded,
    LeadAgencyAssigned,
    MemberJoined,
    MembershipReason,
    NotAppliedCode,
    PlanApproved,
    PlanTabled,
)
from contracts.common import FreeText, Program, reason_of
from contracts.consent import has_valid_consent
from contracts.meeting import CaseTabled, Decision, DecisionRecorded, MeetingHeld, MeetingKind
from services.casefile.domain import CaseState, PlanVersion, Status

Code = NotAppliedCode


class NotApplied(Exception):
    """The case cannot take the meeting's event: recorded (DecisionNotApplied), not refused."""

    def __init__(self, code: NotAppliedCode, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


@dataclass(frozen=True)
class DecisionFacts:
    """What the reactor gathered besides the case: its consent history (an approval needs
    consent on the day of the decision). The lead's standing is not among them: the meeting
    judged it when it recorded the decision."""

    consent: tuple[DomainEvent, ...] = ()


Apply = Callable[[CaseState, DecisionRecorded, DecisionFacts], list[DomainEvent]]


def _not_applied(state: CaseState, meeting_id: str, decision_id: str, no: NotApplied
                 ) -> list[DomainEvent]:
    return [DecisionNotApplied(case_id=state.case_id, meeting_id=meeting_id,
                               decision_id=decision_id, reason=no.reason[:200], code=no.code)]


def _require_status(state: CaseState, allowed: tuple[Status, ...], what: str) -> None:
    if state.status not in allowed:
        raise NotApplied(Code.case_not_open, f"case is {state.status.value}; {what}")


def _why(d: DecisionRecorded) -> FreeText | None:
    # The meeting's reason is free text about the person: the case event seals it too.
    return FreeText(text=r) if (r := reason_of(d)) else None


def _join(state: CaseState, agency: str, on: date, how: MembershipReason) -> list[DomainEvent]:
    if agency in state.members:
        return []
    return [MemberJoined(case_id=state.case_id, agency_id=agency, joined_on=on, how=how)]


def _end_enrollments(state: CaseState, d: DecisionRecorded, program: Program | None,
                     reason: str) -> list[DomainEvent]:
    return [EnrollmentEnded(case_id=state.case_id, enrollment_id=e.enrollment_id,
                            program=e.program, ended_on=max(d.decided_on, e.started_on),
                            reason=reason)
            for e in state.open_enrollments(program)]


def _lead(d: DecisionRecorded, what: str = "") -> str:
    """The lead the decision names. Its standing (an active directory entry) is the
    meeting's to judge, once, when it records the decision (``check_lead``): the recorded
    lead was valid when made, so the directory is not read again here."""
    if d.lead_agency is None:  # never so since the meeting requires it; events stored before
        raise NotApplied(Code.no_lead_agency, f"the decision names no lead_agency{what}")
    return d.lead_agency


# ---- the table: one function per decision that changes the case -------------------------


def plan_to_approve(state: CaseState, d: DecisionRecorded) -> PlanVersion:
    """The plan version the decision approves: drafted, tabled at this meeting, the latest,
    not yet approved."""
    if d.plan_id is None:
        raise NotApplied(Code.no_plan, "the decision names no plan_id")
    latest = state.latest_version(d.plan_id)
    if latest is None:
        raise NotApplied(Code.plan_not_drafted, f"plan {d.plan_id} was never drafted on this case")
    version = d.plan_version or latest.version
    pv = state.plans.get((d.plan_id, version))
    if pv is None:
        raise NotApplied(Code.plan_not_drafted, f"plan {d.plan_id} has no version {version}")
    if d.meeting_id not in pv.tabled_at:
        raise NotApplied(Code.plan_not_tabled,
                         f"plan {d.plan_id} v{version} was never tabled at this meeting")
    if version != latest.version:
        raise NotApplied(Code.plan_superseded,
                         f"plan {d.plan_id} v{version} is superseded by v{latest.version}")
    if pv.approved:
        raise NotApplied(Code.plan_already_approved,
                         f"plan {d.plan_id} v{version} is already approved")
    return pv


def approve_plan(state: CaseState, d: DecisionRecorded, facts: DecisionFacts
                 ) -> list[DomainEvent]:
    _require_status(state, (Status.open,), "a plan is approved only on an open case")
    if d.meeting_kind not in (None, MeetingKind.support_plan):  # None: see the module doc
        raise NotApplied(Code.not_support_plan_meeting,
                         "a plan is approved only by a 重層的支援会議 (support_plan meeting)")
    pv = plan_to_approve(state, d)
    if not has_valid_consent(facts.consent, d.decided_on):
        raise NotApplied(Code.no_consent, "no valid consent on the day of the decision")
    approved: list[DomainEvent] = [PlanApproved(
        case_id=state.case_id, plan_id=pv.plan_id, version=pv.version, program=pv.program,
        meeting_id=d.meeting_id, decision_id=d.decision_id, approved_on=d.decided_on)]
    for agency in pv.roles:
        approved += _join(state, agency, d.decided_on, MembershipReason.plan_role)
    return approved


def assign_lead(state: CaseState, d: DecisionRecorded, facts: DecisionFacts
                ) -> list[DomainEvent]:
    _require_status(state, (Status.open,), "a lead is named only on an open case")
    lead = _lead(d)
    return [LeadAgencyAssigned(case_id=state.case_id, agency_id=lead, meeting_id=d.meeting_id,
                               decision_id=d.decision_id, assigned_on=d.decided_on),
            *_join(state, lead, d.decided_on, MembershipReason.meeting)]


def close(state: CaseState, d: DecisionRecorded, facts: DecisionFacts) -> list[DomainEvent]:
    if state.status is Status.closed:
        raise NotApplied(Code.already_closed, "case is already closed")
    return [CaseClosed(case_id=state.case_id, closed_on=d.decided_on, meeting_id=d.meeting_id,
                       decision_id=d.decision_id, personal_reason=_why(d)),
            *_end_enrollments(state, d, None, "case closed")]


def suspend(state: CaseState, d: DecisionRecorded, facts: DecisionFacts) -> list[DomainEvent]:
    _require_status(state, (Status.open,), "only an open case can be suspended")
    return [CaseSuspended(case_id=state.case_id, suspended_on=d.decided_on,
                          meeting_id=d.meeting_id, decision_id=d.decision_id,
                          personal_reason=_why(d))]


def return_to_comprehensive(state: CaseState, d: DecisionRecorded, facts: DecisionFacts
                            ) -> list[DomainEvent]:
    _require_status(state, (Status.open, Status.suspended),
                    "only an open or suspended case can return to 包括的相談支援")
    lead = _lead(d, " (the 包括 agency taking the lead)")
    return [CaseReturnedToComprehensive(
                case_id=state.case_id, lead_agency=lead, returned_on=d.decided_on,
                meeting_id=d.meeting_id, decision_id=d.decision_id, personal_reason=_why(d)),
            *_join(state, lead, d.decided_on, MembershipReason.meeting),
            *_end_enrollments(state, d, Program.multi_agency, "returned to 包括")]


#: Decisions that change the case; the others (evaluate, continue_support, reject_plan,
#: assign_roles, information_shared) leave it as it is.
APPLY: Mapping[Decision, Apply] = MappingProxyType({
    Decision.approve_plan: approve_plan,
    Decision.assign_lead: assign_lead,
    Decision.close: close,
    Decision.suspend: suspend,
    Decision.return_to_comprehensive: return_to_comprehensive,
})


def decide_decision(state: CaseState, d: DecisionRecorded, facts: DecisionFacts
                    ) -> list[DomainEvent]:
    """Apply a meeting's decision to the case, or record why it could not be applied."""
    apply = APPLY.get(d.decision)
    if apply is None or not state.opened or d.decision_id in state.decisions:
        return []
    try:
        return apply(state, d, facts)
    except NotApplied as no:
        return _not_applied(state, d.meeting_id, d.decision_id, no)


# ---- tabling and attendance -----------------------------------------------------------------


def _plan_tabled(state: CaseState, tabled: CaseTabled) -> PlanTabled:
    assert tabled.plan_id is not None
    _require_status(state, (Status.open,), "a plan can be tabled only on an open case")
    if tabled.meeting_kind is None:
        raise NotApplied(Code.meeting_kind_unknown,
                         "the tabling does not say the meeting's kind (stored before it did); "
                         "a plan is tabled only at a 重層的支援会議")
    if tabled.meeting_kind is not MeetingKind.support_plan:
        raise NotApplied(Code.not_support_plan_meeting,
                         "a plan is tabled only at a 重層的支援会議 (support_plan meeting)")
    version = tabled.plan_version
    if version is None:
        latest = state.latest_version(tabled.plan_id)
        version = latest.version if latest else None
    if version is None or (tabled.plan_id, version) not in state.plans:
        raise NotApplied(Code.plan_not_drafted, f"plan {tabled.plan_id} v{tabled.plan_version} "
                                                "was never drafted on this case")
    return PlanTabled(case_id=state.case_id, plan_id=tabled.plan_id, version=version,
                      meeting_id=tabled.meeting_id, item_id=tabled.item_id)


def decide_tabling(state: CaseState, tabled: CaseTabled) -> list[DomainEvent]:
    """CaseTabled with a plan to approve: record it on the case (or say why not). Which
    meeting the case may go to (rule 1: consent for a 重層的支援会議) was judged by the
    meeting when it tabled the case; here only what the tabling does to the case: a plan
    is tabled on an open case, at a 重層的支援会議 (the event's meeting_kind), if drafted."""
    if (tabled.plan_id is None or (tabled.meeting_id, tabled.item_id) in state.not_applied
            or not state.opened):
        return []  # no plan; judged before; or not a case this service knows
    if any(pid == tabled.plan_id and tabled.meeting_id in v.tabled_at
           for (pid, _), v in state.plans.items()):
        return []  # already recorded (a retry, or an imported history): judged then, not now
    try:
        return [_plan_tabled(state, tabled)]
    except NotApplied as no:
        return _not_applied(state, tabled.meeting_id, tabled.item_id, no)


def decide_attendance(state: CaseState, held: MeetingHeld) -> list[DomainEvent]:
    """Agencies that attended a meeting **for this case's item** join it (連携した機関);
    attending the meeting for other items joins nobody to this case."""
    if not state.opened or state.status is not Status.open:
        return []
    return [MemberJoined(case_id=state.case_id, agency_id=a, joined_on=held.held_on,
                         how=MembershipReason.meeting)
            for a in sorted(set(held.attended_for(state.case_id))) if a not in state.members]
