"""Projection runner: a durable pull consumer per projection, checkpointed in the database.

- Each fetched batch is decoded, its personal keys prefetched, and applied in **one**
  transaction in a worker thread, together with the tracking row (name, last stream
  sequence). Messages are acknowledged only after that commit; a redelivered message whose
  sequence is at or below the checkpoint is skipped, so it has no second effect.
- Order is the stream's order: one fetch loop, batches applied sequentially, so events of
  one case are always applied in the order they were stored.
- A batch that fails is re-applied message by message; a message that still fails after
  bounded retries with backoff, or that cannot be decoded, goes to the dead-letter stream
  with its error, and the projection moves on.
- On start the projection resumes from its *database* checkpoint (the consumer is recreated
  at checkpoint + 1), not from the consumer's ack floor. A large backlog (and every rebuild)
  is read in big batches without acks, the next batch fetched while one is applied.
- Side effects (casefile's feeds) are written to the outbox in the batch's transaction and
  published after the commit by the runner's own outbox task, in order; the next batch does
  not wait for their acks, and rows left by a crash go out at the next start.
- A gap in the consumer sequence (a delivery lost when the server or the connection died)
  ends the batch there and the consumer is recreated at the checkpoint (``delivery.py``):
  acknowledging past a lost message would skip it for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import uuid4

import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from sqlalchemy import Connection, Engine, MetaData, delete, insert, select

from contracts.envelope import Envelope
from eventstore.codec import decode
from eventstore.crypto import KeyRing, envelope_key_ids
from eventstore.db import (
    claim_checkpoint,
    in_thread,
    kit_metadata,
    outbox,
    read_checkpoint,
    tracking,
    write_checkpoint,
)
from eventstore.delivery import Delivery, admit
from eventstore.errors import DecodeError
from eventstore.outbox import OutboxPublisher
from eventstore.reader import BatchReader
from eventstore.topology import Topology

log = structlog.get_logger("tsunagu.projection")

#: Outbox messages published at once before their acks are awaited.
OUTBOX_CHUNK = 256


@dataclass(frozen=True)
class Item:
    """One stream message as the runner sees it."""

    seq: int
    subject: str
    data: bytes
    envelope: Envelope | None = None
    error: str | None = None  # decode error, if any
    consumer_seq: int = 0  # the consumer's delivery sequence, to notice lost deliveries
    skipped: bool = False  # of the projection's aggregates, not of its event_types


@dataclass
class ApplyContext:
    """Given to ``Projection.apply`` for one transaction (a batch): decryption, the
    transactional outbox, and work a projection does once per batch instead of per event."""

    keyring: KeyRing | None
    seq: int = 0
    _outbox: list[dict[str, Any]] = field(default_factory=list)
    #: A projection's own state for this transaction (e.g. what to publish at its end).
    scratch: dict[str, Any] = field(default_factory=dict)
    _finishers: dict[str, Callable[[Connection], None]] = field(default_factory=dict)

    def before_commit(self, key: str, fn: Callable[[Connection], None]) -> None:
        """Run ``fn(conn)`` once, after the last event of this transaction is applied and
        before it commits (registering the same key again is a no-op)."""
        self._finishers.setdefault(key, fn)

    def finish(self, conn: Connection) -> None:
        """Run the ``before_commit`` work; the runner calls it before committing."""
        while self._finishers:
            key = next(iter(self._finishers))
            self._finishers.pop(key)(conn)

    def unseal(self, env: Envelope) -> Envelope:
        if self.keyring is None:
            return env
        return self.keyring.unseal_envelope(env)

    def publish(self, subject: str, data: bytes, msg_id: str, headers: dict | None = None) -> None:
        """Publish after commit (written to the outbox in this transaction)."""
        self._outbox.append(
            {"subject": subject, "data": data, "msg_id": msg_id, "headers": headers}
        )


class Projection(Protocol):
    """What a service implements. ``apply`` runs in a worker thread inside the batch's
    transaction; it must only touch the database through ``conn``. Optionally
    ``too_large_notice(subject, data, limit) -> bytes``: what to publish instead of an
    outbox message the server cannot take (``outbox.py``)."""

    name: str
    metadata: MetaData
    #: Aggregate kinds it reads (subject filter); None = every event.
    aggregates: tuple[str, ...] | None
    #: Whether apply needs decrypted personal data (keys are prefetched).
    needs_personal: bool
    # Optional ``event_types: frozenset[str]``: the only types apply does anything with;
    # catch-up and rebuild skip the others undecoded (they only move the checkpoint).
    # Optional ``effect_types: frozenset[str]`` with ``effect_mark: str``: types apply uses
    # only for side effects of events after the tracking row ``effect_mark`` (the casefile's
    # notices after its feed mark); catch-up and rebuild skip them undecoded at or below the
    # mark as it was when the pass began (the mark only grows, by this projection).

    def apply(self, conn: Connection, env: Envelope, ctx: ApplyContext) -> None: ...


@dataclass
class RunnerOptions:
    batch: int = 500
    fetch_timeout: float = 1.0
    max_attempts: int = 4
    backoff: tuple[float, ...] = (0.05, 0.25, 1.0)
    catchup_threshold: int = 2000
    #: Catch-up asks for a batch and the server answers at once; this long a silence
    #: means the request or its answer was lost, and catch-up reads again from the checkpoint.
    catchup_idle: float = 10.0
    ack_wait: float = 60.0
    #: False when Alembic owns the schema (TSUNAGU_DB_MIGRATIONS=1, `tsunagu db upgrade`).
    create_tables: bool = True


def _sequences(msg: Msg) -> tuple[int, int]:
    """(stream, consumer) sequence from the ack subject ``$JS.ACK.<stream>.<consumer>.
    <delivered>.<stream seq>.<consumer seq>.<ns>.<pending>``; other forms (with a domain)
    through nats-py's ``metadata``, which also builds timestamps and costs ≈ 10 µs."""
    tokens = msg.reply.split(".")
    if len(tokens) == 9 and tokens[0] == "$JS":
        return int(tokens[5]), int(tokens[6])
    seqs = msg.metadata.sequence
    return seqs.stream, seqs.consumer


class ProjectionRunner:
    def __init__(
        self,
        nc: Client,
        topology: Topology,
        projection: Projection,
        engine: Engine,
        *,
        keyring: KeyRing | None = None,
        options: RunnerOptions | None = None,
        after_commit: Callable[[list[Envelope]], Any] | None = None,
    ) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.topology = topology
        self.projection = projection
        self.engine = engine
        self.keyring = keyring
        self.options = options or RunnerOptions()
        self.after_commit = after_commit
        self.name = projection.name
        self.durable = topology.durable(projection.name)
        self.checkpoint = 0
        self.applied = 0
        self.skipped = 0  # events of its aggregates skipped undecoded by type (catch-up)
        self._effect_mark = 0  # read at the start of each catch-up pass
        self.dead_lettered = 0
        self.resyncs = 0  # deliveries lost in transit, recovered from the checkpoint
        self._task: asyncio.Task[None] | None = None
        # The outbox is published by its own task, so a batch's commit is not held up by the
        # acks of the previous batch's feed messages; one flush at a time keeps their order.
        self._flusher: asyncio.Task[None] | None = None
        self._outbox_due = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._paused = asyncio.Lock()
        self.log = log.bind(projection=self.name)
        self.publisher = OutboxPublisher(nc, topology, self.name,
                                      getattr(projection, "too_large_notice", None))

    # ----- filters -------------------------------------------------------------------
    @property
    def filters(self) -> list[str]:
        aggs = self.projection.aggregates
        if not aggs:
            return [self.topology.events_subjects]
        return [self.topology.aggregate_kind_filter(a) for a in aggs]

    @property
    def catchup_filters(self) -> list[str]:
        """nats-server serves a consumer with *several* filter subjects far slower than one
        (each next message is looked up across the subjects every wildcard matches: at
        50,000 events, 30 times slower than reading all; worse as aggregates grow), so
        catch-up then reads every event and skips, undecoded, those of other aggregates."""
        filters = self.filters
        return filters if len(filters) == 1 else [self.topology.events_subjects]

    def _reads(self, subject: str) -> bool:
        """Whether an event subject (``<prefix>.events.<aggregate>.<id>.<type>``) is one
        of the aggregates this projection reads."""
        aggs = self.projection.aggregates
        if not aggs:
            return True
        stem = f"{self.topology.prefix}.events."
        return subject.startswith(stem) and subject[len(stem):].split(".", 1)[0] in aggs

    def _uses(self, subject: str, seq: int) -> bool:
        """Whether the event's type (the subject's last token) is one the projection
        declares it uses (``event_types``; every type when it declares none), or one of its
        ``effect_types`` after the effect mark."""
        types = getattr(self.projection, "event_types", None)
        if types is None:
            return True
        kind = subject.rsplit(".", 1)[-1]
        return kind in types or (seq > self._effect_mark
                                 and kind in getattr(self.projection, "effect_types", ()))

    def _read_effect_mark(self) -> int:
        """The projection's ``effect_mark`` row (0 when it declares none or has none yet)."""
        mark = getattr(self.projection, "effect_mark", None)
        if mark is None:
            return 0
        with self.engine.begin() as conn:
            return read_checkpoint(conn, mark)

    # ----- database ------------------------------------------------------------------
    def _create_tables(self) -> int:
        if self.options.create_tables:
            kit_metadata.create_all(self.engine)
            self.projection.metadata.create_all(self.engine)
        with self.engine.begin() as conn:
            return read_checkpoint(conn, self.name)

    def _reset_tables(self) -> None:
        self.projection.metadata.drop_all(self.engine)
        self.projection.metadata.create_all(self.engine)
        kit_metadata.create_all(self.engine)
        with self.engine.begin() as conn:
            conn.execute(delete(tracking).where(tracking.c.name == self.name))
            conn.execute(delete(outbox).where(outbox.c.owner == self.name))

    def _apply(self, items: list[Item]) -> tuple[int, list[dict[str, Any]]]:
        """Apply items in one transaction; returns (new checkpoint, outbox rows)."""
        ctx = ApplyContext(self.keyring)
        with self.engine.begin() as conn:
            checkpoint = claim_checkpoint(conn, self.name)
            last = checkpoint
            for item in items:
                if item.seq <= last:
                    continue  # applied before a crash, or delivered twice (even in one batch)
                if item.envelope is not None:
                    ctx.seq = item.seq
                    self.projection.apply(conn, item.envelope, ctx)
                last = max(last, item.seq)
            ctx.finish(conn)
            if ctx._outbox:
                conn.execute(insert(outbox), [{**r, "owner": self.name} for r in ctx._outbox])
            if last != checkpoint:
                write_checkpoint(conn, self.name, last)
        return last, ctx._outbox

    def _advance(self, seq: int) -> None:
        with self.engine.begin() as conn:
            if read_checkpoint(conn, self.name) < seq:
                write_checkpoint(conn, self.name, seq)

    def _pending_outbox(self) -> list[tuple[int, str, str, bytes, dict | None]]:
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(outbox.c.id, outbox.c.subject, outbox.c.msg_id, outbox.c.data,
                       outbox.c.headers)
                .where(outbox.c.owner == self.name)
                .order_by(outbox.c.id)
            ).all()
        return [tuple(r) for r in rows]

    def _clear_outbox(self, ids: list[int]) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(outbox).where(outbox.c.id.in_(ids)))

    async def flush_outbox(self) -> None:
        """Publish what the outbox holds (in order) and delete it; the outbox task calls this
        after each commit that wrote to it, and ``start`` and ``stop`` do."""
        async with self._flush_lock:
            await self._flush_outbox()

    async def _flush_outbox(self) -> None:
        rows = await in_thread(self._pending_outbox)
        if not rows:
            return
        # Pipelined: a chunk is written in order (the tasks start in order and each writes
        # before it first waits), then its acks are awaited together, instead of a round
        # trip per message. A failure leaves the rows for the next flush; Msg-Id dedupes.
        # A message the server refuses for good becomes a notice or a dead letter (outbox.py).
        for i in range(0, len(rows), OUTBOX_CHUNK):
            sent = await asyncio.gather(*(self.publisher.send(*row[1:])
                                          for row in rows[i:i + OUTBOX_CHUNK]))
            self.dead_lettered += sent.count(False)
        await in_thread(self._clear_outbox, [r[0] for r in rows])

    # ----- decoding ------------------------------------------------------------------
    def _item(self, msg: Msg) -> Item:
        stream_seq, consumer_seq = _sequences(msg)
        return self._item_from_raw(stream_seq, msg.subject, msg.data, consumer_seq)

    def _catchup_item(self, msg: Msg) -> Item:
        """Like ``_item``; an event of another aggregate (read only because the consumer is
        not filtered, see ``catchup_filters``) is not decoded: it only moves the checkpoint."""
        seq, cseq = _sequences(msg)
        if not self._reads(msg.subject):
            return Item(seq, msg.subject, b"", consumer_seq=cseq)
        if not self._uses(msg.subject, seq):  # of its aggregates, a type apply does not use
            return Item(seq, msg.subject, b"", consumer_seq=cseq, skipped=True)
        return self._item_from_raw(seq, msg.subject, msg.data, cseq)

    async def _prefetch_keys(self, items: Iterable[Item]) -> None:
        if self.keyring is None or not self.projection.needs_personal:
            return
        ids: set[str] = set()
        for item in items:
            if item.envelope is not None:
                ids |= envelope_key_ids(item.envelope)
                if item.envelope.type == "PersonDataErased":
                    for key_id in getattr(item.envelope.event, "key_ids", ()) or ():
                        self.keyring.forget(key_id)
        await self.keyring.prefetch(ids)

    # ----- processing ----------------------------------------------------------------
    async def process(self, items: list[Item]) -> None:
        """Apply a batch in order; isolate and dead-letter what cannot be applied."""
        good = [i for i in items if i.error is None]
        if len(good) == len(items):
            await self._prefetch_keys(items)
            try:
                self.checkpoint, rows = await in_thread(self._apply, items)
                await self._committed(items, rows)
                return
            except Exception as exc:  # fall back to one at a time to find the culprit
                self.log.warning("batch failed, isolating", error=repr(exc), size=len(items))
        for item in items:
            await self._process_one(item)

    async def _process_one(self, item: Item) -> None:
        if item.seq <= self.checkpoint:
            return
        if item.error is not None:
            await self._dead_letter(item, item.error, attempts=1)
            return
        async def apply_one() -> None:
            await self._prefetch_keys([item])
            self.checkpoint, rows = await in_thread(self._apply, [item])
            await self._committed([item], rows)

        await self._retrying(item, apply_one)

    async def _retrying(self, item: Item, attempt_once: Callable[[], Awaitable[None]]) -> None:
        """Bounded retries with backoff; what still fails goes to the dead-letter stream."""
        error = ""
        for attempt in range(1, self.options.max_attempts + 1):
            try:
                await attempt_once()
                return
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                self.log.warning("failed", seq=item.seq, attempt=attempt, error=error)
                if attempt < self.options.max_attempts:
                    delay = self.options.backoff[min(attempt - 1, len(self.options.backoff) - 1)]
                    await asyncio.sleep(delay)
        await self._dead_letter(item, error, attempts=self.options.max_attempts)

    async def _committed(self, items: list[Item], rows: list[dict[str, Any]]) -> None:
        self.applied += sum(1 for i in items if i.envelope is not None)
        self.skipped += sum(1 for i in items if i.skipped)
        if rows:
            if self._flusher is not None and not self._flusher.done():
                self._outbox_due.set()
            else:  # not started (a rebuild from the CLI, a test): publish now
                await self.flush_outbox()
        if self.after_commit is not None:
            result = self.after_commit([i.envelope for i in items if i.envelope is not None])
            if asyncio.iscoroutine(result):
                await result

    async def _dead_letter(self, item: Item, error: str, attempts: int) -> None:
        headers = {
            "Nats-Msg-Id": f"{self.name}-{item.seq}",
            "Tsunagu-Projection": self.name,
            "Tsunagu-Stream-Seq": str(item.seq),
            "Tsunagu-Subject": item.subject,
            "Tsunagu-Error": error[:1000].replace("\r", " ").replace("\n", " "),
            "Tsunagu-Attempts": str(attempts),
        }
        await self.js.publish(self.topology.dlq_subject(self.name), item.data, headers=headers)
        await in_thread(self._advance, item.seq)
        self.checkpoint = max(self.checkpoint, item.seq)
        self.dead_lettered += 1
        self.log.error("dead-lettered", seq=item.seq, subject=item.subject, error=error)

    async def replay_one(self, seq: int) -> bool:
        """Apply one stored message again, ignoring the checkpoint (dead-letter retry).
        Returns True when it applied."""
        msg = await self.js.get_msg(self.topology.events_stream, seq)
        item = self._item_from_raw(seq, msg.subject or "", msg.data or b"")
        if item.error is not None or item.envelope is None:
            return False
        await self._prefetch_keys([item])

        def apply() -> None:
            ctx = ApplyContext(self.keyring, seq)
            with self.engine.begin() as conn:
                self.projection.apply(conn, item.envelope, ctx)  # type: ignore[arg-type]
                ctx.finish(conn)
                if ctx._outbox:
                    conn.execute(insert(outbox), [{**r, "owner": self.name} for r in ctx._outbox])

        async with self._paused:
            await in_thread(apply)
            await self.flush_outbox()
        return True

    def _item_from_raw(self, seq: int, subject: str, data: bytes, consumer_seq: int = 0) -> Item:
        try:
            return Item(seq, subject, data, decode(data), consumer_seq=consumer_seq)
        except DecodeError as exc:
            return Item(seq, subject, data, None, str(exc), consumer_seq=consumer_seq)

    # ----- consuming -----------------------------------------------------------------
    async def stream_last_seq(self) -> int:
        info = await self.js.stream_info(self.topology.events_stream)
        return int(info.state.last_seq)

    async def catch_up(
        self, until: int | None = None, progress: Callable[[int, int], Any] | None = None
    ) -> None:
        """Read from checkpoint + 1 to ``until`` (default: the stream's last sequence now).

        An ephemeral pull consumer without acks, filtered on the server to the aggregates
        this projection reads; the next batch is fetched while the current one is applied,
        and at most two batches wait, so memory stays flat however long the backlog."""
        target = until if until is not None else await self.stream_last_seq()
        while self.checkpoint < target and not self._stopping.is_set():
            if await self._catch_up_from_checkpoint(target, progress):
                return
            self._resync(self.checkpoint)
            await asyncio.sleep(0.1)

    def _resync(self, checkpoint: int) -> None:
        self.resyncs += 1
        self.log.warning("delivery gap, resuming from checkpoint", checkpoint=checkpoint)

    async def _catch_up_from_checkpoint(
        self, target: int, progress: Callable[[int, int], Any] | None
    ) -> bool:
        """One pass; False when a delivery was lost on the way (read again from the
        checkpoint: without acks nothing would ever resend it)."""
        stream = self.topology.events_stream
        # A name of its own per pass: two instances of one projection catching up at once
        # (a second process by mistake, a bench beside a rebuild) must not delete or take
        # over each other's consumer and count events the other read. A pass that dies
        # leaves its consumer to the server (inactive_threshold).
        name = f"{self.durable}_CATCHUP_{uuid4().hex[:10]}"
        self._effect_mark = await in_thread(self._read_effect_mark)
        await self.js.add_consumer(
            stream,
            ConsumerConfig(
                name=name,
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=self.checkpoint + 1,
                ack_policy=AckPolicy.NONE,
                filter_subjects=self.catchup_filters,
                inactive_threshold=60.0,
                mem_storage=True,
                num_replicas=1,
            ),
        )
        reader = BatchReader(
            self.nc, stream, name, lambda msgs: [self._catchup_item(m) for m in msgs],
            batch=self.options.batch * 2,
        )
        await reader.start()
        last_consumer_seq = 0
        try:
            while not self._stopping.is_set():
                try:
                    items = await asyncio.wait_for(
                        reader.batches.get(), self.options.catchup_idle
                    )
                except TimeoutError:
                    return False
                if items is None:
                    # The server says the backlog is read; a lost tail shows only here.
                    info = await self.js.consumer_info(stream, name)
                    if info.delivered.consumer_seq != last_consumer_seq:
                        return False
                    break
                wanted = [i for i in items if i.seq <= target]
                admitted = admit(
                    [Delivery(i.consumer_seq, i.seq) for i in wanted],
                    self.checkpoint,
                    last_consumer_seq,
                )
                last_consumer_seq = admitted.last_consumer_seq
                if admitted.count:
                    await self.process(wanted[: admitted.count])
                if not admitted.complete:
                    return False
                if len(wanted) < len(items):
                    break
                if progress:
                    progress(self.checkpoint, target)
            else:
                return True
            # Events after the last one this projection reads, up to the target, are skipped.
            await in_thread(self._advance, target)
            self.checkpoint = max(self.checkpoint, target)
            if progress:
                progress(self.checkpoint, target)
            return True
        finally:
            with contextlib.suppress(Exception):
                await reader.stop()
            with contextlib.suppress(Exception):
                await self.js.delete_consumer(stream, name)

    async def _durable(self) -> Any:
        """(Re)create the durable consumer at the database checkpoint + 1."""
        with contextlib.suppress(NotFoundError):
            await self.js.delete_consumer(self.topology.events_stream, self.durable)
        config = ConsumerConfig(
            durable_name=self.durable,
            description=f"projection {self.name}",
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=self.checkpoint + 1,
            ack_policy=AckPolicy.ALL,
            ack_wait=self.options.ack_wait,
            max_deliver=100,
            max_ack_pending=self.options.batch * 4,
            filter_subjects=self.filters,
        )
        await self.js.add_consumer(self.topology.events_stream, config)
        return await self.js.pull_subscribe_bind(
            durable=self.durable, stream=self.topology.events_stream
        )

    async def start(self) -> None:
        self.checkpoint = await in_thread(self._create_tables)
        await self.flush_outbox()
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=f"projection-{self.name}")
        self._flusher = asyncio.create_task(self._flush_forever(), name=f"outbox-{self.name}")

    async def _flush_forever(self) -> None:
        while True:
            await self._outbox_due.wait()
            self._outbox_due.clear()
            try:
                await self.flush_outbox()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the rows stay; Msg-Id dedupes what went out twice
                self.log.warning("outbox flush failed, retrying", error=repr(exc))
                await asyncio.sleep(0.5)
                self._outbox_due.set()

    async def stop(self) -> None:
        self._stopping.set()
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._flusher:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._flusher
            self._flusher = None
            # What is left goes out now, or at the next start (the rows are kept).
            if self.nc.is_connected:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.flush_outbox(), timeout=2)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.log.warning("consumer interrupted, resuming from checkpoint", error=repr(exc))
                await asyncio.sleep(0.5)

    async def _run_once(self) -> None:
        self.checkpoint = await in_thread(self._create_tables)
        if await self.stream_last_seq() - self.checkpoint > self.options.catchup_threshold:
            await self.catch_up()
        psub = await self._durable()
        self.log.info("consuming", from_seq=self.checkpoint + 1)
        # 0 for the consumer just created; counted from what it already sent otherwise.
        last_consumer_seq = (await psub.consumer_info()).delivered.consumer_seq
        try:
            while not self._stopping.is_set():
                try:
                    msgs = await psub.fetch(self.options.batch, timeout=self.options.fetch_timeout)
                except TimeoutError:  # nats-py raises its own subclass or the built-in one
                    continue
                if not msgs:  # a fetch can end with a status message and no data
                    continue
                items = [self._item(m) for m in msgs]
                admitted = admit(
                    [Delivery(i.consumer_seq, i.seq) for i in items],
                    self.checkpoint,
                    last_consumer_seq,
                )
                last_consumer_seq = admitted.last_consumer_seq
                if admitted.count:
                    async with self._paused:
                        await self.process(items[: admitted.count])
                    # AckAll: acknowledging the last one acknowledges the batch, after commit.
                    await msgs[admitted.count - 1].ack()
                if not admitted.complete:
                    # A delivery before items[count] was lost in transit: the consumer would
                    # not resend it before its ack wait, so start again at the checkpoint.
                    self._resync(self.checkpoint)
                    return
        finally:
            with contextlib.suppress(Exception):
                await psub.unsubscribe()

    async def wait_for(self, seq: int, timeout: float = 10.0) -> None:
        """Test and CLI helper: wait until the checkpoint reaches ``seq``."""
        deadline = time.monotonic() + timeout
        while self.checkpoint < seq:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} at {self.checkpoint}, wanted {seq}")
            await asyncio.sleep(0.01)

    @contextlib.asynccontextmanager
    async def outbox_paused(self) -> AsyncIterator[None]:
        """Publish what the outbox holds, then publish nothing until the block ends (the
        casefile shredder rewrites the feed stream meanwhile, eventstore.scrub)."""
        async with self._flush_lock:
            await self._flush_outbox()
            yield

    async def rebuild(
        self, until: int | None = None, progress: Callable[[int, int], Any] | None = None
    ) -> float:
        """Drop the projection and replay from the first sequence. Returns events/s."""
        running = self._task is not None
        await self.stop()
        started = time.perf_counter()
        await in_thread(self._reset_tables)
        self.checkpoint = 0
        self._stopping.clear()
        await self.catch_up(until, progress)
        elapsed = time.perf_counter() - started
        if running:
            await self.start()
        return self.checkpoint / elapsed if elapsed > 0 else 0.0
