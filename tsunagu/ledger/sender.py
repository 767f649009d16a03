"""Sending the planned steps as commands on the migration subjects, one after the other,
each filled with the ids earlier replies gave; stopping at the first refusal.

Usage::

    result = await send_steps(nc, topology, plan_steps(ledger), on_step=bar.advance)
    print(result.summary())
"""

from __future__ import annotations

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
    pass


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


async def send_steps(
    nc: Client, topology: Topology, steps: list[Step], *, timeout: float = 30.0,
    on_step: Callable[[Step], None] | None = None,
) -> Result:
    result = Result(steps=len(steps))
    ids: dict[Ref, str] = {}
    for step in steps:
        try:
            payload = resolve(step.payload, ids)
            body = json.dumps(payload, default=str, ensure_ascii=False)
            msg = await request_patiently(
                nc, migration_subject(topology, step.agency, step.command), body.encode(),
                timeout=timeout)
        except MissingId as exc:
            result.error = LedgerError(step.sheet, step.row, "", str(exc))
            return result
        except nats.errors.NoRespondersError as exc:
            raise RuntimeError(f"no service answers {step.command}: is the platform "
                               "running (and this version able to migrate)?") from exc
        reply = json.loads(msg.data)
        result.sent += 1
        if not reply.get("ok"):
            result.error = refusal(step, payload, reply)
            return result
        result.by_command[step.command] += 1
        if reply.get("replayed"):
            result.replayed += 1
        else:
            result.created += 1
        try:
            for ref in step.captures:
                ids[ref] = reply_id(reply, ref.kind)
        except MissingId as exc:
            result.error = LedgerError(step.sheet, step.row, "", f"{step.command}: {exc}")
            return result
        if on_step is not None:
            on_step(step)
    return result

