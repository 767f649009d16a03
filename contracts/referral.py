"""つなぐシート (referral) and its triage."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from contracts.base import (
    AgencyId,
    DomainEvent,
    Id,
    LongText,
    PersonalData,
    Sealed,
    ShortText,
    WorldDate,
    personal,
)
from contracts.common import AgeBand, AttachmentRef, Concern, FreeText, Sex


class HouseholdMember(PersonalData):
    relation: ShortText
    name: ShortText | None = None
    birth_date: WorldDate | None = None
    note: ShortText | None = None


class ReferralPersonal(PersonalData):
    """The personal part of a つなぐシート. Every field is optional."""

    name: ShortText | None = personal("氏名", default=None)
    kana: ShortText | None = personal("フリガナ (katakana)", default=None)
    birth_date: WorldDate | None = personal("生年月日", default=None)
    address: Annotated[str, Field(max_length=400)] | None = personal("住所", default=None)
    phone: Annotated[str, Field(max_length=40)] | None = personal("電話", default=None)
    household: tuple[HouseholdMember, ...] = personal("世帯構成", default=())
    summary: LongText = personal("相談の概要 (free text about the person)")
    contact_note: LongText | None = personal(
        "How to reach the person, or why not", default=None
    )


class ContactRoute(StrEnum):
    phone = "phone"
    visit = "visit"
    via_agency = "via_agency"
    not_reachable = "not_reachable"


class ReferralEvent(DomainEvent):
    aggregate: ClassVar[str] = "referral"
    id_field: ClassVar[str] = "referral_id"
    referral_id: Id


class ReferralSubmitted(ReferralEvent):
    type: Literal["ReferralSubmitted"] = "ReferralSubmitted"
    creates: ClassVar[tuple[str, ...]] = ("referral_id", "person_id")
    person_id: Id
    referring_agency: AgencyId
    contact_route: ContactRoute
    concerns: tuple[Concern, ...] = Field(min_length=1)
    suspected_abuse: bool = False
    sex: Sex = Sex.unknown
    age_band: AgeBand = AgeBand.unknown
    personal: ReferralPersonal | Sealed
    attachment: AttachmentRef | Sealed | None = None


class ReferralCorrected(ReferralEvent):
    type: Literal["ReferralCorrected"] = "ReferralCorrected"
    person_id: Id
    contact_route: ContactRoute
    concerns: tuple[Concern, ...] = Field(min_length=1)
    suspected_abuse: bool = False
    sex: Sex = Sex.unknown
    age_band: AgeBand = AgeBand.unknown
    personal: ReferralPersonal | Sealed
    attachment: AttachmentRef | Sealed | None = None


class ReferralWithdrawn(ReferralEvent):
    type: Literal["ReferralWithdrawn"] = "ReferralWithdrawn"
    reason: ShortText | None = Field(
        default=None, description="Plain, in events stored before reasons were sealed only")
    personal_reason: FreeText | Sealed | None = None
    person_id: Id | None = Field(
        default=None, description="Whose key seals the reason (absent in older events)")


class TriageOutcome(StrEnum):
    complex = "complex"  # 重層案件: opens a 多機関協働 case
    ordinary = "ordinary"  # 通常案件: handed to one agency
    returned = "returned"  # returned to the sender with a reason
    abuse_response = "abuse_response"  # routed to the abuse-response process


class ReferralTriaged(ReferralEvent):
    type: Literal["ReferralTriaged"] = "ReferralTriaged"
    outcome: TriageOutcome
    triaged_by: AgencyId
    case_id: Id | None = Field(default=None, description="Set when outcome is complex")
    assigned_agency: AgencyId | None = Field(default=None, description="Set when ordinary")
    reason: ShortText | None = Field(
        default=None, description="Plain, in events stored before reasons were sealed only")
    personal_reason: FreeText | Sealed | None = None
    person_id: Id
    triaged_on: WorldDate | None = Field(default=None, description="The decision's world date")


class PersonMatchDecided(ReferralEvent):
    """The coordinator's decision on a likely duplicate person (never automatic)."""

    type: Literal["PersonMatchDecided"] = "PersonMatchDecided"
    candidate_person_id: Id
    decision: Literal["link", "separate"]
    person_id: Id = Field(description="The person id the referral is about after the decision")
