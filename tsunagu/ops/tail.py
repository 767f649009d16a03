"""Decoded, filtered events for ``tsunagu tail`` and the console's live flow."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from nats.aio.client import Client

from contracts.envelope import Envelope
from eventstore.codec import decode
from eventstore.crypto import KeyRing, envelope_key_ids
from eventstore.errors import DecodeError
from eventstore.topology import Topology
from tsunagu.ops import reader
from tsunagu.ops.render import EventFilter

#: Without --since and without a filter, tail starts this many sequences before the end.
DEFAULT_BACKLOG = 100


@dataclass(frozen=True)
class Tailed:
    seq: int
    envelope: Envelope | None
    error: str | None = None
    subject: str = ""


async def start_seq(
    nc: Client, topology: Topology, since: int | datetime | None, flt: EventFilter
) -> int:
    if isinstance(since, int):
        return since
    if isinstance(since, datetime):
        return await reader.seq_at(nc, topology.events_stream, since)
    if flt.case or flt.agency or flt.type:
        return 1  # a filtered view wants the whole history of what it names
    return max(1, await reader.last_seq(nc, topology.events_stream) - DEFAULT_BACKLOG + 1)


async def last_matching(
    nc: Client, topology: Topology, flt: EventFilter, count: int
) -> list[Tailed]:
    """The last ``count`` events the filter matches, oldest first. Unfiltered, only the
    stream's tail is read; a filter reads its subject's history and keeps the last ones."""
    if flt.case or flt.agency or flt.type:
        start = 1
    else:
        start = max(1, await reader.last_seq(nc, topology.events_stream) - count + 1)
    kept: deque[Tailed] = deque(maxlen=count)
    async for item in events(nc, topology, flt, start, follow=False):
        kept.append(item)
    return list(kept)


def _decode(raw: reader.Raw) -> Tailed:
    try:
        return Tailed(raw.seq, decode(raw.data), subject=raw.subject)
    except DecodeError as exc:
        return Tailed(raw.seq, None, str(exc), raw.subject)


async def events(
    nc: Client, topology: Topology, flt: EventFilter, start: int, follow: bool
) -> AsyncIterator[Tailed]:
    """Matching events from ``start``; with ``follow``, forever. Undecodable messages are
    yielded with their error when no filter would have excluded them by type."""
    subject = flt.subject(topology.prefix)
    source = (
        reader.live(nc, topology.events_stream, subject, start) if follow
        else reader.history(nc, topology.events_stream, subject, start)
    )
    async for raw in source:
        item = _decode(raw)
        if item.envelope is None:
            if not (flt.case or flt.agency):
                yield item
            continue
        if flt.matches(item.envelope):
            yield item


async def unseal(keyring: KeyRing, env: Envelope) -> Envelope:
    """Decrypt the personal blocks (after the reveal has been recorded)."""
    await keyring.prefetch(envelope_key_ids(env))
    return keyring.unseal_envelope(env)  # the staff name too
