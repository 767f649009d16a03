"""Thin async command handlers: load through the session, look up facts, call the decider."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from contracts.base import Command, DomainEvent
from contracts.commands_referral import (
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
from contracts.directory import (
    Agency,
    active_entry,
    agency_standing,
    inactive_agency,
    may_coordinate,
)
from contracts.referral import (
    ReferralCorrected,
    ReferralPersonal,
    ReferralSubmitted,
    TriageOutcome,
)
from eventstore import attachments
from eventstore.commands import Handler, Session, command_table
from eventstore.crypto import KeyRing, sealed_key_ids
from eventstore.db import in_thread
from eventstore.preconditions import refuse_unless
from eventstore.store import History
from services.referral import domain
from services.referral.projection import person_known
from services.referral.settings import ReferralSettings


@dataclass
class Deps:
    """What handlers need beyond the session; the runtime fills it in on start."""

    settings: ReferralSettings
    keyring: KeyRing | None = None
    engine: Engine | None = None


def today(session: Session) -> Any:
    return domain.world_date(session.world)


def events_of(history: History) -> list[DomainEvent]:
    return [env.event for env in history.envelopes]


def referral_state(referral_id: str, history: History) -> domain.ReferralState:
    return domain.fold_referral(
        referral_id,
        ((env.event, domain.world_date(env.occurred_at)) for env in history.envelopes),
    )


async def standing(session: Session, agency_id: str) -> Agency | None:
    return agency_standing(events_of(await session.load("agency", agency_id)))


def triager(deps: Deps, me: Agency) -> bool:
    return may_coordinate(me, deps.settings.triage_agencies)


async def _keyring(deps: Deps, session: Session) -> KeyRing:
    if deps.keyring is None:
        deps.keyring = await KeyRing.open(session.store.nc, session.store.topology)
    return deps.keyring


async def unsealed_personal(deps: Deps, session: Session,
                            sheet: ReferralSubmitted | ReferralCorrected | None
                            ) -> ReferralPersonal | None:
    """The sheet's personal block in plain form; None when unknown or erased."""
    if sheet is None:
        return None
    keyring = await _keyring(deps, session)
    await keyring.prefetch(sealed_key_ids(sheet))
    plain = keyring.unseal_event(sheet).personal
    return plain if isinstance(plain, ReferralPersonal) else None


# ---- referral ----------------------------------------------------------------------------


async def handle_submit_referral(
    deps: Deps, session: Session, cmd: SubmitReferral
) -> list[DomainEvent]:
    await refuse_unless(session, active_entry(session.agency_id))
    referral_id = domain.referral_id_for(session.agency_id, cmd.command_id)
    state = referral_state(referral_id, await session.load("referral", referral_id))
    if cmd.attachment is not None and not state.exists:
        await attachments.verify(session.store.nc, session.store.topology, cmd.attachment)
    return domain.decide_submit(
        cmd, state, agency_id=session.agency_id,
        person_id=domain.person_id_for(session.agency_id, cmd.command_id), today=today(session),
    )


async def handle_correct_referral(
    deps: Deps, session: Session, cmd: CorrectReferral
) -> list[DomainEvent]:
    await refuse_unless(session, active_entry(session.agency_id))
    state = referral_state(cmd.referral_id, await session.load("referral", cmd.referral_id))
    if cmd.attachment is not None and state.exists and (
        state.sheet is None or state.sheet.attachment != cmd.attachment
    ):
        await attachments.verify(session.store.nc, session.store.topology, cmd.attachment)
    return domain.decide_correct(cmd, state, agency_id=session.agency_id, today=today(session))


async def handle_withdraw_referral(
    deps: Deps, session: Session, cmd: WithdrawReferral
) -> list[DomainEvent]:
    await refuse_unless(session, active_entry(session.agency_id))
    state = referral_state(cmd.referral_id, await session.load("referral", cmd.referral_id))
    return domain.decide_withdraw(cmd, state, agency_id=session.agency_id)


async def handle_triage_referral(
    deps: Deps, session: Session, cmd: TriageReferral
) -> list[DomainEvent]:
    me = await refuse_unless(session, active_entry(session.agency_id))
    state = referral_state(cmd.referral_id, await session.load("referral", cmd.referral_id))
    case_id = domain.case_id_for(cmd.referral_id)
    case_is_empty, personal = True, None
    if cmd.outcome is TriageOutcome.complex and state.exists:
        case_is_empty = not (await session.load("case", case_id)).events
        personal = await unsealed_personal(deps, session, state.sheet)
    assigned_active = None
    if cmd.assigned_agency:
        assigned_active = inactive_agency(
            cmd.assigned_agency, await standing(session, cmd.assigned_agency)) is None
    if cmd.triaged_on is None:
        cmd = cmd.model_copy(
            update={"triaged_on": domain.world_date(session.world)}
        )
    facts = domain.TriageFacts(
        agency_id=session.agency_id,
        allowed=triager(deps, me),
        today=today(session), route_abuse=deps.settings.route_abuse,
        assigned_active=assigned_active, case_id=case_id, case_is_empty=case_is_empty,
        personal=personal,
    )
    return domain.decide_triage(cmd, state, facts)


async def handle_decide_person_match(
    deps: Deps, session: Session, cmd: DecidePersonMatch
) -> list[DomainEvent]:
    me = await refuse_unless(session, active_entry(session.agency_id))
    state = referral_state(cmd.referral_id, await session.load("referral", cmd.referral_id))
    known = False
    if deps.engine is not None:
        known = await in_thread(person_known, deps.engine, cmd.candidate_person_id)
    return domain.decide_person_match(
        cmd, state, agency_id=session.agency_id,
        allowed=triager(deps, me), candidate_known=known,
    )


# ---- application and consent -----------------------------------------------------------


async def _consent_facts(
    deps: Deps, session: Session, case_id: str, scope_agencies: tuple[str, ...] = ()
) -> tuple[domain.CaseFacts, History, domain.ConsentFacts]:
    me = await refuse_unless(session, active_entry(session.agency_id))
    case_history = await session.load("case", case_id)
    case = domain.fold_case(case_id, events_of(case_history))
    consent_history = await session.load("consent", case_id)
    unknown: list[str] = []
    for agency_id in dict.fromkeys(scope_agencies):
        if inactive_agency(agency_id, await standing(session, agency_id)) is not None:
            unknown.append(agency_id)
    facts = domain.ConsentFacts(
        agency_id=session.agency_id,
        may_triage=triager(deps, me),
        today=today(session), unknown_agencies=tuple(unknown),
    )
    return case, consent_history, facts


async def handle_record_application(
    deps: Deps, session: Session, cmd: RecordApplication
) -> list[DomainEvent]:
    scope = cmd.consent.agencies if cmd.consent else ()
    case, history, facts = await _consent_facts(deps, session, cmd.case_id, scope)
    return domain.decide_application(
        cmd, case, events_of(history), facts,
        consent_id=domain.consent_id_for(session.agency_id, cmd.command_id),
    )


async def handle_record_consent(
    deps: Deps, session: Session, cmd: RecordConsent
) -> list[DomainEvent]:
    case, history, facts = await _consent_facts(deps, session, cmd.case_id, cmd.agencies)
    return domain.decide_consent(
        cmd, case, facts, consent_id=domain.consent_id_for(session.agency_id, cmd.command_id),
        history=events_of(history),
    )


async def handle_name_consent_recorder(
    deps: Deps, session: Session, cmd: NameConsentRecorder
) -> list[DomainEvent]:
    case, history, facts = await _consent_facts(deps, session, cmd.case_id, (cmd.agency_id,))
    return domain.decide_name_consent_recorder(cmd, case, events_of(history), facts)


async def handle_withdraw_consent(
    deps: Deps, session: Session, cmd: WithdrawConsent
) -> list[DomainEvent]:
    case, history, facts = await _consent_facts(deps, session, cmd.case_id)
    return domain.decide_withdraw_consent(
        cmd, case, events_of(history), facts
    )


async def handle_record_consent_refusal(
    deps: Deps, session: Session, cmd: RecordConsentRefusal
) -> list[DomainEvent]:
    case, _, facts = await _consent_facts(deps, session, cmd.case_id)
    return domain.decide_refusal(cmd, case, facts)


def commands(deps: Deps) -> dict[str, tuple[type[Command], Handler]]:
    return command_table(
        deps,
        (SubmitReferral, handle_submit_referral),
        (CorrectReferral, handle_correct_referral),
        (WithdrawReferral, handle_withdraw_referral),
        (TriageReferral, handle_triage_referral),
        (DecidePersonMatch, handle_decide_person_match),
        (RecordApplication, handle_record_application),
        (RecordConsent, handle_record_consent),
        (NameConsentRecorder, handle_name_consent_recorder),
        (WithdrawConsent, handle_withdraw_consent),
        (RecordConsentRefusal, handle_record_consent_refusal),
    )
