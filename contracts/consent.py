"""利用申込書 and 本人同意: consent is a history, keyed by case."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field

from contracts.base import (
    AgencyId,
    DomainEvent,
    Id,
    PersonalData,
    Sealed,
    ShortText,
    WorldDate,
    personal,
)
from contracts.common import FreeText


class ConsentMethod(StrEnum):
    written = "written"
    oral = "oral"


class ConsentEvent(DomainEvent):
    aggregate: ClassVar[str] = "consent"
    id_field: ClassVar[str] = "case_id"
    case_id: Id


class ApplicationRecorded(ConsentEvent):
    """利用申込書: the person's application, with or without consent."""

    type: Literal["ApplicationRecorded"] = "ApplicationRecorded"
    person_id: Id
    applied_on: WorldDate
    with_consent: bool


class ConsentText(PersonalData):
    """A consent's free text (purposes, who obtained it, the signed form's reference): about
    the person, so sealed with their key and shredded with it."""

    purposes: tuple[ShortText, ...] = personal("利用目的")
    obtained_by_staff: ShortText | None = personal("取得した職員", default=None)
    form_ref: ShortText | None = personal("同意書の参照", default=None)


class ConsentRecorded(ConsentEvent):
    """A consent. Its free text is in the sealed ``personal`` block; events stored before
    it was sealed carry it in the plain ``purposes``, ``obtained_by_staff`` and ``form_ref``
    (read both with ``consent_text``)."""

    type: Literal["ConsentRecorded"] = "ConsentRecorded"
    creates: ClassVar[tuple[str, ...]] = ("consent_id",)
    consent_id: Id
    person_id: Id
    agencies: tuple[AgencyId, ...] = Field(min_length=1, description="Agencies it covers")
    purposes: tuple[ShortText, ...] = Field(
        default=(), description="Plain, in events stored before consent text was sealed only")
    method: ConsentMethod
    obtained_by: AgencyId
    obtained_by_staff: ShortText | None = Field(
        default=None, description="Plain, in events stored before consent text was sealed only")
    given_on: WorldDate
    valid_until: WorldDate | None = Field(default=None, description="Expires after this day")
    form_ref: ShortText | None = Field(
        default=None, description="Plain, in events stored before consent text was sealed only")
    personal: ConsentText | Sealed | None = None


def consent_text(event: ConsentRecorded) -> ConsentText | None:
    """A consent's free text: the unsealed block, else the plain fields of an event stored
    before it was sealed; None once the person's key is destroyed."""
    if isinstance(event.personal, ConsentText):
        return event.personal
    if event.personal is not None:
        return None
    return ConsentText(purposes=event.purposes, obtained_by_staff=event.obtained_by_staff,
                       form_ref=event.form_ref)


class ConsentWithdrawn(ConsentEvent):
    type: Literal["ConsentWithdrawn"] = "ConsentWithdrawn"
    consent_id: Id
    withdrawn_on: WorldDate
    reason: ShortText | None = Field(
        default=None, description="Plain, in events stored before reasons were sealed only")
    personal_reason: FreeText | Sealed | None = None


class ConsentRecorderNamed(ConsentEvent):
    """The lead agency names a member that may record the consents it obtains itself
    (never one that widens coverage to itself)."""

    type: Literal["ConsentRecorderNamed"] = "ConsentRecorderNamed"
    agency_id: AgencyId
    named_by: AgencyId
    named_on: WorldDate


class ConsentRefused(ConsentEvent):
    type: Literal["ConsentRefused"] = "ConsentRefused"
    person_id: Id
    refused_on: WorldDate
    reason: ShortText | None = Field(
        default=None, description="Plain, in events stored before reasons were sealed only")
    personal_reason: FreeText | Sealed | None = None


# ---- The one definition of "covered by consent", shared by every service (pure). -------


def consent_events(events: Iterable[object]) -> list[ConsentEvent]:
    return [e for e in events if isinstance(e, ConsentEvent)]


def active_consents(events: Iterable[object], on: date) -> list[ConsentRecorded]:
    """Consents valid on ``on``: given on or before it, not yet expired (``valid_until`` is
    the last valid day), and not withdrawn on or before it. Events may be in any order."""
    evs = consent_events(events)
    withdrawn = {
        e.consent_id: e.withdrawn_on for e in evs if isinstance(e, ConsentWithdrawn)
    }
    return [
        e
        for e in evs
        if isinstance(e, ConsentRecorded)
        and e.given_on <= on
        and (e.valid_until is None or on <= e.valid_until)
        and not (e.consent_id in withdrawn and withdrawn[e.consent_id] <= on)
    ]


def has_valid_consent(events: Iterable[object], on: date) -> bool:
    """Whether any valid consent covers the case on ``on`` (tabling at 重層的支援会議)."""
    return bool(active_consents(events, on))


def covers(events: Iterable[object], agency_id: str, on: date) -> bool:
    """Whether a valid consent on ``on`` covers ``agency_id`` (sharing personal data)."""
    return any(agency_id in c.agencies for c in active_consents(events, on))


def uncovered_by_expiry(events: Iterable[object], day: date) -> frozenset[str]:
    """Agencies whose view of the case becomes redacted on ``day`` because a consent
    expired: covered the day before by a consent whose last valid day it was, and covered by
    no valid consent on ``day`` (a withdrawn consent never expires: its withdrawal redacted
    already). Expiry is judged in Japan's days (``contracts.jst``); the casefile's timer
    sends these agencies the redacted view on ``day``.

    >>> k = ConsentRecorded(case_id="c1", consent_id="k1", person_id="p1",
    ...     agencies=("npo", "hokatsu"), method="written", obtained_by="hokatsu",
    ...     given_on=date(2026, 4, 1), valid_until=date(2026, 6, 30))
    >>> sorted(uncovered_by_expiry([k], date(2026, 7, 1)))
    ['hokatsu', 'npo']
    >>> uncovered_by_expiry([k], date(2026, 6, 30))
    frozenset()
    """
    before = day - timedelta(days=1)
    ending = [c for c in active_consents(events, before) if c.valid_until == before]
    evs = list(consent_events(events))
    return frozenset(a for c in ending for a in c.agencies if not covers(evs, a, day))


ConsentStatus = Literal["not_yet_given", "active", "expired", "withdrawn"]
CaseConsentState = Literal["consented", "withdrawn", "expired", "refused", "none"]


def consent_status(consent: ConsentRecorded, events: Iterable[object], on: date) -> ConsentStatus:
    """Where one recorded consent stands on ``on`` (expiry is computed, never an event)."""
    for e in consent_events(events):
        if (
            isinstance(e, ConsentWithdrawn)
            and e.consent_id == consent.consent_id
            and e.withdrawn_on <= on
        ):
            return "withdrawn"
    if on < consent.given_on:
        return "not_yet_given"
    if consent.valid_until is not None and on > consent.valid_until:
        return "expired"
    return "active"


def case_consent_state(events: Iterable[object], on: date) -> CaseConsentState:
    """The case's consent state on ``on``: consented while any consent is active, else the
    latest thing that happened on or before ``on`` (a withdrawal, an expiry, a refusal)."""
    evs = consent_events(events)
    if active_consents(evs, on):
        return "consented"
    withdrawn = {e.consent_id: e.withdrawn_on for e in evs if isinstance(e, ConsentWithdrawn)}
    latest: tuple[date, CaseConsentState] | None = None
    for e in evs:
        found: tuple[date, CaseConsentState] | None = None
        if isinstance(e, ConsentWithdrawn):
            found = (e.withdrawn_on, "withdrawn")
        elif isinstance(e, ConsentRefused):
            found = (e.refused_on, "refused")
        elif isinstance(e, ConsentRecorded) and e.valid_until is not None:
            ends = e.valid_until + timedelta(days=1)
            if withdrawn.get(e.consent_id, ends) >= ends:  # withdrawn first: never "expires"
                found = (ends, "expired")
        if found and found[0] <= on and (latest is None or found[0] >= latest[0]):
            latest = found
    return latest[1] if latest else "none"
