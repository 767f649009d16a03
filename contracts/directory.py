"""相談機関一覧表: the agency directory."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from contracts.base import AgencyId, DomainEvent, ShortText, WorldDate


class AgencyEvent(DomainEvent):
    aggregate: ClassVar[str] = "agency"
    id_field: ClassVar[str] = "agency_id"
    agency_id: AgencyId


class AgencyRegistered(AgencyEvent):
    type: Literal["AgencyRegistered"] = "AgencyRegistered"
    creates: ClassVar[tuple[str, ...]] = ("agency_id",)
    name: ShortText
    kana: ShortText | None = None
    category: ShortText = Field(description="One of the directory's controlled categories")
    contact: ShortText | None = None
    verified_at: WorldDate
    can_triage: bool = Field(default=False, description="May triage referrals (coordinator)")


class AgencyUpdated(AgencyEvent):
    type: Literal["AgencyUpdated"] = "AgencyUpdated"
    name: ShortText
    kana: ShortText | None = None
    category: ShortText
    contact: ShortText | None = None
    verified_at: WorldDate
    can_triage: bool = False


class AgencyRetired(AgencyEvent):
    type: Literal["AgencyRetired"] = "AgencyRetired"
    reason: ShortText
