"""Property-based: any sequence of referral, triage, application and consent commands, each
decided against the history the earlier accepted ones built, is either accepted (events that
fold cleanly) or refused with a domain error — never another exception — and the rules that
must always hold do (one triage, one application, a triaged referral never changes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.base import DomainEvent
from contracts.commands_referral import (
    ConsentScope,
    CorrectReferral,
    DecidePersonMatch,
    RecordApplication,
    RecordConsent,
    RecordConsentRefusal,
    SubmitReferral,
    TriageReferral,
    WithdrawConsent,
    WithdrawReferral,
)
from contracts.common import AgeBand, Concern, Sex
from contracts.consent import ConsentMethod, ConsentRecorded
from contracts.referral import (
    ContactRoute,
    ReferralPersonal,
    ReferralTriaged,
    TriageOutcome,
)
from eventstore.errors import DomainError
from services.referral import domain

TODAY = date(2025, 10, 1)
AGENCIES = ["hq", "city", "npo", "clinic"]
DATES = st.dates(TODAY - timedelta(days=400), TODAY + timedelta(days=30))
TEXT = st.sampled_from(["", " ", "相談の概要", "x" * 50])
#: The sheet allows a blank address or phone; the case opened from it must cope.
BLANK = st.sampled_from(["", "  "])
PERSONAL = st.builds(
    ReferralPersonal,
    name=st.none() | st.just("山田 花子"),
    birth_date=st.none() | st.dates(date(1920, 1, 1), TODAY + timedelta(days=10)),
    address=st.none() | st.just("市内1-2-3") | BLANK,
    phone=st.none() | st.just("090-0000-0000") | BLANK,
    summary=TEXT,
    contact_note=st.none() | TEXT,
)
SHEET: dict[str, Any] = dict(
    command_id=st.just("c"),
    contact_route=st.sampled_from(list(ContactRoute)),
    concerns=st.lists(st.sampled_from(list(Concern)), min_size=1, max_size=3).map(tuple),
    suspected_abuse=st.booleans(),
    sex=st.sampled_from(list(Sex)),
    age_band=st.sampled_from(list(AgeBand)),
    personal=PERSONAL,
)
SCOPE = dict(
    agencies=st.lists(st.sampled_from(AGENCIES), min_size=1, max_size=3).map(tuple),
    purposes=st.just(("支援調整",)),
    method=st.sampled_from(list(ConsentMethod)),
    given_on=DATES,
    valid_until=st.none() | DATES,
)
PAST = st.dates(TODAY - timedelta(days=300), TODAY)
GOOD_SHEET = {**SHEET, "contact_route": st.just(ContactRoute.phone),
              "suspected_abuse": st.just(False), "age_band": st.just(AgeBand.unknown),
              "personal": st.builds(ReferralPersonal, summary=st.just("相談の概要"),
                                    phone=st.just("090-0000-0000") | BLANK,
                                    address=st.none() | st.just("市内") | BLANK,
                                    contact_note=st.none() | st.just("日中は不在"))}
# Coherent triage decisions (outcome, assigned agency, reason), so that histories get past
# triage often; the random variants below exercise the refusals.
GOOD_TRIAGE = st.sampled_from([
    (TriageOutcome.complex, None, None), (TriageOutcome.ordinary, "city", None),
    (TriageOutcome.returned, None, "対象外"), (TriageOutcome.abuse_response, None, None),
])
GOOD_SCOPE = dict(SCOPE, given_on=PAST, valid_until=st.none())


def triage(choice: tuple[TriageOutcome, str | None, str | None]) -> TriageReferral:
    outcome, assigned, reason = choice
    return TriageReferral(command_id="c", referral_id="r1", outcome=outcome,
                          assigned_agency=assigned, reason=reason)


COMMANDS = st.one_of(
    st.builds(SubmitReferral, **SHEET),
    st.builds(SubmitReferral, **GOOD_SHEET),
    st.builds(CorrectReferral, referral_id=st.just("r1"), **SHEET),
    st.builds(WithdrawReferral, command_id=st.just("c"), referral_id=st.just("r1"),
              reason=st.just("重複")),
    st.builds(TriageReferral, command_id=st.just("c"), referral_id=st.just("r1"),
              outcome=st.sampled_from(list(TriageOutcome)), triaged_on=st.none() | DATES,
              assigned_agency=st.none() | st.sampled_from([*AGENCIES, "ghost"]),
              reason=st.none() | st.just("対象外")),
    GOOD_TRIAGE.map(triage),
    GOOD_TRIAGE.map(triage),
    st.builds(DecidePersonMatch, command_id=st.just("c"), referral_id=st.just("r1"),
              candidate_person_id=st.sampled_from(["p1", "p2", "p3"]),
              decision=st.sampled_from(["link", "separate"])),
    st.builds(RecordApplication, command_id=st.just("c"), case_id=st.just("k1"),
              applied_on=DATES, with_consent=st.booleans(),
              consent=st.none() | st.builds(ConsentScope, **SCOPE)),
    st.builds(RecordApplication, command_id=st.just("c"), case_id=st.just("k1"),
              applied_on=PAST, with_consent=st.just(True),
              consent=st.builds(ConsentScope, **GOOD_SCOPE)),
    st.builds(RecordConsent, command_id=st.just("c"), case_id=st.just("k1"), **SCOPE),
    st.builds(RecordConsent, command_id=st.just("c"), case_id=st.just("k1"), **GOOD_SCOPE),
    st.builds(WithdrawConsent, command_id=st.just("c"), case_id=st.just("k1"),
              consent_id=st.sampled_from(["cs0", "cs1", "cs2"]), withdrawn_on=DATES),
    st.builds(WithdrawConsent, command_id=st.just("c"), case_id=st.just("k1"),
              consent_id=st.sampled_from(["cs0", "cs1"]), withdrawn_on=st.just(TODAY)),
    st.builds(RecordConsentRefusal, command_id=st.just("c"), case_id=st.just("k1"),
              refused_on=DATES),
)
#: Mostly the coordinator (may triage) or the referring NPO; sometimes anyone.
ACTORS = st.sampled_from([("hq", True), ("hq", True), ("npo", False), ("npo", False),
                          ("city", False), ("clinic", True)])


@dataclass
class World:
    """The histories the deciders are given, built only from accepted events."""

    referral: list[tuple[DomainEvent, date]] = field(default_factory=list)
    case: list[DomainEvent] = field(default_factory=list)
    consents: int = 0


def decide(world: World, cmd: Any, actor: str, can_triage: bool) -> list[DomainEvent]:
    state = domain.fold_referral("r1", world.referral)
    case = domain.fold_case("k1", world.case)
    facts = domain.ConsentFacts(agency_id=actor, may_triage=can_triage, today=TODAY,
                                unknown_agencies=())
    if isinstance(cmd, SubmitReferral):
        return domain.decide_submit(cmd, state, agency_id=actor, person_id="p1", today=TODAY)
    if isinstance(cmd, CorrectReferral):
        return domain.decide_correct(cmd, state, agency_id=actor, today=TODAY)
    if isinstance(cmd, WithdrawReferral):
        return domain.decide_withdraw(cmd, state, agency_id=actor)
    if isinstance(cmd, TriageReferral):
        triage = domain.TriageFacts(
            agency_id=actor, allowed=can_triage, today=TODAY, route_abuse=True,
            assigned_active=None if cmd.assigned_agency is None
            else cmd.assigned_agency in AGENCIES,
            case_id="k1", case_is_empty=not world.case,
            personal=state.sheet.personal if state.sheet and isinstance(
                state.sheet.personal, ReferralPersonal) else None,  # as the handler unseals it
        )
        return domain.decide_triage(cmd, state, triage)
    if isinstance(cmd, DecidePersonMatch):
        return domain.decide_person_match(cmd, state, agency_id=actor, allowed=can_triage,
                                          candidate_known=cmd.candidate_person_id != "p3")
    consent_id = f"cs{world.consents}"
    if isinstance(cmd, RecordApplication):
        return domain.decide_application(cmd, case, world.case, facts, consent_id=consent_id)
    if isinstance(cmd, RecordConsent):
        return domain.decide_consent(cmd, case, facts, consent_id=consent_id)
    if isinstance(cmd, WithdrawConsent):
        return domain.decide_withdraw_consent(cmd, case, world.case, facts)
    assert isinstance(cmd, RecordConsentRefusal)
    return domain.decide_refusal(cmd, case, facts)


def accept(world: World, events: list[DomainEvent], on: date) -> None:
    for event in events:
        assert isinstance(event, DomainEvent)
        if event.aggregate == "referral":
            world.referral.append((event, on))
        else:  # the case the complex triage opened, and its consent history
            world.case.append(event)
            world.consents += isinstance(event, ConsentRecorded)
    domain.fold_referral("r1", world.referral)  # folds without raising
    domain.fold_case("k1", world.case)


STEPS = st.lists(st.tuples(COMMANDS, ACTORS, DATES), max_size=16)


#: First sheets: the blank phone and address the sheet allows reach the case it opens.
FIRST_SHEETS = st.sampled_from([
    ReferralPersonal(summary="相談", phone="090", address="市内"),
    ReferralPersonal(summary="相談", phone="", address="市内"),
    ReferralPersonal(summary="相談", phone=" ", address=" ", contact_note="日中は不在"),
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["nothing", "submitted", "case opened"]), FIRST_SHEETS, STEPS)
def test_referral_and_consent_deciders_refuse_only_with_domain_errors(start, sheet, steps):
    world = World()
    # Most runs start further along, so that later steps (consent …) are reached often.
    if start != "nothing":
        first = SubmitReferral(command_id="c", contact_route=ContactRoute.visit,
                               concerns=(Concern.housing,), personal=sheet)
        accept(world, decide(world, first, "npo", False), TODAY - timedelta(days=200))
    if start == "case opened":
        complex_ = triage((TriageOutcome.complex, None, None))
        accept(world, decide(world, complex_, "hq", True), TODAY - timedelta(days=190))
    for cmd, (actor, can_triage), on in steps:
        before = domain.fold_referral("r1", world.referral)
        settled = before.triage is not None or before.withdrawn_on is not None
        try:
            events = decide(world, cmd, actor, can_triage)
        except DomainError as exc:
            assert exc.message
            continue
        # A triaged or withdrawn referral never changes again.
        assert not (settled and any(e.aggregate == "referral" for e in events)), events
        accept(world, events, on)

    referral_events = [e for e, _ in world.referral]
    assert sum(isinstance(e, ReferralTriaged) for e in referral_events) <= 1
    assert sum(e.type == "ApplicationRecorded" for e in world.case) <= 1
    assert sum(e.type == "CaseOpened" for e in world.case) <= 1
    withdrawn = [getattr(e, "consent_id", None) for e in world.case
                 if e.type == "ConsentWithdrawn"]
    assert len(withdrawn) == len(set(withdrawn))  # a consent is withdrawn once
