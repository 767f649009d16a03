"""Importing a directory file: an operator tool, not an agency command.

Bootstrapping is the reason: before the first import no agency exists to send a command.
The operator runs ``tsunagu directory import FILE``; it checks the whole file, diffs it
against the directory folded from the event log, and appends every change as ONE atomic
batch with optimistic concurrency on each agency it touches. A bad row, a concurrent
change or a server refusal leaves the directory exactly as it was.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from nats.aio.client import Client

from contracts.base import Actor
from eventstore.codec import new_envelope
from eventstore.errors import ConcurrencyConflict
from eventstore.store import EventStore
from eventstore.topology import Topology
from services.referral import directory_file as df


@dataclass
class ImportResult:
    errors: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    applied: bool = False
    entries: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


async def import_directory(
    nc: Client, topology: Topology, name: str, raw: bytes, *, today: date,
    extra_categories: tuple[str, ...] = (), operator: str = "operator",
    staff: str | None = None, retire_missing: bool = False, dry_run: bool = False,
) -> ImportResult:
    parsed = df.parse_file(name, raw, extra_categories, today)
    result = ImportResult(entries=len(parsed.entries))
    if parsed.errors:
        result.errors = [str(e) for e in sorted(parsed.errors, key=lambda e: e.line)]
        return result
    store = EventStore(nc, topology)
    stored = await store.read(topology.aggregate_kind_filter("agency"))
    current = df.fold_current((s.seq, s.envelope.event) for s in stored)
    digest = hashlib.sha256(raw).hexdigest()[:16]
    events = df.plan(parsed.entries, current, retire_missing=retire_missing,
                     retire_reason=f"not listed in directory import {digest}")
    result.counts = dict(Counter(e.type for e in events))
    if len(events) > df.MAX_BATCH:
        result.errors = [f"the file makes {len(events)} changes; one import is at most "
                         f"{df.MAX_BATCH} (the server's atomic batch limit): split the file"]
        return result
    if dry_run or not events:
        return result
    actor = Actor(agency_id=operator, staff=staff)
    envelopes = [new_envelope(e, actor, correlation_id=f"directory-import-{digest}",
                              causation_id=f"directory-import-{digest}") for e in events]
    expected = {("agency", e.aggregate_id()): current[e.aggregate_id()].last_seq
                if e.aggregate_id() in current else 0 for e in events}
    try:
        await store.append(envelopes, expected)
    except ConcurrencyConflict:
        result.errors = ["the directory changed while importing; nothing was applied, "
                         "run the import again"]
        return result
    result.applied = True
    return result
