"""Reactors: react to events by running commands (e.g. a meeting's decision approves a plan).

Unlike a projection, a reaction is asynchronous I/O (it appends events), so the runner
awaits ``react`` for each event in order and only then stores the checkpoint. That makes it
at-least-once: after a crash a reaction may run again, so reactions must be idempotent —
use the triggering event's id as the command id and the executor returns the original reply.
"""

from __future__ import annotations

import functools
from typing import Any, Protocol

from sqlalchemy import Connection, MetaData

from contracts.envelope import Envelope
from eventstore.db import in_thread
from eventstore.projection import ApplyContext, Item, ProjectionRunner


class Reactor(Protocol):
    name: str
    aggregates: tuple[str, ...] | None

    async def react(self, env: Envelope, seq: int) -> None: ...


class _NoTables:
    """Adapts a reactor to the runner: no tables, apply is a no-op."""

    needs_personal = False

    def __init__(self, reactor: Reactor) -> None:
        self.reactor = reactor
        self.name = reactor.name
        self.aggregates = reactor.aggregates
        self.metadata = MetaData()

    def apply(self, conn: Connection, env: Envelope, ctx: ApplyContext) -> None:
        return None


class ReactorRunner(ProjectionRunner):
    def __init__(self, nc: Any, topology: Any, reactor: Reactor, engine: Any, **kw: Any) -> None:
        super().__init__(nc, topology, _NoTables(reactor), engine, **kw)
        self.reactor = reactor

    async def process(self, items: list[Item]) -> None:
        done = self.checkpoint
        for item in items:
            if item.seq <= max(done, self.checkpoint):
                continue  # reacted before, or delivered twice (even in one batch)
            if item.envelope is None:
                if item.error is None:  # another aggregate's event, read by catch-up only
                    done = item.seq
                else:
                    await self._process_one(item)  # decode errors: the dead-letter path
                continue
            await self._retrying(item, functools.partial(self._react, item))
            done = item.seq
        # React before the checkpoint moves: a crash before this write means the batch's
        # reactions run again on restart (they are idempotent), never that one is skipped.
        # One write per batch, not per event: on SQLite every write waits for the
        # projections' transactions on the same database (measured: 150 ms per reaction).
        if done > self.checkpoint:
            await in_thread(self._advance, done)
            self.checkpoint = done

    async def _react(self, item: Item) -> None:
        assert item.envelope is not None
        await self.reactor.react(item.envelope, item.seq)
        self.applied += 1
