"""The kit's one load-judge-refuse (``eventstore.preconditions.refuse_unless``), on a fake
session: the record is loaded through the session, the judge reads its events, a refusal
is raised as ``forbidden`` with the precondition's details, otherwise the judge's answer
is given back."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from contracts.base import DomainEvent
from contracts.precondition import Precondition, Refusal
from eventstore.errors import Forbidden
from eventstore.preconditions import refuse_unless
from eventstore.store import History, Stored
from tests.kit.fakes import agency_event


class FakeSession:
    """Histories by (aggregate, id); remembers what was loaded, as the real session does."""

    def __init__(self, histories: dict[tuple[str, str], History]) -> None:
        self.histories = histories
        self.loaded: list[tuple[str, str]] = []

    async def load(self, aggregate: str, aggregate_id: str) -> History:
        self.loaded.append((aggregate, aggregate_id))
        return self.histories.get((aggregate, aggregate_id), History([], 0))


def names(events: Sequence[DomainEvent]) -> list[str] | Refusal:
    """A toy judge: the record's names, refused when it has none."""
    if not events:
        return Refusal("the record has no history")
    return [e.name for e in events]  # type: ignore[attr-defined]


def history(*names_: str) -> History:
    envs = [agency_event("a1", name, updated=i > 0) for i, name in enumerate(names_)]
    return History([Stored(i + 1, env) for i, env in enumerate(envs)], len(envs))


async def test_a_precondition_that_holds_gives_back_the_judges_answer_of_the_loaded_record():
    session = FakeSession({("thing", "a1"): history("first", "second")})
    answer = await refuse_unless(session, Precondition("thing", "a1", names))
    assert answer == ["first", "second"]
    assert session.loaded == [("thing", "a1")]


async def test_a_refused_precondition_raises_forbidden_with_its_message_and_details():
    session = FakeSession({("thing", "a1"): history("first")})
    with pytest.raises(Forbidden) as refused:
        await refuse_unless(session, Precondition("thing", "a2", names, {"thing_id": "a2"}))
    assert refused.value.code == "forbidden"
    assert refused.value.message == "the record has no history"
    assert refused.value.details == {"thing_id": "a2"}
    assert session.loaded == [("thing", "a2")]
