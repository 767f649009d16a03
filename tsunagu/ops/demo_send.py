"""The demo through the door: ``DemoWorld``'s story sent to the running services as commands.

Every fact of the story becomes the command an agency would send (the directory goes in
through the directory import, the operators' door for it); what the services derive
themselves — the case a triage opens, a plan approved by a meeting's decision — is left to
them. The story is in the past, so its commands go on the migration subjects
(``<prefix>.migrate.<agency>.<command>``) with ``occurred_at`` set to when they happened.

Command ids derive from the seed and the story (``d<seed>-<story>-<n>``), so a second run
sends the same commands and every reply says ``replayed``: nothing is written twice. Ids the
services create (case, meeting, enrollment, plan, consent, agenda item) are read from the
replies and the events they name, never guessed.

The story is told in world order where order matters: each person's facts in order, each
meeting's in order, and a meeting's facts about a case in order with that person's
(``Story.lanes``); everything else runs concurrently (``CONCURRENCY`` commands at once).
A command whose
consequence is decided by a reactor (a plan tabled, a decision applied to the case) waits
until the case shows it, so the story's next steps find the case as the world had it.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any

from nats.aio.client import Client

from contracts.base import Contract, DomainEvent
from eventstore.codec import decode
from eventstore.commands import request_patiently
from eventstore.errors import DomainError
from eventstore.store import EventStore
from eventstore.topology import Topology
from services.casefile.reactor import reaction_command_id
from tsunagu.ops import demo_world as W
from tsunagu.ops.demo import DemoWorld, Item
from tsunagu.ops.demo_story import Story, directory_csv

#: Commands in flight at once (the services take up to 64 each).
CONCURRENCY = 16
REACTION_TIMEOUT = 60.0


class DemoRefused(DomainError):
    code = "demo_refused"


class Sender:
    """Sends one story's commands and remembers the ids the services created.

    >>> sender = Sender(nc, Topology("tsunagu"), seed=7)
    >>> reply = await sender.send("ag-shakyo", "open_case", {...}, "d7-demo-0013-1")
    """

    def __init__(self, nc: Client, topology: Topology, seed: int) -> None:
        self.nc = nc
        self.topology = topology
        self.seed = seed
        self.store = EventStore(nc, topology, timeout=30)
        self.js = nc.jetstream(timeout=30)
        self.limit = asyncio.Semaphore(CONCURRENCY)
        self.refs: dict[str, str] = {}
        self.counts: Counter[str] = Counter()

    async def send(self, agency: str, command: str, body: dict[str, Any], command_id: str
                   ) -> dict[str, Any]:
        payload = json.dumps({**body, "command_id": command_id}, default=_json).encode()
        async with self.limit:
            msg = await request_patiently(
                self.nc, self.topology.migrate_subject(agency, command), payload,
                timeout=30, patience=30)
        reply: dict[str, Any] = json.loads(msg.data)
        if not reply.get("ok"):
            error = reply.get("error") or {}
            raise DemoRefused(
                f"{command} ({command_id}) from {agency} was refused: "
                f"{error.get('code')}: {error.get('message')}",
                details={"command": command, "command_id": command_id},
            )
        self.counts["replayed" if reply["replayed"] else "new"] += 1
        self.counts["events"] += 0 if reply["replayed"] else len(reply["events"])
        return reply

    async def created(self, reply: dict[str, Any], event_type: str) -> list[DomainEvent]:
        """The events of ``event_type`` a reply names, as stored."""
        out = []
        for ref in reply["events"]:
            if ref["type"] == event_type:
                raw = await self.js.get_msg(self.topology.events_stream, ref["seq"])
                out.append(decode(raw.data or b"").event)
        return out

    async def await_reaction(self, case_id: str, reply: dict[str, Any], trigger: str) -> None:
        """Wait until the casefile's reactor has answered the reply's ``trigger`` event on
        the case (the reaction's events carry the reactor's command id as causation)."""
        event_id = next(e["event_id"] for e in reply["events"] if e["type"] == trigger)
        cause = reaction_command_id(uuid.UUID(event_id))
        subject = self.topology.aggregate_filter("case", case_id)
        deadline = time.monotonic() + REACTION_TIMEOUT
        delay = 0.01
        while not any(s.envelope.causation_id == cause
                      for s in await self.store.read(subject)):
            if time.monotonic() > deadline:
                raise DemoRefused(
                    f"case {case_id}: the casefile service did not apply {trigger} within "
                    f"{REACTION_TIMEOUT:.0f}s (is it running?)", code="reaction_timeout")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)


def _json(value: object) -> Any:
    if isinstance(value, Contract):
        return value.model_dump(mode="json")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


async def _tell(story: Story, items: list[Item], progress: Callable[[int, int], None] | None
                ) -> None:
    """Each fact once every earlier fact of its lanes is told (a chain per lane)."""
    last: dict[str, asyncio.Task[None]] = {}
    done = 0

    async def one(it: Item, after: list[asyncio.Task[None]]) -> None:
        nonlocal done
        for task in after:
            await task
        await story.tell(it)
        done += 1
        if progress is not None:
            progress(done, len(items))

    tasks = []
    for it in items:
        lanes = story.lanes(it)
        task = asyncio.create_task(one(it, [last[lane] for lane in lanes if lane in last]))
        last.update(dict.fromkeys(lanes, task))
        tasks.append(task)
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def load_demo(nc: Client, topology: Topology, seed: int = 7, people: int = 200,
                    progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    world = DemoWorld(seed, people)
    items = world.build()
    sender = Sender(nc, topology, seed)
    directory = await _directory(nc, topology, items)
    story = Story(sender, world)
    await _tell(story, [it for it in items if it.event.type != "AgencyRegistered"], progress)
    return {
        "commands": sender.counts["new"] + sender.counts["replayed"],
        "new": sender.counts["new"], "replayed": sender.counts["replayed"],
        "appended": sender.counts["events"], "directory_changes": directory,
        "agencies": len(W.AGENCIES), "people": people, "meetings": len(world.meetings),
        "by_type": dict(sorted(world.counts.items())),
        "elapsed_s": round(time.perf_counter() - started, 3),
    }


async def _directory(nc: Client, topology: Topology, items: list[Item]) -> int:
    """The agencies, through the directory import (idempotent: only differences go in)."""
    from services.referral.directory_import import import_directory

    raw = directory_csv([it.event for it in items if it.event.type == "AgencyRegistered"])
    result = await import_directory(nc, topology, "demo-directory.csv", raw,
                                    today=date.today(), operator="demo")
    if not result.ok:
        raise DemoRefused("the demo directory was refused: " + "; ".join(result.errors))
    return sum(result.counts.values())
