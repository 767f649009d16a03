"""Deciders of the meeting service: command + folded state -> events, or a refusal (pure).

Every refusal names the field and the rule; handlers append nothing when one is raised.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from contracts import ids
from contracts.base import MAX_DATE, DomainEvent, Sealed
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
from contracts.common import FreeText, Program, sealable
from contracts.meeting import (
    Ask,
    CaseMovedToSupportPlanMeeting,
    CaseTabled,
    ConfidentialityAcknowledged,
    DecisionRecorded,
    ItemAttendance,
    MaterialPersonal,
    MaterialShared,
    MeetingCancelled,
    MeetingHeld,
    MeetingKind,
    MeetingRescheduled,
    MeetingScheduled,
    MeetingSeriesEnded,
    MeetingSeriesStarted,
    MemberInvited,
    MinutesPersonal,
    MinutesRecorded,
    ResourceGapRecorded,
)
from eventstore.errors import DomainError, Forbidden, InvalidInput, NotFound
from services.meeting.recurrence import (
    JST,
    check_rule,
    local_date,
    next_occurrence,
    occurrence_id,
)
from services.meeting.rules import NEEDS_LEAD, ask_answered_by, asks_allowed
from services.meeting.state import Agency, Case, Item, Meeting, Series


def derived_id(prefix: str, *parts: str) -> str:
    """A stable id from the command (a retried command lands on the same aggregate). Ids
    from a command id take the sender too: two agencies' command ids never collide."""
    return ids.derived_id(ids.MEETING, prefix, *parts)


def decision_id_for(meeting_id: str, item_id: str, ask: Ask) -> str:
    return derived_id("dec", meeting_id, item_id, ask.value)


# ---- guards ---------------------------------------------------------------------------


def require_meeting(m: Meeting) -> None:
    if not m.exists:
        raise NotFound(f"meeting_id: no meeting {m.meeting_id!r}", details={"field": "meeting_id"})


def require_convener(m: Meeting, agency_id: str) -> None:
    if agency_id != m.convened_by:
        raise Forbidden(
            f"only the convening agency ({m.convened_by}) may change meeting {m.meeting_id}",
            details={"agency_id": agency_id},
        )


def require_open(m: Meeting) -> None:
    """Scheduled and not yet held: the agenda and the members can still change."""
    require_meeting(m)
    if m.status == "cancelled":
        raise DomainError(
            f"meeting_id: meeting {m.meeting_id} was cancelled", code="meeting_cancelled"
        )
    if m.status == "held":
        raise DomainError(
            f"meeting_id: meeting {m.meeting_id} was already held on {m.held_on}",
            code="meeting_held",
        )


def require_future(when: datetime, world: datetime, field: str) -> None:
    """A meeting is scheduled for a time to come as of when it was scheduled in the world
    (the command's world time): an ad hoc meeting recorded after the fact says
    ``occurred_at`` no later than the meeting itself."""
    if when < world:
        raise InvalidInput(
            f"{field}: {when.isoformat()} is in the past as of the scheduling "
            f"({world.isoformat()}); a meeting is scheduled for a time to come (to record "
            "one after the fact, send occurred_at no later than the meeting)",
            code="in_past", details={"field": field},
        )


def require_coordinator(agency: Agency) -> None:
    if not agency.coordinator:
        raise Forbidden(
            f"agency {agency.agency_id!r} is not a coordinating agency (can_triage in the "
            f"directory); only the coordination convenes meetings",
            details={"agency_id": agency.agency_id},
        )


def require_active(agency: Agency, field: str) -> None:
    if not agency.active:
        raise InvalidInput(
            f"{field}: agency {agency.agency_id!r} is not an active entry of the agency directory",
            code="unknown_agency", details={"field": field, "agency_id": agency.agency_id},
        )


def _check_externals(externals: Iterable[object]) -> None:
    ids = [getattr(x, "member_id", "") for x in externals]
    if len(ids) != len(set(ids)):
        raise InvalidInput(
            "external_members: member_id must be unique within a meeting",
            details={"field": "external_members"},
        )


# ---- scheduling -----------------------------------------------------------------------


def schedule(
    cmd: ScheduleMeeting, meeting: Meeting, convener: str, now: datetime
) -> list[DomainEvent]:
    if meeting.exists:  # cannot happen with derived ids unless ids collide
        raise DomainError(f"meeting {meeting.meeting_id} already exists", code="exists")
    require_future(cmd.scheduled_for, now, "scheduled_for")
    _check_externals(cmd.external_members)
    members = tuple(dict.fromkeys((convener, *cmd.members)))
    return [
        MeetingScheduled(
            meeting_id=meeting.meeting_id, kind=cmd.kind, regular=False,
            scheduled_for=cmd.scheduled_for, convened_by=convener, members=members,
            external_members=cmd.external_members, personal_title=sealable(cmd.title),
        )
    ]


def start_series(
    cmd: StartMeetingSeries, series: Series, first: Meeting, convener: str, now: datetime,
    first_when: datetime,
) -> list[DomainEvent]:
    if series.started:
        raise DomainError(f"series {series.series_id} already exists", code="exists")
    members = tuple(dict.fromkeys((convener, *cmd.members)))
    return [
        MeetingSeriesStarted(
            series_id=series.series_id, kind=cmd.kind, rule=cmd.rule, convened_by=convener,
            members=members, personal_title=sealable(cmd.title), first_meeting_id=first.meeting_id,
        ),
        _occurrence(series.series_id, cmd.kind, convener, members, sealable(cmd.title),
                    first.meeting_id,
                    first_when),
    ]


def first_occurrence(cmd: StartMeetingSeries, now: datetime) -> datetime:
    check_rule(cmd.rule)
    after = now
    if cmd.first_on is not None:
        if cmd.first_on < local_date(now):
            raise InvalidInput(
                f"first_on: {cmd.first_on} is in the past", code="in_past",
                details={"field": "first_on"},
            )
        # The first occurrence may fall on first_on itself, so look from just before it.
        start = datetime.combine(cmd.first_on, time(0, 0), tzinfo=JST) - timedelta(microseconds=1)
        after = max(now, start)
    when = next_occurrence(cmd.rule, after)
    if when.date() > MAX_DATE:  # a meeting cannot be put there (contracts' date range)
        raise InvalidInput(
            f"first_on: the rule falls after {MAX_DATE}, the last date meetings are kept for",
            code="out_of_range", details={"field": "first_on"},
        )
    return when


def _occurrence(
    series_id: str, kind: MeetingKind, convener: str, members: tuple[str, ...],
    title: FreeText | Sealed | None, meeting_id: str, when: datetime,
) -> MeetingScheduled:
    # A later occurrence carries the series' title as the series sealed it (its key).
    return MeetingScheduled(
        meeting_id=meeting_id, kind=kind, regular=True, series_id=series_id,
        scheduled_for=when, convened_by=convener, members=members, personal_title=title,
    )


def next_in_series(
    series: Series, current: Meeting, now: datetime
) -> tuple[str, datetime] | None:
    """Where the next occurrence goes once ``current`` is held or cancelled (None: no more)."""
    if not current.regular or not series.started or series.ended or series.rule is None:
        return None
    assert current.scheduled_for is not None
    when = next_occurrence(series.rule, max(current.scheduled_for, now))
    if when.date() > MAX_DATE:  # past the contracts' date range: the series runs out
        return None
    return occurrence_id(series.series_id, when), when


def schedule_next(series: Series, slot: tuple[str, datetime] | None, target: Meeting
                  ) -> list[DomainEvent]:
    if slot is None or target.exists:
        return []
    return [
        _occurrence(series.series_id, series.kind, series.convened_by, series.members,
                    series.title, target.meeting_id, slot[1])
    ]


def end_series(cmd: EndMeetingSeries, series: Series, agency_id: str, now: datetime
               ) -> list[DomainEvent]:
    if not series.started:
        raise NotFound(f"series_id: no meeting series {cmd.series_id!r}",
                       details={"field": "series_id"})
    if agency_id != series.convened_by:
        raise Forbidden(f"only the convening agency ({series.convened_by}) may end the series")
    if series.ended:
        raise DomainError(f"series_id: series {cmd.series_id} has already ended",
                          code="series_ended")
    return [MeetingSeriesEnded(series_id=cmd.series_id, ended_on=local_date(now),
                               personal_reason=sealable(cmd.reason))]


def reschedule(cmd: RescheduleMeeting, m: Meeting, agency_id: str, now: datetime
               ) -> list[DomainEvent]:
    require_open(m)
    require_convener(m, agency_id)
    require_future(cmd.scheduled_for, now, "scheduled_for")
    if cmd.scheduled_for == m.scheduled_for:
        raise InvalidInput("scheduled_for: the meeting is already at that time",
                           code="unchanged", details={"field": "scheduled_for"})
    return [MeetingRescheduled(meeting_id=m.meeting_id, scheduled_for=cmd.scheduled_for,
                               personal_reason=sealable(cmd.reason))]


def cancel(cmd: CancelMeeting, m: Meeting, agency_id: str) -> list[DomainEvent]:
    require_open(m)
    require_convener(m, agency_id)
    return [MeetingCancelled(meeting_id=m.meeting_id, personal_reason=sealable(cmd.reason))]


def invite(cmd: InviteMember, m: Meeting, agency_id: str, invitee: Agency | None
           ) -> list[DomainEvent]:
    require_open(m)
    require_convener(m, agency_id)
    if (cmd.agency_id is None) == (cmd.external is None):
        raise InvalidInput("invite exactly one of agency_id or external",
                           details={"field": "agency_id"})
    if cmd.agency_id is not None:
        assert invitee is not None
        require_active(invitee, "agency_id")
        if cmd.agency_id in m.members:
            raise DomainError(f"agency_id: {cmd.agency_id} is already a member",
                              code="already_member")
    if cmd.external is not None and cmd.external.member_id in m.externals:
        raise DomainError(f"external.member_id: {cmd.external.member_id} is already invited",
                          code="already_member")
    return [MemberInvited(meeting_id=m.meeting_id, agency_id=cmd.agency_id,
                          external=cmd.external)]


def acknowledge(cmd: AcknowledgeConfidentiality, m: Meeting, agency_id: str, today: date,
                staff: str | None) -> list[DomainEvent]:
    require_meeting(m)
    if m.status == "cancelled":
        raise DomainError(f"meeting_id: meeting {m.meeting_id} was cancelled",
                          code="meeting_cancelled")
    if m.kind is not MeetingKind.confidential:
        raise InvalidInput(
            "meeting_id: only a 支援会議 (confidential) asks its members to acknowledge the "
            "duty of confidentiality", code="not_confidential", details={"field": "meeting_id"},
        )
    if cmd.member_id is not None:
        # Outside professionals sign on paper; the convener records it for them.
        require_convener(m, agency_id)
        if cmd.member_id not in m.externals:
            raise NotFound(f"member_id: {cmd.member_id} is not invited to this meeting",
                           details={"field": "member_id"})
        if cmd.member_id in m.acknowledged_externals:
            raise DomainError(f"member_id: {cmd.member_id} has already acknowledged",
                              code="already_acknowledged")
        return [ConfidentialityAcknowledged(meeting_id=m.meeting_id, member_id=cmd.member_id,
                                            acknowledged_on=today)]
    if agency_id not in m.members:
        raise Forbidden(f"agency {agency_id} is not a member of meeting {m.meeting_id}")
    if agency_id in m.acknowledged:
        raise DomainError(f"agency {agency_id} has already acknowledged",
                          code="already_acknowledged")
    return [ConfidentialityAcknowledged(meeting_id=m.meeting_id, agency_id=agency_id,
                                        personal_staff=sealable(staff),
                                        acknowledged_on=today)]


# ---- agenda ---------------------------------------------------------------------------


def _check_case(case: Case, field: str = "case_id") -> None:
    """Which case may go on an agenda, judged here, before the item exists: an item at a
    支援会議 opens the case to the meeting's bound members (contracts.visibility, a Seat),
    which no later refusal could take back; and the casefile could tell nobody of a case
    that does not exist. What the tabling does to the case (a plan tabled on an open case,
    drafted, which version) is the casefile's (services/casefile/decisions.py)."""
    if not case.opened:
        raise NotFound(f"{field}: no case {case.case_id!r}", details={"field": field})
    if case.closed:
        raise DomainError(f"{field}: case {case.case_id} is closed (reopen it first)",
                          code="case_closed", details={"field": field})


def _check_asks(asks: tuple[Ask, ...], kind: MeetingKind) -> None:
    refused = [a.value for a in asks if a not in asks_allowed(kind)]
    if refused:
        raise InvalidInput(
            f"asks: a 支援会議 cannot be asked {', '.join(refused)} (no plan without consent; "
            f"move the case to a 重層的支援会議 once consent is recorded)",
            code="not_at_confidential", details={"field": "asks"},
        )
    if len(set(asks)) != len(asks):
        raise InvalidInput("asks: each ask once", details={"field": "asks"})


def next_item_id(m: Meeting) -> str:
    """``item-<n>`` after the agenda's length, skipping ids an explicit item_id already took."""
    n = len(m.items) + 1
    while m.item(f"item-{n}") is not None:
        n += 1
    return f"item-{n}"


def _plan_of(asks: tuple[Ask, ...], case: Case, plan_id: str | None, plan_version: int | None
             ) -> tuple[str | None, int | None, Program | None]:
    """The plan an item asking approve_plan names, and its program. Whether that version was
    drafted is not judged here: the casefile judges it when it takes the tabling
    (``plan_not_drafted`` on the convener's feed). The case's plans are read only for the
    program, which the item and its events carry for the agenda and the statistics."""
    if Ask.approve_plan not in asks:
        if plan_id is not None or plan_version is not None:
            # The casefile would answer a plan named otherwise to every agency of the case
            # (a 支援会議 among them): nothing to approve, nothing to tell.
            raise InvalidInput("plan_id, plan_version: only with the approve_plan ask",
                               details={"field": "plan_id"})
        return None, None, None
    if plan_id is None or plan_version is None:
        raise InvalidInput("plan_id, plan_version: required when asking approve_plan",
                           details={"field": "plan_id"})
    return plan_id, plan_version, case.plans.get((plan_id, plan_version))


def _require_consent(consented: bool, case_id: str, on: date) -> None:
    if not consented:
        raise DomainError(
            f"case_id: no valid consent covers case {case_id} on {on}; without consent a case "
            f"goes to a 支援会議 (rule 1)", code="no_consent", details={"field": "case_id"},
        )


def table(cmd: TableCase, m: Meeting, agency_id: str, case: Case, consented: bool
          ) -> list[DomainEvent]:
    """Put a case on the agenda under the meeting's rules: open, by its convener, a case
    that may go there (rule 1: consent for a 重層的支援会議), asks its kind may be asked, once.
    What the tabling does to the case is the casefile's, from the event's meeting_kind."""
    require_open(m)
    require_convener(m, agency_id)
    _check_case(case)
    _check_asks(cmd.asks, m.kind)
    if m.kind is MeetingKind.support_plan:
        _require_consent(consented, cmd.case_id, m.meeting_date)
    if m.open_item_for(cmd.case_id) is not None:
        raise DomainError(f"case_id: case {cmd.case_id} is already on this agenda",
                          code="already_tabled", details={"field": "case_id"})
    item_id = cmd.item_id or next_item_id(m)
    if m.item(item_id) is not None:
        raise InvalidInput(f"item_id: {item_id} is already used on this agenda",
                           details={"field": "item_id"})
    plan_id, plan_version, program = _plan_of(cmd.asks, case, cmd.plan_id, cmd.plan_version)
    return [
        CaseTabled(meeting_id=m.meeting_id, item_id=item_id, case_id=cmd.case_id,
                   asks=cmd.asks, plan_id=plan_id, plan_version=plan_version,
                   program=program, meeting_kind=m.kind)
    ]


def move(cmd: MoveCaseToSupportPlanMeeting, source: Meeting, target: Meeting, agency_id: str,
         case: Case | None, consented: bool) -> list[DomainEvent]:
    require_meeting(source)
    require_convener(source, agency_id)
    if source.kind is not MeetingKind.confidential:
        raise InvalidInput("meeting_id: only a case on a 支援会議 is moved to a 重層的支援会議",
                           details={"field": "meeting_id"})
    item = source.item(cmd.item_id)
    if item is None:
        raise NotFound(f"item_id: {cmd.item_id} is not on the agenda of {source.meeting_id}",
                       code="not_on_agenda", details={"field": "item_id"})
    if item.moved_to:
        raise DomainError(f"item_id: {cmd.item_id} was already moved to {item.moved_to}",
                          code="already_moved", details={"field": "item_id"})
    if not target.exists:
        raise NotFound(f"to_meeting_id: no meeting {cmd.to_meeting_id!r}",
                       details={"field": "to_meeting_id"})
    if target.kind is not MeetingKind.support_plan:
        raise InvalidInput("to_meeting_id: the target must be a 重層的支援会議",
                           details={"field": "to_meeting_id"})
    require_open(target)
    require_convener(target, agency_id)
    assert case is not None
    _check_case(case)
    _require_consent(consented, item.case_id, target.meeting_date)
    if target.open_item_for(item.case_id) is not None:
        raise DomainError(f"case {item.case_id} is already on the agenda of {target.meeting_id}",
                          code="already_tabled", details={"field": "to_meeting_id"})
    asks = cmd.asks or item.asks
    _check_asks(asks, target.kind)
    plan_id, plan_version, program = _plan_of(asks, case, cmd.plan_id, cmd.plan_version)
    return [
        CaseMovedToSupportPlanMeeting(meeting_id=source.meeting_id, item_id=item.item_id,
                                      case_id=item.case_id, to_meeting_id=target.meeting_id),
        CaseTabled(meeting_id=target.meeting_id, item_id=next_item_id(target),
                   case_id=item.case_id, asks=asks, plan_id=plan_id, plan_version=plan_version,
                   program=program or item.program,
                   meeting_kind=target.kind),
    ]


# ---- the meeting itself ---------------------------------------------------------------


def held(cmd: RecordMeetingHeld, m: Meeting, agency_id: str, today: date) -> list[DomainEvent]:
    require_open(m)
    require_convener(m, agency_id)
    if cmd.held_on > today:
        raise InvalidInput(f"held_on: {cmd.held_on} is in the future; record a meeting once held",
                           code="in_future", details={"field": "held_on"})
    if m.planned_on is not None and cmd.held_on < m.planned_on:
        raise InvalidInput(
            f"held_on: {cmd.held_on} is before the meeting was scheduled ({m.planned_on})",
            details={"field": "held_on"},
        )
    strangers = sorted(set(cmd.attendees) - m.members)
    if strangers:
        raise InvalidInput(f"attendees: {', '.join(strangers)} are not members of this meeting "
                           f"(invite them first)", code="not_member",
                           details={"field": "attendees"})
    unknown = sorted(set(cmd.external_attendees) - set(m.externals))
    if unknown:
        raise InvalidInput(f"external_attendees: {', '.join(unknown)} were not invited",
                           code="not_member", details={"field": "external_attendees"})
    if m.kind is MeetingKind.confidential:
        unbound = sorted(set(cmd.attendees) - m.acknowledged) + sorted(
            set(cmd.external_attendees) - m.acknowledged_externals
        )
        if unbound:
            raise DomainError(
                f"attendees: {', '.join(unbound)} have not acknowledged the duty of "
                f"confidentiality of this 支援会議 (Art. 106-6)", code="not_acknowledged",
                details={"field": "attendees"},
            )
    return [MeetingHeld(meeting_id=m.meeting_id, held_on=cmd.held_on,
                        attendees=tuple(dict.fromkeys(cmd.attendees)),
                        external_attendees=tuple(dict.fromkeys(cmd.external_attendees)),
                        item_attendance=item_attendance(cmd, m))]


def item_attendance(cmd: RecordMeetingHeld, m: Meeting) -> tuple[ItemAttendance, ...]:
    """Attendance per agenda item: each item named once, on the agenda (not moved away),
    and who attended for it attended the meeting. Only they join the item's case."""
    seen: set[str] = set()
    out: list[ItemAttendance] = []
    for n, entry in enumerate(cmd.item_attendees):
        fld = f"item_attendees[{n}]"
        item = m.item(entry.item_id)
        if item is None or item.moved_to:
            raise InvalidInput(f"{fld}.item_id: {entry.item_id} is not on the agenda of "
                               f"{m.meeting_id}", code="not_on_agenda",
                               details={"field": f"{fld}.item_id"})
        if item.item_id in seen:
            raise InvalidInput(f"{fld}.item_id: {item.item_id} is listed twice",
                               details={"field": f"{fld}.item_id"})
        seen.add(item.item_id)
        absent = sorted(set(entry.agencies) - set(cmd.attendees))
        if absent:
            raise InvalidInput(f"{fld}.agencies: {', '.join(absent)} did not attend the "
                               f"meeting (list them in attendees)", code="not_attendee",
                               details={"field": f"{fld}.agencies"})
        out.append(ItemAttendance(item_id=item.item_id, case_id=item.case_id,
                                  agencies=tuple(dict.fromkeys(entry.agencies))))
    return tuple(out)


def require_held(m: Meeting) -> date:
    require_meeting(m)
    if m.status == "cancelled":
        raise DomainError(f"meeting_id: meeting {m.meeting_id} was cancelled",
                          code="meeting_cancelled")
    if m.status != "held" or m.held_on is None:
        raise DomainError(
            f"meeting_id: meeting {m.meeting_id} has not been held yet; record it held first",
            code="not_held", details={"field": "meeting_id"},
        )
    return m.held_on


def decision_target(cmd: RecordDecision, m: Meeting) -> Item:
    """The agenda item a decision is about (checked before anything else is loaded)."""
    require_held(m)
    item = m.item(cmd.item_id)
    if item is None:
        raise NotFound(f"item_id: {cmd.item_id} is not on the agenda of {m.meeting_id}",
                       code="not_on_agenda", details={"field": "item_id"})
    if item.moved_to:
        raise DomainError(f"item_id: {cmd.item_id} was moved to {item.moved_to}; decide it there",
                          code="moved", details={"field": "item_id"})
    return item


def answered_ask(cmd: RecordDecision, m: Meeting, item: Item) -> Ask:
    """The open ask of ``item`` the decision answers, if this kind of meeting may be asked it
    (rules.py)."""
    ask = ask_answered_by(item.asks, item.answered, cmd.decision)
    if ask is None:
        if ask_answered_by(item.asks, (), cmd.decision) is not None:
            raise DomainError(
                f"decision: {cmd.decision.value} on {cmd.item_id} is already recorded",
                code="already_decided", details={"field": "decision"},
            )
        raise InvalidInput(
            f"decision: {cmd.decision.value} does not answer what item {cmd.item_id} asks "
            f"({', '.join(a.value for a in item.asks)})", code="decision_mismatch",
            details={"field": "decision"},
        )
    if ask not in asks_allowed(m.kind):
        raise InvalidInput(f"decision: a 支援会議 does not decide {ask.value} (no plan without "
                           "consent)", code="not_at_confidential", details={"field": "decision"})
    return ask


def check_lead(cmd: RecordDecision, lead: Agency | None) -> None:
    """A lead agency is named by the decisions that need one (rules.py), and only by them."""
    if cmd.decision in NEEDS_LEAD:
        if cmd.lead_agency is None:
            raise InvalidInput(f"lead_agency: required for {cmd.decision.value}",
                               details={"field": "lead_agency"})
        assert lead is not None
        require_active(lead, "lead_agency")
    elif cmd.lead_agency is not None:
        raise InvalidInput(f"lead_agency: only for assign_lead or return_to_comprehensive, "
                           f"not {cmd.decision.value}", details={"field": "lead_agency"})


def decide(cmd: RecordDecision, m: Meeting, agency_id: str, lead: Agency | None
           ) -> list[DomainEvent]:
    """Record a decision under the meeting's rules only: held, by its convener, on an item
    of its agenda, answering an open ask this kind of meeting may be asked, naming a lead
    where it needs one. What it does to the case (an open case, its plan, consent on the
    day) is the casefile's to judge, which tells the convener (decision_not_applied)."""
    item = decision_target(cmd, m)
    require_convener(m, agency_id)
    ask = answered_ask(cmd, m, item)
    check_lead(cmd, lead)
    decision_id = decision_id_for(m.meeting_id, item.item_id, ask)
    if decision_id in m.decisions:  # belt and braces: the fold already says answered
        raise DomainError("decision already recorded", code="already_decided")
    assert m.held_on is not None  # decision_target: held
    return [
        DecisionRecorded(
            meeting_id=m.meeting_id, decision_id=decision_id, item_id=item.item_id,
            case_id=item.case_id, decision=cmd.decision, decided_on=m.held_on,
            personal_reason=FreeText(text=cmd.reason),  # about the person: sealed
            plan_id=item.plan_id, plan_version=item.plan_version,
            lead_agency=cmd.lead_agency, program=item.program, meeting_kind=m.kind,
        )
    ]


def resource_gap(cmd: RecordResourceGap, m: Meeting, agency_id: str) -> list[DomainEvent]:
    require_held(m)
    require_convener(m, agency_id)
    if m.kind is not MeetingKind.support_plan:
        raise InvalidInput("meeting_id: gaps in local resources are items of a 重層的支援会議",
                           details={"field": "meeting_id"})
    gap_id = derived_id("gap", m.meeting_id, agency_id, cmd.command_id)
    return [ResourceGapRecorded(meeting_id=m.meeting_id, gap_id=gap_id,
                                personal_description=sealable(cmd.description))]


def minutes(cmd: RecordMinutes, m: Meeting, agency_id: str) -> list[DomainEvent]:
    require_held(m)
    require_convener(m, agency_id)
    if not cmd.text.strip():
        raise InvalidInput("text: minutes cannot be empty", details={"field": "text"})
    if cmd.item_id is None:
        if m.minutes:
            raise DomainError(f"meeting_id: minutes of {m.meeting_id} are already recorded",
                              code="already_recorded", details={"field": "meeting_id"})
        return [MinutesRecorded(meeting_id=m.meeting_id, recorded_by=agency_id,
                                personal=MinutesPersonal(text=cmd.text))]
    item = m.item(cmd.item_id)
    if item is None:
        raise InvalidInput(f"item_id: {cmd.item_id} is not on the agenda of {m.meeting_id}",
                           code="not_on_agenda", details={"field": "item_id"})
    if item.item_id in m.item_minutes:
        raise DomainError(f"item_id: minutes of {item.item_id} are already recorded",
                          code="already_recorded", details={"field": "item_id"})
    # Sealed with the case's key (MinutesRecorded.personal_key_id): erasure shreds them.
    return [MinutesRecorded(meeting_id=m.meeting_id, recorded_by=agency_id,
                            personal=MinutesPersonal(text=cmd.text), item_id=item.item_id,
                            case_id=item.case_id)]


def material(cmd: ShareMaterial, m: Meeting, agency_id: str) -> list[DomainEvent]:
    require_meeting(m)
    if m.status == "cancelled":
        raise DomainError(f"meeting_id: meeting {m.meeting_id} was cancelled",
                          code="meeting_cancelled")
    if not m.is_bound(agency_id):
        raise Forbidden(
            f"agency {agency_id} is not a bound member of meeting {m.meeting_id} "
            f"(member, and for a 支援会議 having acknowledged confidentiality)",
            code="not_acknowledged" if agency_id in m.members else "forbidden",
        )
    item = m.item(cmd.item_id) if cmd.item_id is not None else None
    if cmd.item_id is not None and item is None:
        raise NotFound(f"item_id: {cmd.item_id} is not on the agenda", code="not_on_agenda",
                       details={"field": "item_id"})
    material_id = derived_id("mat", m.meeting_id, agency_id, cmd.command_id)
    # With an item, case_id makes it sealed with the case's key: erasure shreds it.
    return [MaterialShared(meeting_id=m.meeting_id, material_id=material_id, item_id=cmd.item_id,
                           case_id=item.case_id if item else None, shared_by=agency_id,
                           personal=MaterialPersonal(title=cmd.title, text=cmd.text),
                           attachment=cmd.attachment)]
