"""Checking a command's precondition on one record: the one load-judge-refuse of the kit.

The precondition (``contracts.precondition.Precondition``) says which record and how to
judge its history, pure and written beside its events (e.g. ``contracts.directory.
active_entry``); this loads the record through the session, so its sequence is expected at
the append and a retry finds its events, and raises the judge's refusal as ``Forbidden``.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from contracts.precondition import Precondition, Refusal
from eventstore.errors import Forbidden
from eventstore.store import History

T = TypeVar("T")


class Loads(Protocol):
    """What of a command's ``Session`` this needs."""

    async def load(self, aggregate: str, aggregate_id: str) -> History: ...


async def refuse_unless(session: Loads, precondition: Precondition[T]) -> T:
    """What ``precondition.judge`` gives for the record's history; ``Forbidden`` with its
    message and the precondition's details when it refuses."""
    history = await session.load(precondition.aggregate, precondition.aggregate_id)
    verdict = precondition.judge([env.event for env in history.envelopes])
    if isinstance(verdict, Refusal):
        raise Forbidden(verdict.message, details=dict(precondition.details))
    return verdict
