"""Reading a stream for operators: history by batched direct get, live by an ordered
consumer. Yields raw messages (seq, subject, data, headers); decoding is the caller's."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy

from eventstore.directget import DirectGet, Found
from eventstore.errors import ReadFailed

BATCH = 500
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


#: A stored message (seq, subject, data, headers), read either way.
Raw = Found


def parse_since(value: str) -> int | datetime:
    """``SEQ`` (a stream sequence) or a duration like ``10m``, ``2h``, ``3d``, ``30s``."""
    text = value.strip()
    if text.isdigit():
        return max(1, int(text))
    m = _DURATION.match(text)
    if not m:
        raise ValueError(
            f"--since {value!r}: give a stream sequence (e.g. 1200) or a duration "
            f"(e.g. 30s, 10m, 2h, 3d)"
        )
    return datetime.now(UTC) - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


async def _direct(
    nc: Client, stream: str, request: dict, timeout: float = 5.0
) -> tuple[list[Raw], int]:
    """One batched direct get (the kit's); returns the messages and how many more match."""
    getter = DirectGet(nc, stream, timeout)
    try:
        return await getter.batch(request)
    except ReadFailed as exc:
        # The operators' tools report a failed read as a RuntimeError (exit 1, not a refusal).
        raise RuntimeError(f"reading {stream} failed: {_why(exc)}") from exc
    finally:
        await getter.close()


def _why(exc: ReadFailed) -> str:
    details = exc.details or {}
    if details.get("status"):
        return f"{details['status']} {details.get('headers')}"
    return exc.message.rsplit(": ", 1)[-1]


async def seq_at(nc: Client, stream: str, when: datetime) -> int:
    """The first sequence stored at or after ``when`` (last + 1 if none)."""
    found, _ = await _direct(nc, stream, {"start_time": when.isoformat(), "batch": 1})
    if found:
        return found[0].seq
    info = await nc.jetstream().stream_info(stream)
    return int(info.state.last_seq) + 1


async def history(
    nc: Client, stream: str, subject: str, start_seq: int = 1, up_to: int | None = None
) -> AsyncIterator[Raw]:
    """Every stored message matching ``subject`` from ``start_seq`` (to ``up_to``)."""
    seq = max(1, start_seq)
    while True:
        request: dict = {"seq": seq, "next_by_subj": subject, "batch": BATCH}
        if up_to is not None:
            request["up_to_seq"] = up_to
        found, pending = await _direct(nc, stream, request)
        for raw in found:
            if up_to is not None and raw.seq > up_to:
                return
            yield raw
        if not found or pending == 0:
            return
        seq = found[-1].seq + 1


async def live(nc: Client, stream: str, subject: str, start_seq: int) -> AsyncIterator[Raw]:
    """Messages from ``start_seq`` on, forever (an ordered consumer: no server state kept)."""
    queue: asyncio.Queue[Msg] = asyncio.Queue()

    async def on_msg(msg: Msg) -> None:
        queue.put_nowait(msg)

    sub = await nc.jetstream().subscribe(
        subject, stream=stream, cb=on_msg, ordered_consumer=True,
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=max(1, start_seq)
        ),
    )
    try:
        while True:
            msg = await queue.get()
            yield Raw(msg.metadata.sequence.stream, msg.subject, msg.data,
                      dict(msg.headers or {}))
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


async def last_seq(nc: Client, stream: str) -> int:
    return int((await nc.jetstream().stream_info(stream)).state.last_seq)
