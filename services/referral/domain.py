"""Pure decisions of the referral service: fold histories into frozen state, decide events.

No I/O, no asyncio. Handlers load histories, verify what needs I/O (attachments, directory
entries), and pass plain facts in. Every refusal names the field and the rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from contracts.base import DomainEvent
from contracts.case import (
    CaseClosed,
    CaseOpened,
    CaseOrigin,
    CaseReopened,
    CaseReturnedToComprehensive,
    EnrollmentStarted,
    LeadAgencyAssigned,
    MemberJoined,
    MembershipReason,
    SubjectPersonal,
)
from contracts.commands_referral import (
    ConsentScope,
    CorrectReferral,
    DecidePersonMatch,
    NameConsentRecorder,
    RecordApplication,
    RecordConsent,
    RecordConsentRefusal,
    SubmitReferral,
    TriageReferral,
    WithdrawConsent,
    WithdrawReferral,
)
from contracts.common import (
    AgeBand,
    Program,
    SubjectRef,
    age_band_for_age,
    age_on,
    sealable,
)
from contracts.consent import (
    ApplicationRecorded,
    ConsentMethod,
    ConsentRecorded,
    ConsentRecorderNamed,
    ConsentRefused,
    ConsentText,
    ConsentWithdrawn,
    covers,
)
from contracts.ids import REFERRAL, derived_id
from contracts.jst import JST
from contracts.referral import (
    ContactRoute,
    PersonMatchDecided,
    ReferralCorrected,
    ReferralPersonal,
    ReferralSubmitted,
    ReferralTriaged,
    ReferralWithdrawn,
    TriageOutcome,
)
from eventstore.errors import DomainError, Forbidden, InvalidInput, NotFound


def world_date(moment: datetime) -> date:
    """World dates are Japanese dates."""
    return moment.astimezone(JST).date()


def referral_id_for(agency_id: str, command_id: str) -> str:
    return derived_id(REFERRAL, "ref", agency_id, command_id)


def person_id_for(agency_id: str, command_id: str) -> str:
    return derived_id(REFERRAL, "p", agency_id, command_id)


def case_id_for(referral_id: str) -> str:
    # One referral opens at most one case, so the case id follows from the referral.
    return derived_id(REFERRAL, "case", referral_id)


def enrollment_id_for(case_id: str) -> str:
    return derived_id(REFERRAL, "enr", case_id, "multi_agency")


def consent_id_for(agency_id: str, command_id: str) -> str:
    return derived_id(REFERRAL, "cons", agency_id, command_id)


def invalid(fld: str, rule: str, message: str, code: str = "invalid") -> InvalidInput:
    return InvalidInput(f"{fld}: {message}", code=code, details={"field": fld, "rule": rule})


# ---- the referral ----------------------------------------------------------------------


@dataclass(frozen=True)
class ReferralState:
    referral_id: str
    referring_agency: str = ""
    person_id: str = ""
    submitted_on: date | None = None
    sheet: ReferralSubmitted | ReferralCorrected | None = None
    withdrawn_on: date | None = None
    triage: ReferralTriaged | None = None
    triaged_on: date | None = None
    decided_candidates: frozenset[str] = field(default_factory=frozenset)

    @property
    def exists(self) -> bool:
        return self.sheet is not None


def evolve_referral(state: ReferralState, event: DomainEvent, on: date) -> ReferralState:
    """``on`` is the event's world date (from its envelope)."""
    if isinstance(event, ReferralSubmitted):
        return replace(
            state, referring_agency=event.referring_agency, person_id=event.person_id,
            submitted_on=on, sheet=event,
        )
    if isinstance(event, ReferralCorrected):
        return replace(state, sheet=event, person_id=event.person_id)
    if isinstance(event, ReferralWithdrawn):
        return replace(state, withdrawn_on=on)
    if isinstance(event, ReferralTriaged):
        return replace(state, triage=event, triaged_on=event.triaged_on or on)
    if isinstance(event, PersonMatchDecided):
        return replace(
            state, person_id=event.person_id,
            decided_candidates=state.decided_candidates | {event.candidate_person_id},
        )
    return state


def fold_referral(referral_id: str, dated: Iterable[tuple[DomainEvent, date]]) -> ReferralState:
    state = ReferralState(referral_id)
    for event, on in dated:
        state = evolve_referral(state, event, on)
    return state


def _check_sheet(cmd: SubmitReferral | CorrectReferral, today: date) -> AgeBand:
    """Rules of the つなぐシート; returns the age band to record."""
    p = cmd.personal
    if not p.summary.strip():
        raise invalid("personal.summary", "required", "the 相談の概要 (summary) must not be empty")
    if p.birth_date and p.birth_date > today:
        raise invalid(
            "personal.birth_date", "not_in_future",
            f"birth date {p.birth_date} is in the future (today is {today})",
        )
    for i, member in enumerate(p.household):
        if member.birth_date and member.birth_date > today:
            raise invalid(
                f"personal.household.{i}.birth_date", "not_in_future",
                f"birth date {member.birth_date} is in the future (today is {today})",
            )
    has_note = bool(p.contact_note and p.contact_note.strip())
    route = cmd.contact_route
    if route in (ContactRoute.not_reachable, ContactRoute.via_agency) and not has_note:
        raise invalid(
            "personal.contact_note", "required_for_route",
            f"say how to reach the person or why one cannot (contact_route is {route.value})",
        )
    if cmd.attachment is None and not has_note:
        # Without the agency's own sheet, the route must be usable from the fields given.
        if route is ContactRoute.phone and not p.phone:
            raise invalid("personal.phone", "required_for_route",
                          "contact_route is phone: give the phone number or a contact_note")
        if route is ContactRoute.visit and not p.address:
            raise invalid("personal.address", "required_for_route",
                          "contact_route is visit: give the address or a contact_note")
    if p.birth_date is None:
        return cmd.age_band
    derived = age_band_for_age(age_on(p.birth_date, today))
    if cmd.age_band not in (AgeBand.unknown, derived):
        raise invalid(
            "age_band", "matches_birth_date",
            f"age_band {cmd.age_band.value} contradicts the birth date ({derived.value})",
        )
    return derived


def decide_submit(
    cmd: SubmitReferral, state: ReferralState, *, agency_id: str, person_id: str, today: date
) -> list[DomainEvent]:
    if state.exists:
        raise DomainError(f"referral {state.referral_id} already exists", code="conflict")
    band = _check_sheet(cmd, today)
    return [
        ReferralSubmitted(
            referral_id=state.referral_id, person_id=person_id, referring_agency=agency_id,
            contact_route=cmd.contact_route, concerns=tuple(dict.fromkeys(cmd.concerns)),
            suspected_abuse=cmd.suspected_abuse, sex=cmd.sex, age_band=band,
            personal=cmd.personal, attachment=cmd.attachment,
        )
    ]


def _require_open_for_sender(state: ReferralState, agency_id: str, action: str) -> None:
    if not state.exists:
        raise NotFound(f"referral_id: no referral {state.referral_id}",
                       details={"field": "referral_id", "rule": "exists"})
    if state.referring_agency != agency_id:
        raise Forbidden(
            f"only the sending agency ({state.referring_agency}) may {action} referral "
            f"{state.referral_id}",
            details={"field": "referral_id", "rule": "sender_only"},
        )
    _require_pending(state)


def _require_pending(state: ReferralState) -> None:
    if state.triage is not None:
        raise DomainError(
            f"referral {state.referral_id} was already triaged ({state.triage.outcome.value}) "
            f"by {state.triage.triaged_by} on {state.triaged_on}; it cannot change any more",
            code="already_triaged",
            details={"field": "referral_id", "rule": "not_triaged"},
        )
    if state.withdrawn_on is not None:
        raise DomainError(
            f"referral {state.referral_id} was withdrawn by its sender on {state.withdrawn_on}",
            code="withdrawn", details={"field": "referral_id", "rule": "not_withdrawn"},
        )


def decide_correct(
    cmd: CorrectReferral, state: ReferralState, *, agency_id: str, today: date
) -> list[DomainEvent]:
    _require_open_for_sender(state, agency_id, "correct")
    band = _check_sheet(cmd, today)
    return [
        ReferralCorrected(
            referral_id=state.referral_id, person_id=state.person_id,
            contact_route=cmd.contact_route, concerns=tuple(dict.fromkeys(cmd.concerns)),
            suspected_abuse=cmd.suspected_abuse, sex=cmd.sex, age_band=band,
            personal=cmd.personal, attachment=cmd.attachment,
        )
    ]


def decide_withdraw(
    cmd: WithdrawReferral, state: ReferralState, *, agency_id: str
) -> list[DomainEvent]:
    _require_open_for_sender(state, agency_id, "withdraw")
    return [ReferralWithdrawn(referral_id=state.referral_id, person_id=state.person_id,
                              personal_reason=sealable(cmd.reason))]


def _require_triager(state: ReferralState, agency_id: str, allowed: bool) -> None:
    if not state.exists:
        raise NotFound(f"referral_id: no referral {state.referral_id}",
                       details={"field": "referral_id", "rule": "exists"})
    if not allowed:
        raise Forbidden(
            f"agency {agency_id!r} may not triage referrals (it is neither marked can_triage "
            "in the directory nor named in the triage_agencies setting)",
            details={"rule": "triage_agency"},
        )
    _require_pending(state)


@dataclass(frozen=True)
class TriageFacts:
    """What the handler looked up for a triage decision."""

    agency_id: str
    allowed: bool
    today: date
    route_abuse: bool
    assigned_active: bool | None  # None when no assigned agency was named
    case_id: str
    case_is_empty: bool
    personal: ReferralPersonal | None  # unsealed, None if unknown or erased


def decide_triage(
    cmd: TriageReferral, state: ReferralState, facts: TriageFacts
) -> list[DomainEvent]:
    _require_triager(state, facts.agency_id, facts.allowed)
    assert state.sheet is not None and state.submitted_on is not None
    on = cmd.triaged_on or facts.today
    if on > facts.today:
        raise invalid("triaged_on", "not_in_future", f"{on} is in the future")
    if on < state.submitted_on:
        raise invalid("triaged_on", "not_before_submission",
                      f"{on} is before the referral was submitted ({state.submitted_on})")
    outcome = cmd.outcome
    if state.sheet.suspected_abuse and facts.route_abuse and (
        outcome is not TriageOutcome.abuse_response
    ):
        raise DomainError(
            f"outcome: referral {state.referral_id} is flagged as suspected abuse; it may only "
            f"be triaged to abuse_response (the abuse-response process), not {outcome.value}",
            code="abuse_must_be_routed", details={"field": "outcome", "rule": "abuse_routing"},
        )
    if outcome is TriageOutcome.ordinary and not cmd.assigned_agency:
        raise invalid("assigned_agency", "required_for_ordinary",
                      "an ordinary (通常案件) triage hands the referral to a named agency")
    if outcome in (TriageOutcome.complex, TriageOutcome.returned) and cmd.assigned_agency:
        raise invalid("assigned_agency", "only_for_ordinary_or_abuse",
                      f"an agency is not assigned when the outcome is {outcome.value}")
    if cmd.assigned_agency and not facts.assigned_active:
        raise invalid("assigned_agency", "active_directory_entry",
                      f"{cmd.assigned_agency!r} is not an active entry of the agency directory",
                      code="unknown_agency")
    if outcome is TriageOutcome.returned and not cmd.reason:
        raise invalid("reason", "required_when_returned", "say why the referral is returned")
    triaged = ReferralTriaged(
        referral_id=state.referral_id, outcome=outcome, triaged_by=facts.agency_id,
        case_id=facts.case_id if outcome is TriageOutcome.complex else None,
        assigned_agency=cmd.assigned_agency, personal_reason=sealable(cmd.reason),
        person_id=state.person_id,
        triaged_on=on,
    )
    if outcome is not TriageOutcome.complex:
        return [triaged]
    if not facts.case_is_empty:
        raise DomainError(f"case {facts.case_id} already exists", code="conflict")
    return [triaged, *_open_case(state, facts, on)]


def _subject_personal(p: ReferralPersonal | None) -> SubjectPersonal | None:
    if p is None:
        return None
    # The case keeps a short address; the full one stays on the referral. The sheet allows a
    # blank address or phone, the case's fields do not (ShortText): blank is "not known".
    address = (p.address or "").strip()[:200] or None
    phone = (p.phone or "").strip() or None
    if not any((p.name, p.kana, p.birth_date, address, phone)):
        return None
    return SubjectPersonal(
        name=p.name, kana=p.kana, birth_date=p.birth_date, address=address, phone=phone,
    )


def _open_case(state: ReferralState, facts: TriageFacts, on: date) -> list[DomainEvent]:
    assert state.sheet is not None
    subject = SubjectRef(person_id=state.person_id)
    case_id = facts.case_id
    events: list[DomainEvent] = [
        CaseOpened(
            case_id=case_id, subject=subject, referral_id=state.referral_id,
            origin=CaseOrigin.triage, opened_on=on, coordinator=facts.agency_id,
            sex=state.sheet.sex, age_band=state.sheet.age_band,
            personal=_subject_personal(facts.personal),
        ),
        EnrollmentStarted(
            case_id=case_id, enrollment_id=enrollment_id_for(case_id),
            program=Program.multi_agency, subject=subject, started_on=on,
        ),
        MemberJoined(case_id=case_id, agency_id=state.referring_agency, joined_on=on,
                     how=MembershipReason.referral),
    ]
    if facts.agency_id != state.referring_agency:
        events.append(MemberJoined(case_id=case_id, agency_id=facts.agency_id, joined_on=on,
                                   how=MembershipReason.triage))
    return events


def decide_person_match(
    cmd: DecidePersonMatch, state: ReferralState, *, agency_id: str, allowed: bool,
    candidate_known: bool,
) -> list[DomainEvent]:
    _require_triager(state, agency_id, allowed)
    if cmd.candidate_person_id == state.person_id:
        raise invalid("candidate_person_id", "other_person",
                      "the candidate is already the referral's person")
    if cmd.candidate_person_id in state.decided_candidates:
        raise DomainError(
            f"candidate_person_id: a decision on {cmd.candidate_person_id} was already recorded "
            f"for referral {state.referral_id}",
            code="already_decided", details={"field": "candidate_person_id", "rule": "once"},
        )
    if not candidate_known:
        raise invalid("candidate_person_id", "known_person",
                      f"no person {cmd.candidate_person_id} is known to the referral service",
                      code="not_found")
    person = cmd.candidate_person_id if cmd.decision == "link" else state.person_id
    return [
        PersonMatchDecided(
            referral_id=state.referral_id, candidate_person_id=cmd.candidate_person_id,
            decision=cmd.decision, person_id=person,
        )
    ]


# ---- application and consent ---------------------------------------------------------


@dataclass(frozen=True)
class CaseFacts:
    case_id: str
    opened: bool = False
    person_id: str | None = None
    coordinator: str | None = None
    members: frozenset[str] = field(default_factory=frozenset)
    closed: bool = False
    lead: str | None = None


def fold_case(case_id: str, events: Iterable[DomainEvent]) -> CaseFacts:
    facts = CaseFacts(case_id)
    for e in events:
        if isinstance(e, CaseOpened):
            facts = replace(facts, opened=True, person_id=e.subject.person_id,
                            coordinator=e.coordinator,
                            members=facts.members | {e.coordinator})
        elif isinstance(e, MemberJoined):
            facts = replace(facts, members=facts.members | {e.agency_id})
        elif isinstance(e, CaseClosed):
            facts = replace(facts, closed=True)
        elif isinstance(e, CaseReopened):
            facts = replace(facts, closed=False)
        elif isinstance(e, LeadAgencyAssigned):
            facts = replace(facts, lead=e.agency_id, members=facts.members | {e.agency_id})
        elif isinstance(e, CaseReturnedToComprehensive):
            facts = replace(facts, lead=e.lead_agency,
                            members=facts.members | {e.lead_agency})
    return facts


def require_consent_reader(case: CaseFacts, agency_id: str) -> None:
    """Who is covered, for what and why is answered only to the case's members; any other
    agency gets the answer a case that does not exist gets (existence is not disclosed)."""
    if not case.opened or agency_id not in case.members:
        raise NotFound(f"case_id: no case {case.case_id} among the cases of agency "
                       f"{agency_id}", details={"field": "case_id", "rule": "case_member"})


@dataclass(frozen=True)
class ConsentFacts:
    """What the handler looked up for an application or consent command."""

    agency_id: str
    may_triage: bool
    today: date
    unknown_agencies: tuple[str, ...] = ()


def _require_case_actor(case: CaseFacts, facts: ConsentFacts) -> str:
    if not case.opened or not case.person_id:
        raise NotFound(f"case_id: no case {case.case_id} about a person",
                       details={"field": "case_id", "rule": "exists"})
    if facts.agency_id not in case.members and not facts.may_triage:
        raise Forbidden(
            f"agency {facts.agency_id!r} is not a member of case {case.case_id}; only its "
            "members and the coordinating agencies record applications and consent",
            details={"field": "case_id", "rule": "case_member"},
        )
    return case.person_id


def _named_by_lead(case: CaseFacts, history: Sequence[DomainEvent], agency_id: str) -> bool:
    return case.lead is not None and any(
        isinstance(e, ConsentRecorderNamed) and e.agency_id == agency_id
        and e.named_by == case.lead for e in history)


def _require_consent_recorder(
    case: CaseFacts, facts: ConsentFacts, history: Sequence[DomainEvent],
    agencies: Sequence[str],
) -> str:
    """Consent is recorded by the lead, the case's coordinator, a coordinating agency, or a
    member the current lead named; the last never widens coverage to itself. Any other
    member could otherwise put itself in a consent and see the person."""
    person_id = _require_case_actor(case, facts)
    me = facts.agency_id
    if facts.may_triage or me in (case.coordinator, case.lead):
        return person_id
    if _named_by_lead(case, history, me):
        if me not in agencies or covers(history, me, facts.today):
            return person_id
        raise Forbidden(
            f"agencies: {me} was named to record consent on case {case.case_id} but may not "
            "widen coverage to itself; the lead or the coordinating agency records that",
            code="widens_own_coverage", details={"field": "agencies", "rule": "not_self"})
    raise Forbidden(
        f"agency {me!r} may not record consent on case {case.case_id}: the lead "
        f"({case.lead or 'not named yet'}) or the coordinating agency ({case.coordinator}) "
        "records it, naming the agency and staff that obtained it (obtained_by), or a member "
        "the lead names (name_consent_recorder)",
        code="not_consent_recorder", details={"field": "case_id", "rule": "consent_recorder"},
    )


def decide_name_consent_recorder(
    cmd: NameConsentRecorder, case: CaseFacts, history: Sequence[DomainEvent],
    facts: ConsentFacts,
) -> list[DomainEvent]:
    """The lead names a member that may record the consents it obtains."""
    _require_case_actor(case, facts)
    if facts.agency_id != case.lead:
        raise Forbidden(
            f"only the lead agency ({case.lead or 'not named yet'}) of case {case.case_id} "
            "names who else records consent", code="not_lead",
            details={"field": "case_id", "rule": "lead_names"})
    if facts.unknown_agencies or cmd.agency_id not in case.members:
        raise invalid("agency_id", "case_member",
                      f"{cmd.agency_id} is not an active member of case {case.case_id}")
    if _named_by_lead(case, history, cmd.agency_id):
        raise DomainError(f"agency_id: {cmd.agency_id} is already named", code="already_named",
                          details={"field": "agency_id", "rule": "once"})
    return [ConsentRecorderNamed(case_id=case.case_id, agency_id=cmd.agency_id,
                                 named_by=facts.agency_id, named_on=facts.today)]


def _not_future(fld: str, on: date, today: date) -> None:
    if on > today:
        raise invalid(fld, "not_in_future", f"{on} is in the future (today is {today})")


def _obtained(
    case: CaseFacts, scope: ConsentScope | RecordConsent, facts: ConsentFacts,
    staff: str | None, prefix: str,
) -> tuple[str, str]:
    """Who obtained the consent (a member agency, a staff member) and that the signed form
    is referenced: the record says where the person's agreement can be checked."""
    agency = scope.obtained_by or facts.agency_id
    if agency != facts.agency_id and agency not in case.members:
        raise invalid(f"{prefix}obtained_by", "case_member",
                      f"{agency} is not a member of case {case.case_id}")
    who = scope.obtained_by_staff or staff
    if who is None:
        raise invalid(f"{prefix}obtained_by_staff", "required",
                      "name the staff member who obtained the consent")
    if scope.method is ConsentMethod.written and not scope.form_ref:
        raise invalid(f"{prefix}form_ref", "required_for_written",
                      "a written consent references its signed form (同意書)")
    return agency, who


def _consent(
    case: CaseFacts, person_id: str, consent_id: str, scope: ConsentScope | RecordConsent,
    facts: ConsentFacts, staff: str | None, prefix: str,
) -> ConsentRecorded:
    case_id = case.case_id
    obtained_by, obtained_by_staff = _obtained(case, scope, facts, staff, prefix)
    _not_future(f"{prefix}given_on", scope.given_on, facts.today)
    if scope.valid_until is not None and scope.valid_until < scope.given_on:
        raise invalid(f"{prefix}valid_until", "not_before_given_on",
                      f"{scope.valid_until} is before given_on ({scope.given_on})")
    if facts.unknown_agencies:
        names = ", ".join(facts.unknown_agencies)
        raise invalid(f"{prefix}agencies", "active_directory_entries",
                      f"not active entries of the agency directory: {names}",
                      code="unknown_agency")
    return ConsentRecorded(
        case_id=case_id, consent_id=consent_id, person_id=person_id,
        agencies=tuple(dict.fromkeys(scope.agencies)), method=scope.method,
        obtained_by=obtained_by, given_on=scope.given_on, valid_until=scope.valid_until,
        personal=ConsentText(purposes=tuple(scope.purposes),
                             obtained_by_staff=obtained_by_staff, form_ref=scope.form_ref),
    )


def decide_application(
    cmd: RecordApplication, case: CaseFacts, history: Sequence[DomainEvent],
    facts: ConsentFacts, *, consent_id: str,
) -> list[DomainEvent]:
    if cmd.consent is not None:
        person_id = _require_consent_recorder(case, facts, history, cmd.consent.agencies)
    else:
        person_id = _require_case_actor(case, facts)
    _not_future("applied_on", cmd.applied_on, facts.today)
    earlier = [e for e in history if isinstance(e, ApplicationRecorded)]
    if earlier:
        raise DomainError(
            f"case {case.case_id} already has its application (利用申込書) of "
            f"{earlier[0].applied_on}; record a later consent with record_consent",
            code="already_recorded", details={"field": "case_id", "rule": "one_application"},
        )
    if cmd.with_consent and cmd.consent is None:
        raise invalid("consent", "required_with_consent",
                      "with_consent is true: give the consent's scope (agencies, purposes, "
                      "method, given_on)")
    if not cmd.with_consent and cmd.consent is not None:
        raise invalid("consent", "only_with_consent", "with_consent is false but a consent "
                      "scope was given")
    events: list[DomainEvent] = [
        ApplicationRecorded(case_id=case.case_id, person_id=person_id,
                            applied_on=cmd.applied_on, with_consent=cmd.with_consent)
    ]
    if cmd.consent is not None:
        events.append(_consent(case, person_id, consent_id, cmd.consent, facts,
                               cmd.staff, "consent."))
    return events


def decide_consent(
    cmd: RecordConsent, case: CaseFacts, facts: ConsentFacts, *, consent_id: str,
    history: Sequence[DomainEvent] = (),
) -> list[DomainEvent]:
    person_id = _require_consent_recorder(case, facts, history, cmd.agencies)
    return [_consent(case, person_id, consent_id, cmd, facts, cmd.staff, "")]


def decide_withdraw_consent(
    cmd: WithdrawConsent, case: CaseFacts, history: Sequence[DomainEvent], facts: ConsentFacts
) -> list[DomainEvent]:
    _require_case_actor(case, facts)
    recorded = [e for e in history
                if isinstance(e, ConsentRecorded) and e.consent_id == cmd.consent_id]
    if not recorded:
        raise NotFound(f"consent_id: case {case.case_id} has no consent {cmd.consent_id}",
                       details={"field": "consent_id", "rule": "exists"})
    done = [e for e in history
            if isinstance(e, ConsentWithdrawn) and e.consent_id == cmd.consent_id]
    if done:
        raise DomainError(
            f"consent_id: consent {cmd.consent_id} was already withdrawn on "
            f"{done[0].withdrawn_on}", code="already_withdrawn",
            details={"field": "consent_id", "rule": "withdrawn_once"},
        )
    _not_future("withdrawn_on", cmd.withdrawn_on, facts.today)
    if cmd.withdrawn_on < recorded[0].given_on:
        raise invalid("withdrawn_on", "not_before_given_on",
                      f"{cmd.withdrawn_on} is before the consent was given "
                      f"({recorded[0].given_on})")
    return [ConsentWithdrawn(case_id=case.case_id, consent_id=cmd.consent_id,
                             withdrawn_on=cmd.withdrawn_on, personal_reason=sealable(cmd.reason))]


def decide_refusal(
    cmd: RecordConsentRefusal, case: CaseFacts, facts: ConsentFacts
) -> list[DomainEvent]:
    person_id = _require_case_actor(case, facts)
    _not_future("refused_on", cmd.refused_on, facts.today)
    return [ConsentRefused(case_id=case.case_id, person_id=person_id,
                           refused_on=cmd.refused_on, personal_reason=sealable(cmd.reason))]

