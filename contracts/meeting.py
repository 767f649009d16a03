"""重層的支援会議 and 支援会議 (Art. 106-6)."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field

from contracts.base import (
    AgencyId,
    AwareDatetime,
    Contract,
    DomainEvent,
    Id,
    LongText,
    PersonalData,
    Sealed,
    ShortText,
    WorldDate,
    personal,
)
from contracts.common import AttachmentRef, FreeText, Program


class MeetingKind(StrEnum):
    support_plan = "support_plan"  # 重層的支援会議: needs consent, approves plans
    confidential = "confidential"  # 支援会議: no consent needed, bound members only, 非公開


class ExternalMember(Contract):
    """An outside professional invited for one meeting (doctor, lawyer, 司法書士 …)."""

    member_id: Id
    profession: ShortText
    name: ShortText | None = None


class Ask(StrEnum):
    approve_plan = "approve_plan"
    evaluate = "evaluate"
    close = "close"
    suspend = "suspend"
    return_to_comprehensive = "return_to_comprehensive"
    assign_lead = "assign_lead"
    assign_roles = "assign_roles"
    share_information = "share_information"


class MeetingEvent(DomainEvent):
    aggregate: ClassVar[str] = "meeting"
    id_field: ClassVar[str] = "meeting_id"
    meeting_id: Id


#: Prefix of the keys that seal a meeting's own free text (``meeting_text_key``).
MEETING_TEXT_KEY_PREFIX = "mt-"


def meeting_text_key(meeting_id: str, what: str = "") -> str:
    """The key sealing one piece of a meeting's own free text (its title, a reschedule or
    cancel reason, an acknowledging staff member, a resource gap): not the meeting's key,
    which seals material and minutes for the whole meeting, nor a case's. Erasing a person
    destroys these keys of every meeting that tabled one of their cases (a title may name
    the person; docs/PRIVACY.md). One key per piece (``what``), so a meeting can still be
    rescheduled or cancelled with a reason after such an erasure.

    >>> meeting_text_key("m1") == meeting_text_key("m1", ""), meeting_text_key("m1")[:3]
    (True, 'mt-')
    """
    digest = hashlib.sha256(f"{meeting_id}\0{what}".encode()).hexdigest()[:40]
    return f"{MEETING_TEXT_KEY_PREFIX}{digest}"


class MeetingScheduled(MeetingEvent):
    type: Literal["MeetingScheduled"] = "MeetingScheduled"
    creates: ClassVar[tuple[str, ...]] = ("meeting_id",)
    kind: MeetingKind
    regular: bool = Field(description="定例 (monthly) or ad hoc")
    series_id: Id | None = None
    scheduled_for: AwareDatetime
    convened_by: AgencyId
    members: tuple[AgencyId, ...] = Field(min_length=1)
    external_members: tuple[ExternalMember, ...] = ()
    title: ShortText | None = Field(
        default=None, description="Plain, in events stored before it was sealed only")
    personal_title: FreeText | Sealed | None = None

    def personal_key_id(self) -> str:
        return meeting_text_key(self.meeting_id)


class MeetingRescheduled(MeetingEvent):
    type: Literal["MeetingRescheduled"] = "MeetingRescheduled"
    scheduled_for: AwareDatetime
    reason: ShortText | None = Field(
        default=None, description="Plain, in events stored before it was sealed only")
    personal_reason: FreeText | Sealed | None = None

    def personal_key_id(self) -> str:
        return meeting_text_key(self.meeting_id, f"rescheduled {self.scheduled_for.isoformat()}")


class MeetingCancelled(MeetingEvent):
    type: Literal["MeetingCancelled"] = "MeetingCancelled"
    reason: ShortText | None = Field(
        default=None, description="Plain, in events stored before it was sealed only")
    personal_reason: FreeText | Sealed | None = None

    def personal_key_id(self) -> str:
        return meeting_text_key(self.meeting_id, "cancelled")


class MemberInvited(MeetingEvent):
    type: Literal["MemberInvited"] = "MemberInvited"
    agency_id: AgencyId | None = None
    external: ExternalMember | None = None


class ConfidentialityAcknowledged(MeetingEvent):
    """A 支援会議 member accepts the statutory duty of confidentiality (守秘義務)."""

    type: Literal["ConfidentialityAcknowledged"] = "ConfidentialityAcknowledged"
    agency_id: AgencyId | None = None
    member_id: Id | None = None
    staff: ShortText | None = Field(
        default=None, description="Plain, in events stored before it was sealed only")
    personal_staff: FreeText | Sealed | None = None
    acknowledged_on: WorldDate

    def personal_key_id(self) -> str:
        return meeting_text_key(self.meeting_id, f"ack {self.agency_id} {self.member_id}")


class CaseTabled(MeetingEvent):
    type: Literal["CaseTabled"] = "CaseTabled"
    creates: ClassVar[tuple[str, ...]] = ("item_id",)
    item_id: Id
    case_id: Id
    asks: tuple[Ask, ...] = Field(min_length=1)
    plan_id: Id | None = None
    plan_version: int | None = None
    program: Program | None = None
    meeting_kind: MeetingKind | None = Field(
        default=None,
        description="Kind of the meeting; consumers must not show 支援会議 items in general views",
    )


class CaseMovedToSupportPlanMeeting(MeetingEvent):
    """A case tabled at a 支援会議 got consent and moves to a 重層的支援会議."""

    type: Literal["CaseMovedToSupportPlanMeeting"] = "CaseMovedToSupportPlanMeeting"
    item_id: Id
    case_id: Id
    to_meeting_id: Id


class ItemAttendance(Contract):
    """Who attended for one agenda item (not an event): attending for a case links the
    agency to that case (連携した機関); attending the meeting links it to no other case."""

    item_id: Id
    case_id: Id
    agencies: tuple[AgencyId, ...] = ()


class MeetingHeld(MeetingEvent):
    """The meeting took place. ``attendees`` attended the meeting; ``item_attendance`` says
    who attended for which item. Older events have none: nobody joins a case by them.

    >>> held = MeetingHeld(meeting_id="m1", held_on="2026-06-01", attendees=("a", "b"),
    ...     item_attendance=(ItemAttendance(item_id="i1", case_id="c1", agencies=("a",)),))
    >>> held.attended_for("c1"), held.attended_for("c2")
    (('a',), ())
    """

    type: Literal["MeetingHeld"] = "MeetingHeld"
    held_on: WorldDate
    attendees: tuple[AgencyId, ...]
    external_attendees: tuple[Id, ...] = ()
    item_attendance: tuple[ItemAttendance, ...] | None = Field(
        default=None, description="Who attended for each agenda item (absent in older events)")

    def attended_for(self, case_id: str) -> tuple[str, ...]:
        """The agencies that attended for the items about ``case_id`` (the one rule of
        per-item attendance, for the casefile and the statistics)."""
        found = (a for i in self.item_attendance or () if i.case_id == case_id
                 for a in i.agencies)
        return tuple(dict.fromkeys(found))


class Decision(StrEnum):
    approve_plan = "approve_plan"
    reject_plan = "reject_plan"
    evaluate = "evaluate"
    close = "close"
    suspend = "suspend"
    return_to_comprehensive = "return_to_comprehensive"
    assign_lead = "assign_lead"
    assign_roles = "assign_roles"
    continue_support = "continue_support"
    information_shared = "information_shared"


class DecisionRecorded(MeetingEvent):
    """One decision per agenda item, with its reason. Casefile acts on it."""

    type: Literal["DecisionRecorded"] = "DecisionRecorded"
    creates: ClassVar[tuple[str, ...]] = ("decision_id",)
    decision_id: Id
    item_id: Id
    case_id: Id
    decision: Decision
    reason: ShortText | None = Field(
        default=None, description="Plain, in events stored before reasons were sealed only")
    personal_reason: FreeText | Sealed | None = None
    decided_on: WorldDate
    plan_id: Id | None = None
    plan_version: int | None = None
    lead_agency: AgencyId | None = None
    program: Program | None = None
    meeting_kind: MeetingKind | None = None

    def personal_key_id(self) -> str:
        return self.case_id  # the reason is about the item's person: shredded with the case


class ResourceGapRecorded(MeetingEvent):
    """社会資源の不足: an item of the 重層的支援会議 of its own."""

    type: Literal["ResourceGapRecorded"] = "ResourceGapRecorded"
    creates: ClassVar[tuple[str, ...]] = ("gap_id",)
    gap_id: Id
    description: LongText | None = Field(
        default=None, description="Plain, in events stored before it was sealed only")
    personal_description: FreeText | Sealed | None = None

    def personal_key_id(self) -> str:
        return meeting_text_key(self.meeting_id, f"gap {self.gap_id}")


class MinutesPersonal(PersonalData):
    text: LongText = personal("議事録")


class MinutesRecorded(MeetingEvent):
    """議事録: the meeting's own minutes (no ``item_id``, sealed with the meeting's key), or
    the minutes of one agenda item (sealed with that item's case key). What concerns one
    person belongs in their item's minutes: erasing the person shreds those, never the
    meeting's own."""

    type: Literal["MinutesRecorded"] = "MinutesRecorded"
    recorded_by: AgencyId
    personal: MinutesPersonal | Sealed
    item_id: Id | None = Field(default=None, description="The agenda item, if about one")
    case_id: Id | None = Field(default=None, description="The item's case (set with item_id)")

    def personal_key_id(self) -> str:
        return self.case_id or self.meeting_id


class MaterialPersonal(PersonalData):
    """A material shared with the members of one meeting (資料)."""

    title: ShortText = personal("資料名")
    text: LongText = personal("資料の内容")


class MaterialShared(MeetingEvent):
    """Material for the members of a meeting; for a 支援会議, bound members only. Material
    for an agenda item is sealed with the key of the item's case (``case_id``), so erasing
    the person shreds it; material for the whole meeting, with the meeting's key."""

    type: Literal["MaterialShared"] = "MaterialShared"
    creates: ClassVar[tuple[str, ...]] = ("material_id",)
    material_id: Id
    item_id: Id | None = None
    shared_by: AgencyId
    personal: MaterialPersonal | Sealed
    attachment: AttachmentRef | Sealed | None = None
    case_id: Id | None = Field(default=None, description="The item's case (set with item_id)")

    def personal_key_id(self) -> str:
        return self.case_id or self.meeting_id


# ---- 定例: the monthly regular meeting is a series whose next occurrence is scheduled
# automatically when the current one is held or cancelled. -------------------------------


class RecurrenceRule(Contract):
    """Monthly, either on a day of the month or on the Nth weekday (第N X曜日), at a local
    (Japan) time. Exactly one form is used; the meeting service checks that."""

    day_of_month: int | None = Field(default=None, ge=1, le=28)
    week: int | None = Field(default=None, ge=1, le=4, description="第N週 (with weekday)")
    weekday: int | None = Field(default=None, ge=0, le=6, description="0 = Monday")
    hour: int = Field(ge=0, le=23, description="Japan time")
    minute: int = Field(default=0, ge=0, le=59)


class MeetingSeriesEvent(DomainEvent):
    aggregate: ClassVar[str] = "meeting_series"
    id_field: ClassVar[str] = "series_id"
    series_id: Id


class MeetingSeriesStarted(MeetingSeriesEvent):
    type: Literal["MeetingSeriesStarted"] = "MeetingSeriesStarted"
    creates: ClassVar[tuple[str, ...]] = ("series_id",)
    kind: MeetingKind
    rule: RecurrenceRule
    convened_by: AgencyId
    members: tuple[AgencyId, ...] = Field(min_length=1)
    title: ShortText | None = Field(
        default=None, description="Plain, in events stored before it was sealed only")
    personal_title: FreeText | Sealed | None = None
    first_meeting_id: Id | None = Field(default=None, description="Its first occurrence")


class MeetingSeriesEnded(MeetingSeriesEvent):
    type: Literal["MeetingSeriesEnded"] = "MeetingSeriesEnded"
    ended_on: WorldDate
    reason: ShortText | None = Field(
        default=None, description="Plain, in events stored before it was sealed only")
    personal_reason: FreeText | Sealed | None = None
