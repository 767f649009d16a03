"""Thin async command handlers: load through the session, fold, call the pure decider.

Every aggregate a command appends to is loaded before the decider runs (also the next
occurrence of a 定例), so a retried command finds all its own events and gets the original
reply, even when the decider would now refuse it (e.g. "already held").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts.base import Command, DomainEvent
from contracts.case import CaseOpened
from contracts.commands_meeting import (
    AcknowledgeConfidentiality,
    CancelMeeting,
    EndMeetingSeries,
    InviteMember,
    MoveCaseToSupportPlanMeeting,
    RecordDecision,
    RecordMeetingHeld,
    RecordMinutes,
    RecordResourceGap,
    RescheduleMeeting,
    ScheduleMeeting,
    ShareMaterial,
    StartMeetingSeries,
    TableCase,
)
from contracts.consent import has_valid_consent
from contracts.directory import active_entry
from contracts.person import was_erased
from eventstore import attachments
from eventstore.commands import Handler, Session, command_table
from eventstore.errors import DomainError
from eventstore.preconditions import refuse_unless
from services.meeting import domain
from services.meeting.recurrence import local_date, occurrence_id
from services.meeting.state import (
    Agency,
    Case,
    Meeting,
    Series,
    fold_agency,
    fold_case,
    fold_meeting,
    fold_series,
)


async def load_meeting(session: Session, meeting_id: str) -> Meeting:
    history = await session.load("meeting", meeting_id)
    return fold_meeting(meeting_id, history.envelopes)


async def load_series(session: Session, series_id: str) -> Series:
    history = await session.load("meeting_series", series_id)
    return fold_series(series_id, (e.event for e in history.envelopes))


async def load_case(session: Session, case_id: str) -> Case:
    history = await session.load("case", case_id)
    return fold_case(case_id, (e.event for e in history.envelopes))


async def meeting_for(session: Session, meeting_id: str) -> Meeting:
    """The meeting a command is about, once the sender is an active directory entry. Loaded
    before the sender is judged: a retry of a command that succeeded is recognised in the
    loaded history even if the sender was retired since (the executor looks there when the
    handler refuses)."""
    meeting = await load_meeting(session, meeting_id)
    await refuse_unless(session, active_entry(session.agency_id))
    return meeting


async def load_agency(session: Session, agency_id: str,
                      coordinators: frozenset[str] = frozenset()) -> Agency:
    history = await session.load("agency", agency_id)
    return fold_agency(agency_id, (e.event for e in history.envelopes), coordinators)


async def consented(session: Session, case_id: str, on: Any) -> bool:
    """The shared definition of consent coverage (contracts.consent), on the given day."""
    history = await session.load("consent", case_id)
    return has_valid_consent((e.event for e in history.envelopes), on)


async def refuse_if_erased(session: Session, meeting: Meeting, item_id: str | None) -> None:
    """Nothing personal is added to the item of a person whose data was erased (it would be
    sealed with their case's key, which is destroyed; a copy still cached must not do)."""
    item = meeting.item(item_id) if item_id else None
    if item is None:
        return
    history = await session.load("case", item.case_id)
    opened = next((e.event for e in history.envelopes if isinstance(e.event, CaseOpened)), None)
    person_id = opened.subject.person_id if opened is not None else None
    if person_id is None:
        return
    person = await session.load("person", person_id)
    if was_erased(e.event for e in person.envelopes):
        raise DomainError(
            f"item_id: the personal data of case {item.case_id}'s person was erased; nothing "
            f"personal can be added to item {item.item_id}", code="person_erased",
            details={"field": "item_id"},
        )


@dataclass(frozen=True)
class Deps:
    #: Agencies that may convene besides directory entries with can_triage (settings).
    coordinators: frozenset[str] = frozenset()


async def _coordinator(deps: Deps, session: Session) -> str:
    await refuse_unless(session, active_entry(session.agency_id))
    domain.require_coordinator(await load_agency(session, session.agency_id, deps.coordinators))
    return session.agency_id


async def _members(session: Session, ids: tuple[str, ...], field: str) -> None:
    for agency_id in ids:
        domain.require_active(await load_agency(session, agency_id), field)


async def _then_next(session: Session, meeting: Meeting) -> list[DomainEvent]:
    """定例: once an occurrence is held or cancelled, the next one is scheduled."""
    if not meeting.regular or meeting.series_id is None:
        return []
    series = await load_series(session, meeting.series_id)
    slot = domain.next_in_series(series, meeting, session.now)
    if slot is None:
        return []
    target = await load_meeting(session, slot[0])
    return domain.schedule_next(series, slot, target)


async def handle_schedule_meeting(
    deps: Deps, session: Session, cmd: ScheduleMeeting
) -> list[DomainEvent]:
    meeting_id = domain.derived_id("mtg", session.agency_id, cmd.command_id)
    meeting = await load_meeting(session, meeting_id)
    convener = await _coordinator(deps, session)
    await _members(session, cmd.members, "members")
    return domain.schedule(cmd, meeting, convener, session.world)


async def handle_start_meeting_series(
    deps: Deps, session: Session, cmd: StartMeetingSeries
) -> list[DomainEvent]:
    series_id = domain.derived_id("ser", session.agency_id, cmd.command_id)
    series = await load_series(session, series_id)
    if series.started and series.first_meeting_id:  # a retry: its own first occurrence
        await load_meeting(session, series.first_meeting_id)
        when = session.world
    else:
        when = domain.first_occurrence(cmd, session.world)
    first = await load_meeting(session, occurrence_id(series.series_id, when))
    convener = await _coordinator(deps, session)
    await _members(session, cmd.members, "members")
    return domain.start_series(cmd, series, first, convener, session.world, when)


async def handle_end_meeting_series(
    deps: Deps, session: Session, cmd: EndMeetingSeries
) -> list[DomainEvent]:
    series = await load_series(session, cmd.series_id)
    await refuse_unless(session, active_entry(session.agency_id))
    return domain.end_series(cmd, series, session.agency_id, session.world)


async def handle_reschedule_meeting(
    deps: Deps, session: Session, cmd: RescheduleMeeting
) -> list[DomainEvent]:
    meeting = await meeting_for(session, cmd.meeting_id)
    return domain.reschedule(cmd, meeting, session.agency_id, session.world)


async def handle_cancel_meeting(
    deps: Deps, session: Session, cmd: CancelMeeting
) -> list[DomainEvent]:
    meeting = await meeting_for(session, cmd.meeting_id)
    following = await _then_next(session, meeting)  # loaded first: see module doc
    return domain.cancel(cmd, meeting, session.agency_id) + following


async def handle_invite_member(
    deps: Deps, session: Session, cmd: InviteMember
) -> list[DomainEvent]:
    meeting = await meeting_for(session, cmd.meeting_id)
    invitee = await load_agency(session, cmd.agency_id) if cmd.agency_id else None
    return domain.invite(cmd, meeting, session.agency_id, invitee)


async def handle_acknowledge_confidentiality(
    deps: Deps, session: Session, cmd: AcknowledgeConfidentiality
) -> list[DomainEvent]:
    meeting = await meeting_for(session, cmd.meeting_id)
    return domain.acknowledge(cmd, meeting, session.agency_id, local_date(session.world),
                              cmd.staff)


async def handle_table_case(deps: Deps, session: Session, cmd: TableCase) -> list[DomainEvent]:
    meeting = await meeting_for(session, cmd.meeting_id)
    domain.require_open(meeting)
    case = await load_case(session, cmd.case_id)
    ok = await consented(session, cmd.case_id, meeting.meeting_date)
    return domain.table(cmd, meeting, session.agency_id, case, ok)


async def handle_move_case_to_support_plan_meeting(
    deps: Deps, session: Session, cmd: MoveCaseToSupportPlanMeeting
) -> list[DomainEvent]:
    source = await load_meeting(session, cmd.meeting_id)
    target = await load_meeting(session, cmd.to_meeting_id)
    await refuse_unless(session, active_entry(session.agency_id))
    item = source.item(cmd.item_id)
    case: Case | None = None
    ok = False
    if item is not None and target.exists:
        case = await load_case(session, item.case_id)
        ok = await consented(session, item.case_id, target.meeting_date)
    return domain.move(cmd, source, target, session.agency_id, case, ok)


async def handle_record_meeting_held(
    deps: Deps, session: Session, cmd: RecordMeetingHeld
) -> list[DomainEvent]:
    meeting = await meeting_for(session, cmd.meeting_id)
    following = await _then_next(session, meeting)  # loaded first: see module doc
    return domain.held(cmd, meeting, session.agency_id, local_date(session.now)) + following


async def handle_record_decision(
    deps: Deps, session: Session, cmd: RecordDecision
) -> list[DomainEvent]:
    meeting = await meeting_for(session, cmd.meeting_id)
    domain.decision_target(cmd, meeting)  # refused before anything else is loaded
    lead = await load_agency(session, cmd.lead_agency) if cmd.lead_agency else None
    return domain.decide(cmd, meeting, session.agency_id, lead)


async def handle_record_resource_gap(
    deps: Deps, session: Session, cmd: RecordResourceGap
) -> list[DomainEvent]:
    meeting = await meeting_for(session, cmd.meeting_id)
    return domain.resource_gap(cmd, meeting, session.agency_id)


async def handle_record_minutes(
    deps: Deps, session: Session, cmd: RecordMinutes
) -> list[DomainEvent]:
    meeting = await meeting_for(session, cmd.meeting_id)
    events = domain.minutes(cmd, meeting, session.agency_id)
    await refuse_if_erased(session, meeting, cmd.item_id)
    return events


async def handle_share_material(
    deps: Deps, session: Session, cmd: ShareMaterial
) -> list[DomainEvent]:
    meeting = await meeting_for(session, cmd.meeting_id)
    events = domain.material(cmd, meeting, session.agency_id)
    await refuse_if_erased(session, meeting, cmd.item_id)
    if cmd.attachment is not None:
        await attachments.verify(session.store.nc, session.store.topology, cmd.attachment)
    return events


def commands(deps: Deps) -> dict[str, tuple[type[Command], Handler]]:
    return command_table(
        deps,
        (ScheduleMeeting, handle_schedule_meeting),
        (StartMeetingSeries, handle_start_meeting_series),
        (EndMeetingSeries, handle_end_meeting_series),
        (RescheduleMeeting, handle_reschedule_meeting),
        (CancelMeeting, handle_cancel_meeting),
        (InviteMember, handle_invite_member),
        (AcknowledgeConfidentiality, handle_acknowledge_confidentiality),
        (TableCase, handle_table_case),
        (MoveCaseToSupportPlanMeeting, handle_move_case_to_support_plan_meeting),
        (RecordMeetingHeld, handle_record_meeting_held),
        (RecordDecision, handle_record_decision),
        (RecordResourceGap, handle_record_resource_gap),
        (RecordMinutes, handle_record_minutes),
        (ShareMaterial, handle_share_material),
    )
