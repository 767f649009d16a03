"""Operator actions that are themselves recorded (audit)."""

from __future__ import annotations

from typing import ClassVar, Literal

from contracts.base import DomainEvent, Id, ShortText

#: The actor's agency on operators' audit records (not an agency of the directory).
OPS_AGENCY = "ops"


class AuditEvent(DomainEvent):
    aggregate: ClassVar[str] = "audit"
    id_field: ClassVar[str] = "audit_id"
    audit_id: Id


class PersonalDataRevealed(AuditEvent):
    """An operator used ``tsunagu tail --reveal``."""

    type: Literal["PersonalDataRevealed"] = "PersonalDataRevealed"
    operator: ShortText
    scope: ShortText
    reason: ShortText | None = None


class DeadLetterDiscarded(AuditEvent):
    type: Literal["DeadLetterDiscarded"] = "DeadLetterDiscarded"
    operator: ShortText
    projection: ShortText
    stream_seq: int
    reason: ShortText
