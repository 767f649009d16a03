"""Erasure of a person's personal data (crypto-shredding)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, Literal

from pydantic import Field

from contracts.base import DomainEvent, Id, ShortText
from contracts.common import AgeBand


class PersonEvent(DomainEvent):
    aggregate: ClassVar[str] = "person"
    id_field: ClassVar[str] = "person_id"
    person_id: Id


class PersonDataErased(PersonEvent):
    """The person's key is destroyed; their personal data can never be read again.

    ``age_bands`` keeps what the statistics need (the 年代 at the start of each of the
    person's enrollments, by enrollment id), so counts stay correct after erasure.
    """

    type: Literal["PersonDataErased"] = "PersonDataErased"
    reason: ShortText
    erased_by: ShortText
    key_ids: tuple[Id, ...] = Field(default=(), description="The data keys destroyed")
    meeting_ids: tuple[Id, ...] = Field(
        default=(), description="Meetings that tabled the person's cases: the keys of their "
        "own free text (title, reasons) are among key_ids")
    referral_ids: tuple[Id, ...] = Field(
        default=(), description="The person's referrals (their reasons are shredded too)")
    age_bands: dict[str, AgeBand] = Field(default_factory=dict)


def was_erased(person_history: Iterable[DomainEvent]) -> bool:
    """Whether a person's data was erased (開示・消去): then nothing personal may be added
    about them, whichever service is asked (casefile and meeting both refuse with it).

        >>> was_erased([PersonDataErased(person_id="p1", reason="請求", erased_by="ag-x")])
        True
    """
    return any(isinstance(event, PersonDataErased) for event in person_history)
