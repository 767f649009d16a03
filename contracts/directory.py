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


#: Ids no agency may have: they name the platform's own roles in subjects and credentials
#: (``<prefix>.cmd.operator.…`` is the operator's erasure subject, ``<prefix>.migrate.…``
#: the ledger import's), so an agency holding one would hold those powers.
RESERVED_AGENCY_IDS = frozenset({
    "operator", "ops", "admin", "migrate", "system", "platform",
    "referral", "casefile", "meeting", "stats",
})


def reserved_agency_id(agency_id: str) -> str | None:
    """Why ``agency_id`` may not be an agency's id, or None when it may (case-insensitive:
    ``Operator`` would be as confusing in a log as ``operator``).

    >>> "reserved" in reserved_agency_id("operator")
    True
    >>> reserved_agency_id("hokatsu") is None
    True
    """
    if agency_id.lower() not in RESERVED_AGENCY_IDS:
        return None
    names = ", ".join(sorted(RESERVED_AGENCY_IDS))
    return f"{agency_id!r} is reserved for the platform ({names}): choose another id"
