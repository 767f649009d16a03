"""Thin async command handlers: load what the decider needs, call it, return the events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from contracts.base import Command, DomainEvent
from contracts.commands_casefile import (
    ApprovePlan,
    AssignLeadAgency,
    CloseCase,
    DraftPlan,
    EndEnrollment,
    ErasePersonData,
    InviteMember,
    OpenCase,
    RecordIntakeAssessment,
    RecordMonitoring,
    ReopenCase,
    ReturnToComprehensive,
    StartEnrollment,
    SuspendCase,
)
from contracts.directory import active_entry
from contracts.ids import CASEFILE, derived_id
from contracts.jst import JST
from contracts.person import was_erased
from eventstore import attachments
from eventstore.commands import Handler, ServiceHandler, Session, command_table
from eventstore.errors import DomainError
from eventstore.preconditions import refuse_unless
from services.casefile import domain
from services.casefile.erasure import handle_erase_person_data


def today(session: Session) -> date:
    """The municipality's date of writing the record (consent validity is by calendar day in
    Japan): personal data is written now, so consent must hold now as well as on the fact's
    own world date, which the deciders check separately."""
    return session.now.astimezone(JST).date()


@dataclass(frozen=True)
class Deps:
    """What the handlers need beyond the session: nothing yet (attachments are checked
    through the session's connection)."""


def new_id(prefix: str, session: Session) -> str:
    """Ids of new things derive from the command, so a retry lands on the same record."""
    return derived_id(CASEFILE, prefix, session.agency_id, session.command.command_id)


async def load_case(session: Session, case_id: str) -> domain.CaseState:
    history = await session.load("case", case_id)
    return domain.fold(case_id, (e.event for e in history.envelopes))


async def consent_of(session: Session, case_id: str) -> list[DomainEvent]:
    return [e.event for e in (await session.load("consent", case_id)).envelopes]


async def refuse_if_erased(session: Session, state: domain.CaseState) -> None:
    """Nothing personal is written about a person whose data was erased."""
    if state.person_id is None:
        return
    person = await session.load("person", state.person_id)
    if was_erased(e.event for e in person.envelopes):
        raise DomainError(
            f"case {state.case_id!r}: the person's personal data was erased; no new personal "
            "records can be added", code="person_erased",
        )


async def handle_open_case(deps: Deps, session: Session, cmd: OpenCase) -> list[DomainEvent]:
    await refuse_unless(session, active_entry(session.agency_id))
    if cmd.subject.agency_id is not None:
        await refuse_unless(session, active_entry(cmd.subject.agency_id, "subject.agency_id"))
    case_id = new_id("case", session)
    await session.load("case", case_id)
    return domain.decide_open(case_id, session.agency_id, cmd)


async def handle_record_intake_assessment(
    deps: Deps, session: Session, cmd: RecordIntakeAssessment
) -> list[DomainEvent]:
    await refuse_unless(session, active_entry(session.agency_id))
    state = await load_case(session, cmd.case_id)
    await refuse_if_erased(session, state)
    if cmd.attachment is not None:
        await attachments.verify(session.store.nc, session.store.topology, cmd.attachment)
    return domain.decide_assessment(state, session.agency_id, new_id("as", session), cmd)


async def handle_draft_plan(deps: Deps, session: Session, cmd: DraftPlan) -> list[DomainEvent]:
    await refuse_unless(session, active_entry(session.agency_id))
    for i, role in enumerate(cmd.roles):
        await refuse_unless(session, active_entry(role.agency_id, f"roles[{i}].agency_id"))
    state = await load_case(session, cmd.case_id)
    await refuse_if_erased(session, state)
    consent = await consent_of(session, cmd.case_id)
    return domain.decide_draft_plan(
        state, session.agency_id, new_id("plan", session), cmd, consent, today(session)
    )


async def handle_record_monitoring(
    deps: Deps, session: Session, cmd: RecordMonitoring
) -> list[DomainEvent]:
    await refuse_unless(session, active_entry(session.agency_id))
    state = await load_case(session, cmd.case_id)
    await refuse_if_erased(session, state)
    return domain.decide_monitoring(state, session.agency_id, new_id("mon", session), cmd)


async def handle_start_enrollment(
    deps: Deps, session: Session, cmd: StartEnrollment
) -> list[DomainEvent]:
    await refuse_unless(session, active_entry(session.agency_id))
    if cmd.subject is not None and cmd.subject.agency_id is not None:
        await refuse_unless(session, active_entry(cmd.subject.agency_id, "subject.agency_id"))
    state = await load_case(session, cmd.case_id)
    return domain.decide_start_enrollment(state, session.agency_id, cmd)


async def handle_end_enrollment(
    deps: Deps, session: Session, cmd: EndEnrollment
) -> list[DomainEvent]:
    await refuse_unless(session, active_entry(session.agency_id))
    state = await load_case(session, cmd.case_id)
    return domain.decide_end_enrollment(state, session.agency_id, cmd)


async def handle_invite_case_member(
    deps: Deps, session: Session, cmd: InviteMember
) -> list[DomainEvent]:
    await refuse_unless(session, active_entry(session.agency_id))
    await refuse_unless(session, active_entry(cmd.agency_id, "agency_id"))
    state = await load_case(session, cmd.case_id)
    return domain.decide_invite(state, session.agency_id, cmd)


async def handle_reopen_case(deps: Deps, session: Session, cmd: ReopenCase) -> list[DomainEvent]:
    await refuse_unless(session, active_entry(session.agency_id))
    state = await load_case(session, cmd.case_id)
    return domain.decide_reopen(state, session.agency_id, cmd)


def _refusal(what: str) -> ServiceHandler[Deps]:
    async def refuse(deps: Deps, session: Session, cmd: Command) -> list[DomainEvent]:
        raise domain.refuse_direct_decision(what)

    return refuse


def commands(deps: Deps) -> dict[str, tuple[type[Command], Handler]]:
    return command_table(
        deps,
        (OpenCase, handle_open_case),
        (RecordIntakeAssessment, handle_record_intake_assessment),
        (DraftPlan, handle_draft_plan),
        (RecordMonitoring, handle_record_monitoring),
        (StartEnrollment, handle_start_enrollment),
        (EndEnrollment, handle_end_enrollment),
        (InviteMember, handle_invite_case_member),
        (ReopenCase, handle_reopen_case),
        (ErasePersonData, handle_erase_person_data),
        (ApprovePlan, _refusal("approving a plan")),
        (CloseCase, _refusal("closing a case (終結)")),
        (SuspendCase, _refusal("suspending a case (中断)")),
        (AssignLeadAgency, _refusal("naming the lead agency (主担当)")),
        (ReturnToComprehensive, _refusal("returning a case to 包括的相談支援")),
    )
