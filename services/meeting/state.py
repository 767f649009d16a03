"""The state a decision needs, folded from history (pure: no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from types import MappingProxyType
from typing import Literal

from contracts.base import DomainEvent, Sealed
from contracts.case import (
    CaseClosed,
    CaseOpened,
    CaseReopened,
    PlanDrafted,
)
from contracts.common import FreeText, Program, sealable
from contracts.directory import agency_standing, is_active, may_coordinate
from contracts.envelope import Envelope
from contracts.meeting import (
    Ask,
    CaseMovedToSupportPlanMeeting,
    CaseTabled,
    ConfidentialityAcknowledged,
    DecisionRecorded,
    ExternalMember,
    MaterialShared,
    MeetingCancelled,
    MeetingHeld,
    MeetingKind,
    MeetingRescheduled,
    MeetingScheduled,
    MeetingSeriesEnded,
    MeetingSeriesStarted,
    MemberInvited,
    MinutesRecorded,
    RecurrenceRule,
    ResourceGapRecorded,
)
from services.meeting.recurrence import local_date
from services.meeting.rules import ask_answered_by

Status = Literal["none", "scheduled", "held", "cancelled"]


@dataclass(frozen=True)
class Item:
    """One agenda item: a case and what is asked of the meeting."""

    item_id: str
    case_id: str
    asks: tuple[Ask, ...]
    plan_id: str | None = None
    plan_version: int | None = None
    program: Program | None = None
    moved_to: str | None = None
    answered: frozenset[Ask] = frozenset()


@dataclass(frozen=True)
class Meeting:
    meeting_id: str
    status: Status = "none"
    kind: MeetingKind = MeetingKind.support_plan
    regular: bool = False
    series_id: str | None = None
    scheduled_for: datetime | None = None
    #: The Japanese calendar day the meeting was scheduled in the world (its occurred_at):
    #: held_on cannot precede it.
    planned_on: date | None = None
    convened_by: str = ""
    members: frozenset[str] = frozenset()
    externals: MappingProxyType[str, ExternalMember] = field(
        default_factory=lambda: MappingProxyType({})
    )
    acknowledged: frozenset[str] = frozenset()
    acknowledged_externals: frozenset[str] = frozenset()
    held_on: date | None = None
    items: tuple[Item, ...] = ()
    decisions: frozenset[str] = frozenset()
    minutes: bool = False  # the meeting's own minutes
    item_minutes: frozenset[str] = frozenset()
    materials: frozenset[str] = frozenset()
    gaps: frozenset[str] = frozenset()

    @property
    def exists(self) -> bool:
        return self.status != "none"

    @property
    def meeting_date(self) -> date:
        assert self.scheduled_for is not None
        return local_date(self.scheduled_for)

    def item(self, item_id: str) -> Item | None:
        return next((i for i in self.items if i.item_id == item_id), None)

    def open_item_for(self, case_id: str) -> Item | None:
        return next((i for i in self.items if i.case_id == case_id and not i.moved_to), None)

    def is_bound(self, agency_id: str) -> bool:
        """A member who may see the meeting's material (支援会議: only after 守秘義務)."""
        if agency_id not in self.members:
            return False
        return self.kind is not MeetingKind.confidential or agency_id in self.acknowledged


def _with_item(m: Meeting, item_id: str, **changes: object) -> Meeting:
    items = tuple(replace(i, **changes) if i.item_id == item_id else i for i in m.items)  # type: ignore[arg-type]
    return replace(m, items=items)


def evolve(m: Meeting, event: DomainEvent, recorded_on: date) -> Meeting:
    """Apply one meeting event (unknown kinds leave the state as it is)."""
    match event:
        case MeetingScheduled():
            return replace(
                m, status="scheduled", kind=event.kind, regular=event.regular,
                series_id=event.series_id, scheduled_for=event.scheduled_for,
                planned_on=recorded_on, convened_by=event.convened_by,
                members=frozenset(event.members),
                externals=MappingProxyType({x.member_id: x for x in event.external_members}),
            )
        case MeetingRescheduled():
            return replace(m, scheduled_for=event.scheduled_for)
        case MeetingCancelled():
            return replace(m, status="cancelled")
        case MemberInvited():
            if event.agency_id:
                m = replace(m, members=m.members | {event.agency_id})
            if event.external:
                added = {**m.externals, event.external.member_id: event.external}
                m = replace(m, externals=MappingProxyType(added))
            return m
        case ConfidentialityAcknowledged():
            if event.agency_id:
                m = replace(m, acknowledged=m.acknowledged | {event.agency_id})
            if event.member_id:
                m = replace(m, acknowledged_externals=m.acknowledged_externals | {event.member_id})
            return m
        case CaseTabled():
            item = Item(
                event.item_id, event.case_id, event.asks, event.plan_id, event.plan_version,
                event.program,
            )
            return replace(m, items=(*m.items, item))
        case CaseMovedToSupportPlanMeeting():
            return _with_item(m, event.item_id, moved_to=event.to_meeting_id)
        case MeetingHeld():
            return replace(m, status="held", held_on=event.held_on)
        case DecisionRecorded():
            current = m.item(event.item_id)
            m = replace(m, decisions=m.decisions | {event.decision_id})
            if current is None:
                return m
            ask = ask_answered_by(current.asks, current.answered, event.decision)
            answered = current.answered | ({ask} if ask else set())
            return _with_item(m, event.item_id, answered=frozenset(answered))
        case MinutesRecorded():
            if event.item_id:
                return replace(m, item_minutes=m.item_minutes | {event.item_id})
            return replace(m, minutes=True)
        case MaterialShared():
            return replace(m, materials=m.materials | {event.material_id})
        case ResourceGapRecorded():
            return replace(m, gaps=m.gaps | {event.gap_id})
    return m


def fold_meeting(meeting_id: str, envelopes: Iterable[Envelope]) -> Meeting:
    state = Meeting(meeting_id)
    for env in envelopes:
        state = evolve(state, env.event, local_date(env.occurred_at))
    return state


@dataclass(frozen=True)
class Series:
    series_id: str
    started: bool = False
    ended: bool = False
    kind: MeetingKind = MeetingKind.support_plan
    rule: RecurrenceRule | None = None
    convened_by: str = ""
    members: tuple[str, ...] = ()
    #: As stored (sealed with the series' key): each occurrence carries it so.
    title: FreeText | Sealed | None = None
    first_meeting_id: str | None = None


def fold_series(series_id: str, events: Iterable[DomainEvent]) -> Series:
    s = Series(series_id)
    for event in events:
        if isinstance(event, MeetingSeriesStarted):
            s = replace(
                s, started=True, kind=event.kind, rule=event.rule, convened_by=event.convened_by,
                members=event.members,
                title=event.personal_title or sealable(event.title),
                first_meeting_id=event.first_meeting_id,
            )
        elif isinstance(event, MeetingSeriesEnded):
            s = replace(s, ended=True)
    return s


@dataclass(frozen=True)
class Case:
    """What the meeting service needs to know of a case (written by the casefile service):
    that it exists and is not closed (which agenda it may go on, judged by the meeting), and
    its plans' programs (data an item carries; whether a plan was drafted is the casefile's
    to judge)."""

    case_id: str
    opened: bool = False
    closed: bool = False
    plans: MappingProxyType[tuple[str, int], Program] = field(
        default_factory=lambda: MappingProxyType({})
    )


def fold_case(case_id: str, events: Iterable[DomainEvent]) -> Case:
    c = Case(case_id)
    for event in events:
        if isinstance(event, CaseOpened):
            c = replace(c, opened=True)
        elif isinstance(event, CaseClosed):
            c = replace(c, closed=True)
        elif isinstance(event, CaseReopened):
            c = replace(c, closed=False)
        elif isinstance(event, PlanDrafted):
            plans = {**c.plans, (event.plan_id, event.version): event.program}
            c = replace(c, plans=MappingProxyType(plans))
    return c


@dataclass(frozen=True)
class Agency:
    agency_id: str
    active: bool = False
    coordinator: bool = False


def fold_agency(agency_id: str, events: Iterable[DomainEvent],
                coordinators: Iterable[str] = ()) -> Agency:
    """What the deciders need of an agency, judged by the directory's own rules
    (``coordinators``: the agencies the city's setting names besides can_triage)."""
    standing = agency_standing(events)
    return Agency(agency_id, is_active(standing), may_coordinate(standing, coordinators))
