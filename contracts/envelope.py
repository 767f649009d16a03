"""The envelope every stored event travels in."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field, SerializeAsAny

from contracts.base import (
    Actor,
    AwareDatetime,
    Contract,
    DomainEvent,
    Id,
    PersonalData,
    Sealed,
    ShortText,
    personal,
)


class StaffName(PersonalData):
    """The acting staff member's name (a command's ``staff``), sealed in the envelope with
    the key of the event's subject: it says who worked on a person's case, so it goes with
    their data when they are erased."""

    name: ShortText = personal("職員名")


class Envelope(Contract):
    """Metadata around one domain event, as stored on the event stream."""

    event_id: UUID = Field(description="Time-ordered UUID (v7); also the Nats-Msg-Id")
    type: str = Field(description="The event type (same as event.type)")
    schema_version: int
    aggregate: str = Field(description="Aggregate kind, e.g. 'case'")
    aggregate_id: Id
    occurred_at: AwareDatetime = Field(description="When it happened in the world")
    recorded_at: AwareDatetime = Field(description="When Tsunagu stored it")
    actor: Actor
    correlation_id: str = Field(max_length=128)
    causation_id: str = Field(max_length=128, description="Command id or event id that caused it")
    command_fingerprint: str | None = Field(
        default=None,
        pattern=r"^(sha256|hmac-sha256:[A-Za-z0-9][A-Za-z0-9_-]{0,63}):[0-9a-f]{64}$",
        description="Digest of the command's body, so a resent command_id with another body "
        "is refused (command_id_reused); absent in events stored before it existed",
    )
    event: Annotated[SerializeAsAny[DomainEvent], Field(description="The event itself")]
    sealed_staff: Sealed | None = Field(
        default=None, description="The acting staff member's name (StaffName), sealed with the "
        "event's key; ``actor.staff`` is then empty (events stored before carry it there)")
