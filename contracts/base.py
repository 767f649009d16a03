"""Base classes of the public contracts: frozen models, events, commands, the envelope.

Everything here is pure data. Other agencies' systems integrate against the JSON Schema
exported from these models, so field names are part of the public interface.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

#: Identifiers travel inside NATS subjects, so they are single subject tokens:
#: no dots, no wildcards, no spaces.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
AgencyId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]

#: Free text is bounded so one field cannot blow up a message.
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
LongText = Annotated[str, StringConstraints(max_length=4000)]

#: Dates in the world are kept within a sane range (the program exists since 2021; people
#: are born after 1900). Anything else is a typo that must be refused, not stored.
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2100, 12, 31)


def _date_in_range(value: date) -> date:
    if not MIN_DATE <= value <= MAX_DATE:
        raise ValueError(f"date {value.isoformat()} is outside {MIN_DATE} .. {MAX_DATE}")
    return value


WorldDate = Annotated[date, AfterValidator(_date_in_range)]


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a timezone offset (e.g. +09:00 or Z)")
    if not MIN_DATE <= value.date() <= MAX_DATE:
        raise ValueError(f"timestamp {value.isoformat()} is out of range")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]


def personal(description: str = "", default: Any = ...) -> Any:
    """Mark a field as personal data: encrypted in events, masked in logs and redacted views.
    Without ``default`` the field is required."""
    return Field(default, description=description or None, json_schema_extra={"x-personal": True})


class Contract(BaseModel):
    """Frozen, strict about unknown fields: a typo in an agency's payload is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


class DomainEvent(Contract):
    """A fact. Subclasses set ``type`` (Literal) and ``aggregate`` (the subject token)."""

    aggregate: ClassVar[str]
    #: The field holding the aggregate's id (its subject token).
    id_field: ClassVar[str]
    #: Fields naming the records this event creates (ids in a command's reply, by field
    #: name), e.g. ``("enrollment_id",)``.
    creates: ClassVar[tuple[str, ...]] = ()
    type: str
    schema_version: int = 1

    def aggregate_id(self) -> str:
        """The id of the aggregate the event belongs to."""
        return str(getattr(self, self.id_field))

    def personal_key_id(self) -> str:
        """Whose data key seals the event's personal blocks: the person it names, else its
        aggregate. Events that carry one person's data under another aggregate (a meeting's
        material about a case) override this, so erasing that person shreds it too."""
        person = getattr(self, "person_id", None)
        return str(person) if person else self.aggregate_id()


class Command(Contract):
    """A request from an agency. ``command_id`` makes retries idempotent."""

    type: str
    schema_version: int = 1
    command_id: Annotated[str, StringConstraints(pattern=ID_PATTERN)] = Field(
        description="Chosen by the sender; resending the same id returns the original reply."
    )
    staff: ShortText | None = Field(default=None, description="Staff member acting")
    occurred_at: AwareDatetime | None = Field(
        default=None, description="When it happened in the world (default: now)"
    )


class PersonalData(Contract):
    """A block of personal fields. In stored events it is replaced by ``Sealed``."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_extra={"x-personal": True}
    )


class Sealed(Contract):
    """Ciphertext of a ``PersonalData`` block (AES-GCM, per-subject key).

    After the key is destroyed (crypto-shredding) it can never be read again.
    """

    sealed: Literal["aes-256-gcm/v1"] = "aes-256-gcm/v1"
    key_id: Id
    nonce: str
    ciphertext: str


class Actor(Contract):
    agency_id: AgencyId
    staff: ShortText | None = None


def utcnow() -> datetime:
    return datetime.now(UTC)
