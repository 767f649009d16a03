"""``tsunagu dlq retry`` of a dead delivery: the notifier sends it again and removes the
letter (``eventstore/letters.py``: a service settles its own dead letters). The delivery
is the one the letter names (``Tsunagu-Retry-Args``), never one the operator types."""

from __future__ import annotations

import json
from typing import Any

import structlog

from eventstore.admin import seq_arg
from eventstore.errors import InvalidInput, NotFound
from eventstore.letters import own_letter, remove
from eventstore.service import Runtime
from services.notifier.sender import DEAD_LETTERS, Sender

log = structlog.get_logger("tsunagu.notifier")


async def resend_delivery(sender: Sender, rt: Runtime, operator: str,
                          args: dict[str, Any]) -> dict[str, int]:
    seq = seq_arg(args, "dlq_seq") or 0
    letter = await own_letter(rt, seq, DEAD_LETTERS)
    try:
        named = json.loads(letter.headers.get("Tsunagu-Retry-Args") or "{}")
    except ValueError:
        named = {}
    channel, key = (named.get("channel"), named.get("key")) if isinstance(named, dict) else (
        None, None)
    if channel not in ("mail", "webhook") or not isinstance(key, str) or not key:
        raise InvalidInput(f"dead letter #{seq} names no delivery (channel and key)",
                           details=[{"field": "dlq_seq", "rule": "letter"}])
    count = await sender.resend(channel, key)
    if not count:
        raise NotFound(f"dead letter #{seq}: no dead {channel} delivery keyed {key!r} (sent "
                       "or resent already?); the letter stays")
    await remove(rt, letter)
    log.info("dead delivery resent", code="delivery_resent", operator=operator,
             channel=channel, count=count)
    return {"resent": count}
