"""One readable line per event, with personal data masked, and the filters tail and the
console share (case, type, agency)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import BaseModel

from contracts.base import PersonalData, Sealed
from contracts.envelope import Envelope
from contracts.jst import show_jst

MASK = "«個人情報»"

#: Top-level event fields that name an agency taking part (for ``--agency``).
AGENCY_FIELDS = (
    "agency_id", "referring_agency", "triaged_by", "assigned_agency", "agencies",
    "obtained_by", "coordinator", "assessed_by", "drafted_by", "recorded_by", "lead_agency",
    "convened_by", "members", "attendees",
)


def _is_personal_field(model: BaseModel, name: str) -> bool:
    info = type(model).model_fields.get(name)
    extra = info.json_schema_extra if info is not None else None
    return isinstance(extra, dict) and bool(extra.get("x-personal"))


def masked(value: Any) -> Any:
    """A JSON-able copy of ``value`` with every personal block or personal field masked."""
    if isinstance(value, PersonalData | Sealed):
        return MASK
    if isinstance(value, BaseModel):
        return {
            name: MASK if _is_personal_field(value, name) and getattr(value, name) is not None
            else masked(getattr(value, name))
            for name in type(value).model_fields
        }
    if isinstance(value, tuple | list):
        return [masked(v) for v in value]
    if isinstance(value, dict):
        return {str(k): masked(v) for k, v in value.items()}
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def revealed(value: Any) -> Any:
    """JSON-able, nothing masked (only after an audited ``--reveal``)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


def event_fields(env: Envelope, reveal: bool = False) -> dict[str, Any]:
    data = revealed(env.event) if reveal else masked(env.event)
    assert isinstance(data, dict)
    for key in ("type", "schema_version"):
        data.pop(key, None)
    return data


def _short(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ",".join(_short(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ",".join(
            f"{k}:{_short(v)}" for k, v in value.items() if v not in (None, [], {})
        )
        return "{" + inner + "}"
    return str(value)


def line(seq: int, env: Envelope, reveal: bool = False) -> str:
    """``#seq time Type aggregate/id by agency  key=value …`` (masked unless revealed)."""
    fields = event_fields(env, reveal)
    agg_key = f"{env.aggregate}_id"
    parts = [
        f"{k}={_short(v)}" for k, v in fields.items()
        if k != agg_key and v not in (None, [], {}, "")
    ]
    when = env.occurred_at.isoformat(timespec="seconds")
    return (
        f"#{seq} {when} {env.type} {env.aggregate}/{env.aggregate_id} "
        f"by {env.actor.agency_id}  " + " ".join(parts)
    ).rstrip()


def as_json(seq: int, env: Envelope, reveal: bool = False) -> dict[str, Any]:
    return {
        "seq": seq,
        "type": env.type,
        "aggregate": env.aggregate,
        "aggregate_id": env.aggregate_id,
        "occurred_at": env.occurred_at.isoformat(),
        "recorded_at": env.recorded_at.isoformat(),
        "occurred_jst": show_jst(env.occurred_at),  # what a person reads (data stays UTC)
        "agency": env.actor.agency_id,
        "event_id": str(env.event_id),
        "case_id": case_of(env),
        "event": event_fields(env, reveal),
    }


def case_of(env: Envelope) -> str | None:
    if env.aggregate in ("case", "consent"):
        return env.aggregate_id
    case_id = getattr(env.event, "case_id", None)
    return str(case_id) if case_id else None


def agencies_of(env: Envelope) -> set[str]:
    found = {env.actor.agency_id}
    event = env.event
    for name in AGENCY_FIELDS:
        value = getattr(event, name, None)
        if isinstance(value, str):
            found.add(value)
        elif isinstance(value, tuple):
            found.update(v for v in value if isinstance(v, str))
    for role in getattr(event, "roles", ()) or ():
        found.add(role.agency_id)
    return found


@dataclass(frozen=True)
class EventFilter:
    case: str | None = None
    type: str | None = None
    agency: str | None = None

    def subject(self, prefix: str) -> str:
        """The narrowest subject filter JetStream can apply for us."""
        if self.type:
            return f"{prefix}.events.*.*.{self.type}"
        return f"{prefix}.events.>"

    def matches(self, env: Envelope) -> bool:
        if self.type and env.type != self.type:
            return False
        if self.case and case_of(env) != self.case:
            return False
        return not (self.agency and self.agency not in agencies_of(env))
