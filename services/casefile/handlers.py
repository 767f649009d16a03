"""Thin async command handlers: load what the decider needs, call it, return the events."""

from __future__ import annotations

from datetime import date
from uuid import NAMESPACE_URL, uuid5

from contracts.base import Command, DomainEvent
from contracts.commands_casefile import (
    ApprovePlan,
    AssignLeadAgency,
    CloseCase,
    DraftPlan,
    EndEnrollment,
    InviteMember,
    OpenCase,
    RecordIntakeAssessment,
    RecordMonitoring,
    ReopenCase,
    ReturnToComprehensive,
    StartEnrollment,
    SuspendCase,
)
from contracts.jst import JST
from contracts.person import was_erased
from eventstore import attachments
from eventstore.commands import Handler, Session, require_active_agency
from eventstore.errors import DomainError
from services.casefile import domain


def today(session: Session) -> date:
    """The municipality's date of writing the record (consent validity is by calendar day in
    Japan): personal data is written now, so consent must hold now as well as on the fact's
    own world date, which the deciders check separately."""
    return session.now.astimezone(JST).date()


def derived_id(prefix: str, session: Session) -> str:
    """Ids of new things derive from the command, so a retry lands on the same record."""
    name = f"{session.agency_id}/{session.command.command_id}"
    return f"{prefix}-{uuid5(NAMESPACE_URL, name).hex[:20]}"


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


async def open_case(session: Session, cmd: OpenCase) -> list[DomainEvent]:
    await require_active_agency(session, session.agency_id)
    if cmd.subject.agency_id is not None:
        await require_active_agency(session, cmd.subject.agency_id, role="subject.agency_id")
    case_id = derived_id("case", session)
    await session.load("case", case_id)
    return domain.decide_open(case_id, session.agency_id, cmd)


async def record_intake_assessment(
    session: Session, cmd: RecordIntakeAssessment
) -> list[DomainEvent]:
    await require_active_agency(session, session.agency_id)
    state = await load_case(session, cmd.case_id)
    await refuse_if_erased(session, state)
    if cmd.attachment is not None:
        await attachments.verify(session.store.nc, session.store.topology, cmd.attachment)
    return domain.decide_assessment(state, session.agency_id, derived_id("as", session), cmd)


async def draft_plan(session: Session, cmd: DraftPlan) -> list[DomainEvent]:
    await require_active_agency(session, session.agency_id)
    for i, role in enumerate(cmd.roles):
        await require_active_agency(session, role.agency_id, role=f"roles[{i}].agency_id")
    state = await load_case(session, cmd.case_id)
    await refuse_if_erased(session, state)
    consent = await consent_of(session, cmd.case_id)
    return domain.decide_draft_plan(
        state, session.agency_id, derived_id("plan", session), cmd, consent, today(session)
    )


async def record_monitoring(session: Session, cmd: RecordMonitoring) -> list[DomainEvent]:
    await require_active_agency(session, session.agency_id)
    state = await load_case(session, cmd.case_id)
    await refuse_if_erased(session, state)
    return domain.decide_monitoring(state, session.agency_id, derived_id("mon", session), cmd)


async def start_enrollment(session: Session, cmd: StartEnrollment) -> list[DomainEvent]:
    await require_active_agency(session, session.agency_id)
    if cmd.subject is not None and cmd.subject.agency_id is not None:
        await require_active_agency(session, cmd.subject.agency_id, role="subject.agency_id")
    state = await load_case(session, cmd.case_id)
    return domain.decide_start_enrollment(state, session.agency_id, cmd)


async def end_enrollment(session: Session, cmd: EndEnrollment) -> list[DomainEvent]:
    await require_active_agency(session, session.agency_id)
    state = await load_case(session, cmd.case_id)
    return domain.decide_end_enrollment(state, session.agency_id, cmd)


async def invite_member(session: Session, cmd: InviteMember) -> list[DomainEvent]:
    await require_active_agency(session, session.agency_id)
    await require_active_agency(session, cmd.agency_id, role="agency_id")
    state = await load_case(session, cmd.case_id)
    return domain.decide_invite(state, session.agency_id, cmd)


async def reopen_case(session: Session, cmd: ReopenCase) -> list[DomainEvent]:
    await require_active_agency(session, session.agency_id)
    state = await load_case(session, cmd.case_id)
    return domain.decide_reopen(state, session.agency_id, cmd)


def _refusal(what: str) -> Handler:
    async def refuse(session: Session, cmd: Command) -> list[DomainEvent]:
        raise domain.refuse_direct_decision(what)

    return refuse


COMMANDS: dict[str, tuple[type[Command], Handler]] = {
    "open_case": (OpenCase, open_case),
    "record_intake_assessment": (RecordIntakeAssessment, record_intake_assessment),
    "draft_plan": (DraftPlan, draft_plan),
    "record_monitoring": (RecordMonitoring, record_monitoring),
    "start_enrollment": (StartEnrollment, start_enrollment),
    "end_enrollment": (EndEnrollment, end_enrollment),
    "invite_case_member": (InviteMember, invite_member),
    "reopen_case": (ReopenCase, reopen_case),
    "approve_plan": (ApprovePlan, _refusal("approving a plan")),
    "close_case": (CloseCase, _refusal("closing a case (終結)")),
    "suspend_case": (SuspendCase, _refusal("suspending a case (中断)")),
    "assign_lead_agency": (AssignLeadAgency, _refusal("naming the lead agency (主担当)")),
    "return_to_comprehensive": (
        ReturnToComprehensive, _refusal("returning a case to 包括的相談支援"),
    ),
}
