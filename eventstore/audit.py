"""The operators' audit door, written once: an audit event (``contracts/ops.py``) built with
a clear error for a bad field, and appended as a new audit aggregate. No decider: it records
an operator's act (a reveal, a dead letter discarded), it decides nothing.

    event = build(DeadLetterDiscarded, operator="ops", projection="casefile",
                  stream_seq=7, reason="壊れたデータ")
    seq = await record(store, event, "ops")
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from uuid6 import uuid7

from contracts.base import Actor, DomainEvent
from contracts.ops import OPS_AGENCY
from eventstore.codec import new_envelope
from eventstore.errors import InvalidInput
from eventstore.store import EventStore


def build(cls: type[DomainEvent], **fields: Any) -> DomainEvent:
    """The event with a fresh audit id; ``InvalidInput`` naming the first bad field."""
    try:
        return cls.model_validate({"audit_id": f"audit-{uuid7().hex}", **fields})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"{field}: {first['msg']}", code="invalid",
                           details=[{"field": field, "rule": first["type"]}]) from exc


async def record(store: EventStore, event: DomainEvent, operator: str) -> int:
    """Append the audit event (a new aggregate: expected sequence 0); its stream sequence."""
    env = new_envelope(event, Actor(agency_id=OPS_AGENCY, staff=operator[:200]))
    [seq] = await store.append([env], expected={(env.aggregate, env.aggregate_id): 0})
    return seq
