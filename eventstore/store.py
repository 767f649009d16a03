"""Append with optimistic concurrency, and load an aggregate's history.

Modelled on nats.py's ``js/kv.py``: an update carries the expected last sequence and the
server's "wrong last sequence" error (10071) becomes our own ``ConcurrencyConflict``.
Several events are appended as one JetStream *atomic batch* (nats-server ≥ 2.12), so a
command that touches two aggregates (triage opens a case) stores all or nothing.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import uuid4

import nats.errors
from nats.aio.client import Client
from nats.js.errors import APIError

from contracts.envelope import Envelope
from eventstore.codec import decode, encode
from eventstore.directget import DirectGet
from eventstore.errors import ConcurrencyConflict, DomainError, ReadFailed
from eventstore.topology import Topology

WRONG_LAST_SEQUENCE = {10071, 10164}
DUPLICATE_IN_BATCH = 10201
NOT_READY = 10163

#: Recently loaded histories kept to skip re-reading them (checked by count on each load).
RECENT_AGGREGATES = 5000

MSG_ID = "Nats-Msg-Id"
EXPECTED_SUBJECT_SEQ = "Nats-Expected-Last-Subject-Sequence"
EXPECTED_SUBJECT_SEQ_SUBJECT = "Nats-Expected-Last-Subject-Sequence-Subject"


@dataclass(frozen=True)
class Stored:
    seq: int
    envelope: Envelope


@dataclass(frozen=True)
class History:
    events: list[Stored]
    last_seq: int  # 0 when the aggregate has no events

    @property
    def envelopes(self) -> list[Envelope]:
        return [s.envelope for s in self.events]


class AppendFailed(DomainError):
    """The event stream did not take an append (nothing was stored)."""

    code = "unavailable"


class EventStore:
    def __init__(self, nc: Client, topology: Topology, *, timeout: float = 5.0) -> None:
        self.nc = nc
        self.js = nc.jetstream(timeout=timeout)
        self.topology = topology
        self.timeout = timeout
        self._direct = DirectGet(nc, topology.events_stream, timeout)
        self._recent: OrderedDict[tuple[str, str], History] = OrderedDict()

    def subject_of(self, env: Envelope) -> str:
        return self.topology.event_subject(env.aggregate, env.aggregate_id, env.type)

    def _headers(self, env: Envelope, expected: dict[tuple[str, str], int], first: set) -> dict:
        headers = {MSG_ID: str(env.event_id)}
        key = (env.aggregate, env.aggregate_id)
        # Only the first event of each aggregate carries the expectation; the rest follow it.
        if key in expected and key not in first:
            first.add(key)
            headers[EXPECTED_SUBJECT_SEQ] = str(expected[key])
            headers[EXPECTED_SUBJECT_SEQ_SUBJECT] = self.topology.aggregate_filter(*key)
        return headers

    async def append(
        self,
        envelopes: Sequence[Envelope],
        expected: dict[tuple[str, str], int] | None = None,
    ) -> list[int]:
        """Store the envelopes; ``expected`` maps (aggregate, id) to its last sequence
        (0 = must not exist yet). Returns the stream sequences, in order."""
        if not envelopes:
            return []
        expected = expected or {}
        first: set = set()
        if len(envelopes) == 1:
            env = envelopes[0]
            try:
                ack = await self.js.publish(
                    self.subject_of(env),
                    encode(env),
                    headers=self._headers(env, expected, first),
                    timeout=self.timeout,
                )
            except APIError as exc:
                raise self._map_error(exc.err_code, exc.description) from exc
            return [ack.seq]
        return await self._append_batch(envelopes, expected, first)

    async def _append_batch(
        self,
        envelopes: Sequence[Envelope],
        expected: dict[tuple[str, str], int],
        first: set,
    ) -> list[int]:
        batch_id = uuid4().hex
        last = len(envelopes)
        for i, env in enumerate(envelopes, start=1):
            headers = self._headers(env, expected, first)
            headers["Nats-Batch-Id"] = batch_id
            headers["Nats-Batch-Sequence"] = str(i)
            if i < last:
                await self.nc.publish(self.subject_of(env), encode(env), headers=headers)
                continue
            headers["Nats-Batch-Commit"] = "1"
            try:
                msg = await self.nc.request(
                    self.subject_of(env), encode(env), timeout=self.timeout, headers=headers
                )
            except (nats.errors.TimeoutError, nats.errors.NoRespondersError) as exc:
                raise AppendFailed(f"the event stream did not acknowledge: {exc!r}") from exc
            resp = json.loads(msg.data)
            if "error" in resp:
                err = resp["error"]
                raise self._map_error(err.get("err_code"), err.get("description"))
            seq = int(resp["seq"])
            return list(range(seq - last + 1, seq + 1))
        raise AssertionError("unreachable")

    @staticmethod
    def _map_error(err_code: int | None, description: str | None) -> DomainError:
        if err_code in WRONG_LAST_SEQUENCE or err_code == NOT_READY:
            return ConcurrencyConflict(
                "another change to the same record was stored first; reload and retry",
                details={"server": description},
            )
        if err_code == DUPLICATE_IN_BATCH:
            return DuplicateAppend("these events were already stored", details=description)
        return AppendFailed(f"the event stream refused the append: {description}")

    async def load(self, aggregate: str, aggregate_id: str) -> History:
        """All events of one aggregate, in order, upcast to current versions.

        The server's subject index first says how many there are; the batched get then asks
        for exactly that many. (A batch that asks for more makes the server look for the
        next match to the end of the stream: measured here, 17 ms per load at 200k events
        against about 1 ms this way, whatever the stream's size.) An event appended in
        between is simply not seen: the append's expected sequence then conflicts, and the
        command reloads."""
        subject_filter = self.topology.aggregate_filter(aggregate, aggregate_id)
        count = await self._count(subject_filter)
        key = (aggregate, aggregate_id)
        cached = self._recent.get(key)
        if cached is not None and len(cached.events) == count:
            # Events are never deleted: the same count means the same events.
            self._recent.move_to_end(key)
            return cached
        # A cached history is a prefix of the current one (events are never deleted and a
        # subject's events come in stream order): only what came after it is read.
        base = cached if cached is not None and len(cached.events) < count else None
        stored: list[Stored] = list(base.events) if base else []
        seq = base.last_seq + 1 if base else 1
        while len(stored) < count:
            raw, _ = await self._direct_batch(subject_filter, seq, min(count - len(stored), 1000))
            if not raw:
                break
            stored.extend(Stored(s, decode(data)) for s, data in raw)
            seq = raw[-1][0] + 1
        history = History(stored, stored[-1].seq if stored else 0)
        if stored:
            self._recent[key] = history
            if len(self._recent) > RECENT_AGGREGATES:
                self._recent.popitem(last=False)
        return history

    async def _count(self, subject_filter: str) -> int:
        body = json.dumps({"subjects_filter": subject_filter}).encode()
        try:
            msg = await self.nc.request(
                f"$JS.API.STREAM.INFO.{self.topology.events_stream}", body, timeout=self.timeout
            )
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError) as exc:
            raise ReadFailed(f"stream info failed: the event stream did not answer ({exc!r})",
                             details={"stream": self.topology.events_stream}) from exc
        info = json.loads(msg.data)
        if "error" in info:
            raise ReadFailed(f"stream info failed: {info['error'].get('description')}")
        return sum((info.get("state", {}).get("subjects") or {}).values())

    async def read(self, subject_filter: str, start_seq: int = 1) -> list[Stored]:
        """Batched direct get (one round trip per 1,000 messages)."""
        out: list[Stored] = []
        seq = start_seq
        while True:
            raw, pending = await self._direct_batch(subject_filter, seq, 1000)
            for s, data in raw:
                out.append(Stored(s, decode(data)))
            if not raw or pending == 0:
                return out
            seq = raw[-1][0] + 1

    async def _direct_batch(
        self, subject_filter: str, seq: int, batch: int
    ) -> tuple[list[tuple[int, bytes]], int]:
        """One batched direct get: (sequence, body) of each event, and how many more match."""
        found, pending = await self._direct.batch(
            {"seq": seq, "next_by_subj": subject_filter, "batch": batch})
        return [(f.seq, f.data) for f in found], pending


class DuplicateAppend(DomainError):
    code = "duplicate"
