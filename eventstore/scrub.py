"""Making erased bytes unreadable where they rest: database files and nats-server blocks.

Deleting a row or a JetStream message only unlinks it; the bytes stay until the space is
reused. So:

- SQLite runs with ``secure_delete`` (freed cells and pages are zeroed, see ``db.make_engine``)
  and, after an erasure, a WAL checkpoint with TRUNCATE: the WAL's frames still hold every
  earlier version of the pages, and TRUNCATE copies the current ones back and cuts the file
  to zero bytes.
- PostgreSQL keeps updated rows' old versions as dead tuples in the table's pages until
  VACUUM; a plain VACUUM marks the space free but does not overwrite it. ``VACUUM FULL``
  writes each table (with its TOAST and indexes) into new files and drops the old ones.
- nats-server: a message removed by purge or a limit stays in its block file until the block
  is compacted, which never happens to the last block. ``STREAM.MSG.DELETE`` (the default,
  without ``no_erase``) overwrites the record with random bytes: ``erase_subject``.
  Records removed by a limit earlier cannot be addressed any more; ``rewrite_stream`` moves
  the live messages into new block files (a full purge deletes the old files).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import structlog
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import Engine, delete, insert, select, text
from sqlalchemy.exc import OperationalError

from contracts.envelope import Envelope
from eventstore.db import kit_metadata, outbox

log = structlog.get_logger("tsunagu.scrub")

#: Rewritten messages' Msg-Ids end in this and a run id: the originals' ids are still in
#: the stream's de-duplication window and would be dropped as duplicates.
REWRITTEN = "~rw"


def scrub_database(
    engine: Engine, tables: Iterable[str], stop: threading.Event | None = None
) -> None:
    """After an erasure: SQLite WAL checkpoint(TRUNCATE), PostgreSQL VACUUM FULL of
    ``tables``. Blocking; run it in a worker thread. ``stop`` ends its retries."""
    stop = stop or threading.Event()
    if engine.dialect.name == "sqlite":
        # Each try waits for readers up to the busy timeout (make_engine: 30 s).
        for _ in range(10):
            with engine.connect() as conn:
                busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
            if busy is None or busy[0] == 0 or stop.is_set():
                return
            time.sleep(0.05)
        raise TimeoutError("SQLite WAL checkpoint(TRUNCATE) stayed busy: a reader holds the WAL")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # Wait for a table's lock a little at a time rather than for good: a VACUUM queued
        # behind a schema change (a test dropping its schema) must give way, not deadlock it.
        conn.execute(text("SET lock_timeout = '500ms'"))
        kept: list[int] = []
        raw = conn.connection.dbapi_connection
        assert raw is not None

        def notice(diag: Any) -> None:
            if m := _NOT_REMOVABLE.search(diag.message_detail or ""):
                kept.append(int(m.group(1)))

        raw.add_notice_handler(notice)
        try:
            for table in tables:
                _vacuum_until_clean(conn, table, kept, stop)
        finally:
            raw.remove_notice_handler(notice)


#: PostgreSQL's SQLSTATE for "lock_timeout expired".
LOCK_NOT_AVAILABLE = "55P03"
#: VACUUM VERBOSE's count of dead rows an open snapshot may still see: they are copied into
#: the new file, so the VACUUM FULL is repeated until there are none.
_NOT_REMOVABLE = re.compile(r"(\d+) dead row versions cannot be removed yet")


def _vacuum_until_clean(
    conn: Any, table: str, kept: list[int], stop: threading.Event, patience_s: float = 60
) -> None:
    deadline, pause = time.monotonic() + patience_s, 0.1
    while not stop.is_set():
        kept.clear()
        try:
            conn.execute(text(f'VACUUM (FULL, VERBOSE) "{table}"'))
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
            kept.append(-1)  # not vacuumed at all: try again
        if not any(kept):
            return
        if time.monotonic() > deadline:
            log.warning("dead rows kept by an open transaction", code="vacuum_blocked",
                        table=table, rows=max(kept))
            raise TimeoutError(f"VACUUM FULL {table}: an open transaction keeps old rows")
        time.sleep(pause)
        pause = min(pause * 2, 2.0)


async def _messages(js: JetStreamContext, stream: str, subject: str) -> list[Any]:
    """Every message of the stream on ``subject`` (a filter), in order, by one ephemeral
    pull consumer."""
    sub = await js.pull_subscribe(subject, stream=stream, config=ConsumerConfig(
        deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE, inactive_threshold=30.0))
    try:
        pending = (await sub.consumer_info()).num_pending or 0
        out: list[Any] = []
        while len(out) < pending:
            out += await sub.fetch(min(256, pending - len(out)), timeout=5)
        return out
    finally:
        await sub.unsubscribe()


async def dead_letters(js: JetStreamContext, topology: Any) -> list[Any]:
    """Every stored dead letter (with its headers)."""
    return await _messages(js, topology.dlq_stream, topology.dlq_subjects)


async def erase_subject(js: JetStreamContext, stream: str, subject: str) -> int:
    """Overwrite every stored message on ``subject`` (a filter) with random bytes."""
    msgs = await _messages(js, stream, subject)
    for msg in msgs:
        await js.delete_msg(stream, msg.metadata.sequence.stream)
    return len(msgs)


@dataclass(frozen=True)
class Copy:
    """A live message copied out of a stream that is being rewritten."""

    subject: str
    data: bytes
    msg_id: str
    headers: dict[str, str]


#: Keeps the copies durably and publishes them once the stream is purged.
Stash = Callable[[list[Copy]], Awaitable[None]]


async def rewrite_stream(
    js: JetStreamContext, stream: str, subjects: str, drop: Callable[[str], bool],
    stash: Stash,
) -> tuple[int, int]:
    """Copy the stream's live messages except those whose subject ``drop`` names, hand the
    copies to ``stash``, then purge the whole stream: its block files are deleted, and with
    them every record removed earlier by a limit. Returns (kept, dropped).

    ``stash`` stores the copies durably *before* the purge and publishes them after it (the
    casefile puts them into its outbox), so a crash in between loses nothing; their Msg-Ids
    are new for each rewrite (the stream still remembers the originals' and an earlier
    attempt's). The caller holds off every other publisher meanwhile: a message published
    between the copy and the purge would be lost."""
    msgs = await _messages(js, stream, subjects)
    run = f"{REWRITTEN}{uuid.uuid4().hex[:12]}"
    copies = [_copy(m, run) for m in msgs if not drop(m.subject)]
    await stash(copies)
    await js.purge_stream(stream)
    return len(copies), len(msgs) - len(copies)


def _copy(msg: Any, run: str) -> Copy:
    headers = dict(msg.headers or {})
    original = headers.pop("Nats-Msg-Id", str(msg.metadata.sequence.stream))
    return Copy(msg.subject, msg.data, original[:150] + run, headers)


def outbox_stash(engine: Engine, owner: str) -> Stash:
    """A ``Stash`` into a projection runner's transactional outbox (flushed by the runner)."""

    def insert_rows(copies: list[Copy]) -> None:
        if not copies:
            return
        run = copies[0].msg_id[copies[0].msg_id.rindex(REWRITTEN):]
        mine = (outbox.c.owner == owner, outbox.c.msg_id.endswith(run))
        newer = select(outbox.c.subject).where(outbox.c.owner == owner,
                                               ~outbox.c.msg_id.endswith(run))
        with engine.begin() as conn:
            conn.execute(insert(outbox), [
                {"owner": owner, "subject": c.subject, "msg_id": c.msg_id,
                 "data": c.data, "headers": c.headers or None} for c in copies])
            # A view the projection committed since the outbox was paused is newer than the
            # copy of its subject and would be published before it: the copy goes.
            conn.execute(delete(outbox).where(*mine, outbox.c.subject.in_(newer)))

    async def stash(copies: list[Copy]) -> None:
        await asyncio.to_thread(insert_rows, copies)

    return stash


async def publish_copies(js: JetStreamContext, stream: str, copies: list[Copy]) -> None:
    """Publish copies in order, pipelined like the outbox (for callers without one)."""
    for i in range(0, len(copies), 256):
        await asyncio.gather(*(
            js.publish(c.subject, c.data, stream=stream,
                       headers={**c.headers, "Nats-Msg-Id": c.msg_id})
            for c in copies[i:i + 256]))


class Scrubber:
    """Reactor: after an erasure event (``event_type``; the kit knows no domain), wait until
    the service's projections have applied it, then ``scrub_database``. Each service that
    keeps personal data in its projection runs one, as ``<service>_scrubber``::

        reactors=lambda rt: [Scrubber(rt, "meeting", "PersonDataErased", ("person",))]
    """

    def __init__(self, runtime: Any, service: str, event_type: str,
                 aggregates: tuple[str, ...]) -> None:
        self.runtime, self.event_type = runtime, event_type
        self.name = f"{service}_scrubber"
        self.aggregates: tuple[str, ...] | None = aggregates
        self.scrubbed = 0

    async def react(self, env: Envelope, seq: int) -> None:
        if env.type != self.event_type:
            return
        await scrub_after(self.runtime, seq, self.aggregates or ())
        self.scrubbed += 1


async def scrub_after(runtime: Any, seq: int, aggregates: tuple[str, ...]) -> None:
    """Wait until the runtime's projections that read ``aggregates`` have applied ``seq``,
    then scrub its database (the kit's tables too: the outbox held feed views)."""
    projections = runtime.spec.projections
    for projection in projections:
        if projection.aggregates is None or set(projection.aggregates) & set(aggregates):
            await runtime.runners[projection.name].wait_for(seq, timeout=120)
    tables = [t.name for p in projections for t in p.metadata.sorted_tables]
    tables += [t.name for t in kit_metadata.sorted_tables]
    started = time.perf_counter()
    stop = threading.Event()
    work = asyncio.ensure_future(asyncio.to_thread(scrub_database, runtime.engine, tables, stop))
    try:
        await asyncio.shield(work)
    except asyncio.CancelledError:
        # The service is stopping: a statement running in the thread cannot be cancelled,
        # so the stop waits for it (and no retry starts) rather than leaving it behind, still
        # holding locks on the tables. The erasure is scrubbed again on the next start.
        stop.set()
        with contextlib.suppress(Exception):
            await work
        raise
    log.info("database scrubbed", seq=seq, tables=len(tables),
             ms=round((time.perf_counter() - started) * 1000))
