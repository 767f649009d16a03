"""Sending the planned steps as commands on the migration subjects, one after the other,
each filled with the ids earlier replies gave; stopping at the first refusal.

Usage::

    result = await send_steps(nc, topology, plan_steps(ledger), on_step=bar.advance)
    print(result.summary())
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import nats.errors
from nats.aio.client import Client

from eventstore.commands import request_patiently
from eventstore.topology import Topology
from tsunagu.ledger.planner import Ref, Step
from tsunagu.ledger.rows import LedgerError

#: Command fields named in a refusal, as the ledger's columns.
COLUMNS: dict[str, str] = {
    "triaged_on": "開始日", "opened_on": "開始日", "started_on": "開始日",
    "ended_on": "終了日", "joined_on": "連携日", "agency_id": "機関ID",
    "applied_on": "申込日", "consent.given_on": "申込日", "assessed_on": "アセスメント日",
    "drafted_on": "作成日", "roles": "役割機関", "held_on": "開催日", "attendees": "出席機関",
    "members": "出席機関", "case_id": "相談者番号", "program": "事業", "scheduled_for": "開催日",
}


def migration_subject(topology: Topology, agency: str, command: str) -> str:
    return topology.migrate_subject(agency, command)


class MissingId(LookupError):
    """An id a step needs that no reply gave: ``raise MissingId("no case id for A-1")``."""


def resolve(value: Any, ids: dict[Ref, str], default: str | None = None) -> Any:
    """``value`` with every Ref replaced by its id (``default`` for ids not known yet)."""
    if isinstance(value, Ref):
        found = ids.get(value, default)
        if found is None:
            raise MissingId(f"no {value.kind} id for {value.key} (an earlier step failed)")
        return found
    if isinstance(value, dict):
        return {k: resolve(v, ids, default) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [resolve(v, ids, default) for v in value]
    return value


def reply_id(reply: dict[str, Any], kind: str) -> str:
    """The id of ``kind`` the reply names (``<kind>_id``, or the only one of ``<kind>_ids``)."""
    ids = reply.get("ids") or {}
    one, many = ids.get(f"{kind}_id"), ids.get(f"{kind}_ids")
    if isinstance(one, str):
        return one
    if isinstance(many, list) and len(many) == 1 and isinstance(many[0], str):
        return many[0]
    raise MissingId(f"the reply names no {kind}_id (ids: {', '.join(sorted(ids)) or 'none'})")


@dataclass
class Result:
    """What an import did: ``(await send_steps(nc, topo, steps)).summary()["created"]``."""

    steps: int = 0
    sent: int = 0
    created: int = 0
    replayed: int = 0
    by_command: Counter[str] = field(default_factory=Counter)
    error: LedgerError | None = None

    def summary(self) -> dict[str, Any]:
        return {"steps": self.steps, "sent": self.sent, "created": self.created,
                "replayed": self.replayed, "by_command": dict(sorted(self.by_command.items())),
                "error": str(self.error) if self.error else None}


def refusal(step: Step, payload: dict[str, Any], reply: dict[str, Any]) -> LedgerError:
    err = reply.get("error") or {}
    details = err.get("details")
    fields: list[Any] = []
    if isinstance(details, dict):
        # Deciders name the field in ``details.field``, or (directory checks) as a key whose
        # value is the one the command sent in that field.
        fields = [details.get("field"),
                  *(k for k, v in details.items() if k in payload and payload[k] == v)]
    elif isinstance(details, list):
        fields = [d.get("field") for d in details if isinstance(d, dict)]
    column = next((COLUMNS[f] for f in fields if f in COLUMNS), "")
    return LedgerError(step.sheet, step.row, column,
                       f"{step.command} refused ({step.label}): {err.get('code')}: "
                       f"{err.get('message')}")


def lanes_in_order(steps: list[Step]) -> list[list[int]]:
    """For each step, the steps it waits for: the previous step of each of its lanes (a case,
    a meeting). Steps of one lane go in the ledger's world-time order; lanes run side by
    side."""
    last: dict[str, int] = {}
    deps = []
    for i, step in enumerate(steps):
        deps.append([last[lane] for lane in step.lanes if lane in last])
        for lane in step.lanes:
            last[lane] = i
    return deps


class Sending:
    """One import run: replies, ids and the first refusal, shared by the lanes' tasks.

    ``ok = await Sending(nc, topology, steps, 30.0, None).send(0)``
    """

    def __init__(self, nc: Client, topology: Topology, steps: list[Step], timeout: float,
                 on_step: Callable[[Step], None] | None) -> None:
        self.nc, self.topology, self.steps, self.timeout = nc, topology, steps, timeout
        self.on_step = on_step
        self.result = Result(steps=len(steps))
        self.ids: dict[Ref, str] = {}
        self.errors: dict[int, LedgerError] = {}
        self.fatal: Exception | None = None

    def stopped(self) -> bool:
        return bool(self.errors) or self.fatal is not None

    async def send(self, i: int) -> bool:
        step, result = self.steps[i], self.result
        try:
            payload = resolve(step.payload, self.ids)
            body = json.dumps(payload, default=str, ensure_ascii=False)
            msg = await request_patiently(
                self.nc, migration_subject(self.topology, step.agency, step.command),
                body.encode(), timeout=self.timeout)
            reply = json.loads(msg.data)
        except MissingId as exc:
            self.errors[i] = LedgerError(step.sheet, step.row, "", str(exc))
            return False
        except nats.errors.NoRespondersError:
            self.fatal = RuntimeError(f"no service answers {step.command}: is the platform "
                                      "running (and this version able to migrate)?")
            return False
        except nats.errors.TimeoutError:
            self.fatal = RuntimeError(f"no reply to {step.command} ({step.label}) within "
                                      f"{self.timeout}s; run the import again to resume")
            return False
        result.sent += 1
        if not reply.get("ok"):
            self.errors[i] = refusal(step, payload, reply)
            return False
        try:
            for ref in step.captures:
                self.ids[ref] = reply_id(reply, ref.kind)
        except MissingId as exc:
            self.errors[i] = LedgerError(step.sheet, step.row, "", f"{step.command}: {exc}")
            return False
        result.by_command[step.command] += 1
        result.replayed += 1 if reply.get("replayed") else 0
        result.created += 0 if reply.get("replayed") else 1
        if self.on_step is not None:
            self.on_step(step)
        return True


async def send_steps(
    nc: Client, topology: Topology, steps: list[Step], *, timeout: float = 30.0,
    on_step: Callable[[Step], None] | None = None, parallel: int = 8,
) -> Result:
    """Send every step, ``parallel`` at a time across lanes; after a refusal nothing new is
    started, and the earliest refusal (in the ledger's order) is the result's error."""
    run = Sending(nc, topology, steps, timeout, on_step)
    deps = lanes_in_order(steps)
    done = [asyncio.Event() for _ in steps]
    ok = [False] * len(steps)
    gate = asyncio.Semaphore(max(1, parallel))

    async def one(i: int) -> None:
        try:
            for d in deps[i]:
                await done[d].wait()
            if run.stopped() or not all(ok[d] for d in deps[i]):
                return
            async with gate:
                if not run.stopped():
                    ok[i] = await run.send(i)
        finally:
            done[i].set()

    await asyncio.gather(*(one(i) for i in range(len(steps))))
    if run.fatal is not None:
        raise run.fatal
    if run.errors:
        run.result.error = run.errors[min(run.errors)]
    return run.result
