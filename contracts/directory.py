"""相談機関一覧表: the agency directory."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from contracts.base import AgencyId, DomainEvent, ShortText, WorldDate
from contracts.precondition import Precondition, Refusal


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


# ---- an agency's standing: the one fold and the rules every service judges with ----------


@dataclass(frozen=True)
class Agency:
    """An agency's entry as the directory's events have it now."""

    agency_id: str
    active: bool
    can_triage: bool = False
    category: str = ""


def evolve_agency(standing: Agency | None, event: DomainEvent) -> Agency | None:
    """The standing after one more event of the agency. A registration or an update states
    the whole entry, so the latest directory event alone decides whether it is active (a
    projection can judge one event at a time)."""
    if isinstance(event, AgencyRegistered | AgencyUpdated):
        return Agency(event.agency_id, True, event.can_triage, event.category)
    if isinstance(event, AgencyRetired):
        return replace(standing or Agency(event.agency_id, False), active=False)
    return standing


def agency_standing(history: Iterable[DomainEvent]) -> Agency | None:
    """An agency's standing from its history; None when it was never registered.

    >>> agency_standing([]) is None
    True
    >>> agency_standing([AgencyRetired(agency_id="kita", reason="統合")]).active
    False
    """
    standing: Agency | None = None
    for event in history:
        standing = evolve_agency(standing, event)
    return standing


def is_active(standing: Agency | None) -> bool:
    """Registered (or updated) and not retired since."""
    return standing is not None and standing.active


def inactive_agency(agency_id: str, standing: Agency | None,
                    role: str | None = "sender") -> str | None:
    """Why ``agency_id`` may not send a command (or be named in one as ``role``): it is not
    in the directory or was retired. None when it is an active entry. Services refuse with
    this message as ``forbidden``, details ``{"agency_id": ...}``.

    >>> inactive_agency("kita", None, "lead_agency")
    "agency 'kita' (lead_agency) is not an active entry of the agency directory"
    """
    if is_active(standing):
        return None
    who = f"agency {agency_id!r}" + (f" ({role})" if role else "")
    return f"{who} is not an active entry of the agency directory"


def _entry_or_refusal(agency_id: str, role: str | None,
                      history: Sequence[DomainEvent]) -> Agency | Refusal:
    standing = agency_standing(history)
    refusal = inactive_agency(agency_id, standing, role)
    if refusal is not None:
        return Refusal(refusal)
    assert standing is not None  # inactive_agency refuses an agency never registered
    return standing


def active_entry(agency_id: str, role: str | None = "sender") -> Precondition[Agency]:
    """The one check every service makes of an agency that sends a command or is named in
    one (as ``role``): its directory entry, refused by ``inactive_agency`` as ``forbidden``
    with details ``{"agency_id": ...}``. Handlers run it with
    ``eventstore.preconditions.refuse_unless``, which gives back the active ``Agency``.

    >>> active_entry("kita", "lead_agency").judge([]).message
    "agency 'kita' (lead_agency) is not an active entry of the agency directory"
    >>> active_entry("kita").judge([AgencyUpdated(agency_id="kita", name="北", category="警察",
    ...                             verified_at="2025-04-01")]).active
    True
    """
    return Precondition("agency", agency_id, partial(_entry_or_refusal, agency_id, role),
                        {"agency_id": agency_id})


def may_coordinate(standing: Agency | None, configured: Iterable[str] = ()) -> bool:
    """Who may triage referrals and convene meetings (the coordination): an active entry
    marked ``can_triage``, or one the city names in its setting (``configured``,
    ``CoordinationSettings.triage_agencies``, TSUNAGU_TRIAGE_AGENCIES).

    >>> may_coordinate(Agency("fukushi", active=True), configured=["fukushi"])
    True
    >>> may_coordinate(Agency("fukushi", active=False, can_triage=True))
    False
    """
    if standing is None or not standing.active:
        return False
    return standing.can_triage or standing.agency_id in set(configured)


class CoordinationSettings(BaseModel):
    """The city's one list of coordinating agencies, declared once for the services that
    judge ``may_coordinate`` (referral triages, meeting convenes): each service's settings
    class inherits it beside ``BaseSettings`` and so reads the same TSUNAGU_TRIAGE_AGENCIES.
    A plain model here, so the contracts read no environment themselves."""

    triage_agencies: tuple[str, ...] = Field(
        default=(), description="Agencies that coordinate besides directory entries with "
        "can_triage (TSUNAGU_TRIAGE_AGENCIES, a JSON list)")
