"""A precondition of a command on one record, as data: which record to load, the pure
judgement of its history, and the details a refusal carries.

The rule is written beside its events (``contracts.directory.active_entry``); the kit's
``eventstore.preconditions.refuse_unless`` loads the record through the command's session
(so a retry finds it and its sequence is expected), judges it and raises the refusal as
``forbidden``. No service writes that load-judge-raise plumbing itself, and the kit learns
nothing of the domain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from contracts.base import DomainEvent

T = TypeVar("T")


@dataclass(frozen=True)
class Refusal:
    """Why the command may not go on: the message the sender reads."""

    message: str


@dataclass(frozen=True)
class Precondition(Generic[T]):
    """``judge`` reads the record's events and gives what the handler goes on with (e.g. the
    agency's standing) or the ``Refusal``; ``details`` go with the refusal."""

    aggregate: str
    aggregate_id: str
    judge: Callable[[Sequence[DomainEvent]], T | Refusal]
    details: Mapping[str, Any] = field(default_factory=dict)
