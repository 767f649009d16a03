"""The admin actions of a service (the operator's `tsunagu status`, `rebuild`, `dlq retry`).
Only requests from the operator's and the admin's inboxes reach them (``service``)."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from eventstore import letters
from eventstore.errors import DomainError, InvalidInput
from eventstore.reactor import ReactorRunner

if TYPE_CHECKING:
    from eventstore.service import Runtime


async def admin_action(
    runtime: Runtime, action: str, args: dict[str, Any], reply: str | None = None
) -> dict[str, Any]:
    """``<prefix>.admin.<service>.<action>``: status, rebuild (every projection, or
    ``projection``, up to ``to_seq``), replay (one stored event into ``projection``; with
    ``dlq_seq`` its dead letter is removed once applied), discard (a dead letter this
    service settles: recorded, then removed; ``eventstore/letters.py``) and the
    service's operator-only queries (answered with the reader named by its reply inbox)."""
    if action == "status":
        return {"ok": True, "result": runtime.status()}
    if action == "rebuild":
        only, to_seq = args.get("projection"), seq_arg(args, "to_seq", required=False)
        if only is not None and (not isinstance(only, str) or only not in runtime.runners):
            raise InvalidInput(f"no projection {only!r} in {runtime.spec.name}")
        results = {}
        subject = f"{runtime.topology.prefix}.admin.{runtime.spec.name}.progress"
        for name, runner in runtime.runners.items():
            if only and only != name:
                continue
            if isinstance(runner, ReactorRunner):
                continue  # reactions already happened; replaying them is not a rebuild

            def progress(done: int, total: int, name: str = name) -> None:
                body = json.dumps({"projection": name, "done": done, "total": total}).encode()
                asyncio.get_running_loop().create_task(
                    runtime.broker.connection.publish(subject, body)
                )

            rate = await runner.rebuild(to_seq, progress)
            results[name] = {"checkpoint": runner.checkpoint, "events_per_s": round(rate)}
        return {"ok": True, "result": results}
    if action in runtime.spec.operator_queries:
        from eventstore.service import operator_of

        # The handler gets the reader's identity where others get the asking agency.
        query = runtime.spec.operator_queries[action]
        return {"ok": True, "result": await query(runtime, operator_of(reply), args)}
    if action == "replay":
        return await _replay(runtime, args)
    if action == "discard":
        from eventstore.service import UNNAMED, operator_of

        letter = await letters.own_letter(runtime, seq_arg(args, "dlq_seq") or 0)
        # An operator is named by its private inbox (server-enforced); the admin and an
        # unauthenticated local platform can only say who they are.
        who = operator_of(reply)
        declared = args.get("operator")
        if who == UNNAMED and isinstance(declared, str) and declared.strip():
            who = declared.strip()[:200]
        return {"ok": True, "result": await letters.discard(runtime, who, letter,
                                                            args.get("reason"))}
    raise InvalidInput(f"unknown admin action {action!r}")


async def _replay(runtime: Runtime, args: dict[str, Any]) -> dict[str, Any]:
    """One stored event into a projection; with ``dlq_seq``, the dead letter that names
    them is removed once it applied."""
    wanted = args.get("projection")
    target = runtime.runners.get(wanted) if isinstance(wanted, str) else None
    if target is None:
        raise InvalidInput(f"no projection {wanted!r} in {runtime.spec.name}")
    seq = seq_arg(args, "seq") or 0
    letter = None
    if args.get("dlq_seq") is not None:
        letter = await letters.own_letter(runtime, seq_arg(args, "dlq_seq") or 0, wanted)
        if letter.stream_seq != seq:
            raise InvalidInput(f"dead letter #{letter.dlq_seq} names event {letter.stream_seq}, "
                               f"not {seq}", details=[{"field": "seq", "rule": "letter"}])
    try:
        applied = await target.replay_one(seq)
    except DomainError:
        raise
    except Exception as exc:  # still failing: the operator sees why, as the dead letter says
        raise DomainError(f"{type(exc).__name__}: {exc}", code="replay_failed") from exc
    if applied and letter is not None:
        await letters.remove(runtime, letter)
    return {"ok": applied, "result": {"applied": applied}}


def seq_arg(args: dict[str, Any], name: str, required: bool = True) -> int | None:
    value = args.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidInput(f"{name} must be a stream sequence (a positive integer)",
                           details=[{"field": name, "rule": "positive_int"}])
    return value
