"""Commands of the meeting service (重層的支援会議 and 支援会議).

Subjects: ``<prefix>.cmd.<agency_id>.<type>``. The sending agency is the one in the subject;
every command about an existing meeting, except acknowledging confidentiality, is sent by
the agency that convened it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.base import (
    AgencyId,
    AwareDatetime,
    Command,
    Contract,
    Id,
    LongText,
    ShortText,
    WorldDate,
    personal,
)
from contracts.common import AttachmentRef
from contracts.meeting import Ask, Decision, ExternalMember, MeetingKind, RecurrenceRule


class ScheduleMeeting(Command):
    """An ad hoc meeting (per case); its members are chosen for this meeting only."""

    type: Literal["schedule_meeting"] = "schedule_meeting"
    kind: MeetingKind
    scheduled_for: AwareDatetime
    members: tuple[AgencyId, ...] = Field(
        default=(), description="Invited agencies (the convener is always a member)"
    )
    external_members: tuple[ExternalMember, ...] = Field(
        default=(), description="Outside professionals (doctor, lawyer, 司法書士) for this meeting"
    )
    title: ShortText | None = None


class StartMeetingSeries(Command):
    """定例: a monthly regular meeting. Its first occurrence is scheduled at once, and each
    next one when the current one is held or cancelled."""

    type: Literal["start_meeting_series"] = "start_meeting_series"
    kind: MeetingKind
    rule: RecurrenceRule
    members: tuple[AgencyId, ...] = ()
    title: ShortText | None = None
    first_on: WorldDate | None = Field(
        default=None, description="First possible day of the first occurrence (default: today)"
    )


class EndMeetingSeries(Command):
    type: Literal["end_meeting_series"] = "end_meeting_series"
    series_id: Id
    reason: ShortText


class RescheduleMeeting(Command):
    type: Literal["reschedule_meeting"] = "reschedule_meeting"
    meeting_id: Id
    scheduled_for: AwareDatetime
    reason: ShortText | None = None


class CancelMeeting(Command):
    type: Literal["cancel_meeting"] = "cancel_meeting"
    meeting_id: Id
    reason: ShortText


class InviteMember(Command):
    """Invite one agency, or one outside professional, to one meeting."""

    type: Literal["invite_member"] = "invite_member"
    meeting_id: Id
    agency_id: AgencyId | None = None
    external: ExternalMember | None = None


class AcknowledgeConfidentiality(Command):
    """守秘義務: sent by a member agency for itself, or by the convener for an outside
    professional (``member_id``) who signed the duty on paper."""

    type: Literal["acknowledge_confidentiality"] = "acknowledge_confidentiality"
    meeting_id: Id
    member_id: Id | None = None


class TableCase(Command):
    type: Literal["table_case"] = "table_case"
    meeting_id: Id
    case_id: Id
    asks: tuple[Ask, ...] = Field(min_length=1)
    plan_id: Id | None = Field(default=None, description="Required when asking approve_plan, "
                               "and only then")
    plan_version: int | None = Field(default=None, ge=1)
    item_id: Id | None = Field(default=None, description="Default: item-<n>")


class MoveCaseToSupportPlanMeeting(Command):
    """A case tabled at a 支援会議 got consent: table it at a 重層的支援会議 instead."""

    type: Literal["move_case_to_support_plan_meeting"] = "move_case_to_support_plan_meeting"
    meeting_id: Id = Field(description="The 支援会議 it is on now")
    item_id: Id
    to_meeting_id: Id
    asks: tuple[Ask, ...] = Field(default=(), description="Default: the asks of the item")
    plan_id: Id | None = None
    plan_version: int | None = Field(default=None, ge=1)


class ItemAttendees(Contract):
    """Who attended for one agenda item (not a command)."""

    item_id: Id
    agencies: tuple[AgencyId, ...] = Field(max_length=100)


class RecordMeetingHeld(Command):
    """Attendance is per agenda item: an agency named for an item joins that item's case;
    attending the meeting alone joins it to no case (items not listed: nobody joins)."""

    type: Literal["record_meeting_held"] = "record_meeting_held"
    meeting_id: Id
    held_on: WorldDate
    attendees: tuple[AgencyId, ...] = Field(min_length=1)
    external_attendees: tuple[Id, ...] = ()
    item_attendees: tuple[ItemAttendees, ...] = Field(
        default=(), max_length=200, description="Per agenda item, who attended for it")


class RecordDecision(Command):
    """One decision per agenda item and ask, with its reason, after the meeting was held."""

    type: Literal["record_decision"] = "record_decision"
    meeting_id: Id
    item_id: Id
    decision: Decision
    reason: ShortText
    lead_agency: AgencyId | None = Field(
        default=None, description="Required for assign_lead and return_to_comprehensive"
    )


class RecordResourceGap(Command):
    """社会資源の不足 noted by a 重層的支援会議."""

    type: Literal["record_resource_gap"] = "record_resource_gap"
    meeting_id: Id
    description: LongText = Field(min_length=1)


class RecordMinutes(Command):
    """The meeting's minutes, or (``item_id``) one agenda item's: what concerns one person
    belongs in their item's minutes, which erasing that person shreds."""

    type: Literal["record_minutes"] = "record_minutes"
    meeting_id: Id
    text: LongText = personal("議事録")
    item_id: Id | None = Field(default=None, description="Minutes of this agenda item only")


class ShareMaterial(Command):
    """Material for the meeting, or (``item_id``) for one agenda item: the latter is sealed
    with the item's case key, so erasing that person shreds it."""

    type: Literal["share_material"] = "share_material"
    meeting_id: Id
    item_id: Id | None = None
    title: ShortText = personal("資料名")
    text: LongText = personal("資料の内容")
    attachment: AttachmentRef | None = None
