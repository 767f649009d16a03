"""What the casefile projection writes once per batch instead of once per event, and what it
reads once per batch.

A rebuild applies a thousand events per transaction; per event the projection ran about four
statements, and the cost around each one was most of its time (bench/README.md). Two writes
no later event of the same transaction reads are deferred to its end and written in one
executemany each: the timeline rows, and each changed case's stage and last sequence (computed
once from the case's final rows, which is what the UPDATE after its last event computed).
Whether a case or a person is erased, which most events ask, is read once per transaction and
kept up to date where this projection changes it. The rows are those of an event-by-event
apply (tests/casefile/test_batched_writes.py).

The flush is registered as the transaction's first ``before_commit`` work, so the feeds (the
views read at the end of the transaction) see the stage as of the last event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, bindparam, select

from eventstore import fastsql
from eventstore.db import upsert_many
from eventstore.projection import ApplyContext
from services.casefile import tables as t

_KEY = "casefile.batch"
_CASE_ERASED = select(t.cases.c.erased).where(t.cases.c.case_id == bindparam("case_id"))
_PERSON_ERASED = select(t.erased_persons.c.person_id).where(
    t.erased_persons.c.person_id == bindparam("person_id"))
_UNKNOWN = object()


@dataclass
class Batch:
    """One transaction's deferred writes and cached reads."""

    #: The UPDATE that recomputes a case's stage (projection.py), by key_case_id/new_last_seq.
    restage: Any
    timeline: list[dict[str, Any]] = field(default_factory=list)
    #: case id → stream sequence of its last event in this transaction (insertion order kept).
    staged: dict[str, int] = field(default_factory=dict)
    #: case id → erased (None: no such case); person id → erased.
    case_erased: dict[str, bool | None] = field(default_factory=dict)
    person_erased: dict[str, bool] = field(default_factory=dict)

    def flush(self, conn: Connection) -> None:
        upsert_many(conn, t.timeline, self.timeline, ["case_id", "seq"])
        fastsql.run_many(conn, self.restage, [{"key_case_id": cid, "new_last_seq": seq}
                                              for cid, seq in self.staged.items()])
        self.timeline, self.staged = [], {}

    def case_is_erased(self, conn: Connection, case_id: str) -> bool | None:
        """Whether the case is erased; None when this projection has no such case."""
        known = self.case_erased.get(case_id, _UNKNOWN)
        if known is _UNKNOWN:
            row = fastsql.first(conn, _CASE_ERASED, {"case_id": case_id})
            known = self.case_erased[case_id] = None if row is None else bool(row[0])
        return known  # type: ignore[return-value]

    def person_is_erased(self, conn: Connection, person_id: str) -> bool:
        known = self.person_erased.get(person_id)
        if known is None:
            row = fastsql.first(conn, _PERSON_ERASED, {"person_id": person_id})
            known = self.person_erased[person_id] = row is not None
        return known


def of(ctx: ApplyContext, restage: Any) -> Batch:
    """This transaction's batch; the first call registers its flush before any other
    ``before_commit`` work of the projection."""
    found: Batch | None = ctx.scratch.get(_KEY)
    if found is None:
        found = ctx.scratch[_KEY] = Batch(restage)
        ctx.before_commit(_KEY, found.flush)
    return found
