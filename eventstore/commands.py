"""Executing commands: load, decide (pure), append with optimistic concurrency, reply.

A service writes each command handler as ``async def handle_<command>(deps, session, cmd)
-> list[DomainEvent]`` and registers it by the command's type with ``command_table``, which
binds the service's ``deps``; the executor runs the bound ``Handler(session, cmd)``. A
handler loads what it needs through the session (which remembers each aggregate's last
sequence) and calls the service's pure decider. The executor seals personal data, appends
with the expected sequences, reloads and retries on a conflict, and makes retries
idempotent: every event records the command that caused it, so a command sent again finds
its events in the history it loads and gets the original reply, and nothing new is
appended.

The idempotency key is (sender agency, ``command_id``): another agency's command with the
same id is its own command. Every event also carries the command's fingerprint
(``command_fingerprint``), and a receipt is kept per key (``eventstore/idempotency.py``), so
the same key resent with another body or type is refused (``command_id_reused``) instead of
silently answered with the first command's reply.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import nats.errors
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from pydantic import ValidationError

from contracts.base import Actor, Command, DomainEvent, utcnow
from contracts.deadline import DEADLINE_HEADER
from contracts.envelope import Envelope
from contracts.worldtime import DatingPolicy, Role, dating_problem, world_time
from eventstore.codec import new_envelope
from eventstore.crypto import KeyRing, key_id_of
from eventstore.errors import ConcurrencyConflict, DomainError, InvalidInput
from eventstore.guard import parse_json
from eventstore.idempotency import (
    Receipt,
    Receipts,
    fingerprint,
    fingerprint_key_id,
    same_command,
)
from eventstore.replies import reply_ids
from eventstore.shedding import Admission, deadline_after, retry_after
from eventstore.store import EventStore, History

log = structlog.get_logger("tsunagu.commands")

MAX_COMMAND_BYTES = 128 * 1024
MAX_ATTEMPTS = 8


@dataclass
class Session:
    """One attempt at a command: what was loaded, at which sequence.

    ``now`` is the real time (the events' ``recorded_at``); ``world`` is when the command
    says its fact happened (``contracts.worldtime``), which deciders compare with the world
    dates of the facts it depends on. ``role`` is ``agency`` on the ordinary command subjects,
    ``migration`` on ``<prefix>.migrate.…``, ``reaction`` for the platform's own reactions.
    """

    store: EventStore
    agency_id: str
    command: Command
    now: datetime = field(default_factory=utcnow)
    loaded: dict[tuple[str, str], History] = field(default_factory=dict)
    role: Role = "agency"
    #: Given back once, in this execution's reply only (``"once"``), never stored in the
    #: receipt nor replayed: e.g. a generated secret the sender must keep.
    once: dict[str, Any] = field(default_factory=dict)

    @property
    def world(self) -> datetime:
        return world_time(self.command, self.now)

    async def load(self, aggregate: str, aggregate_id: str) -> History:
        key = (aggregate, aggregate_id)
        if key not in self.loaded:
            self.loaded[key] = await self.store.load(aggregate, aggregate_id)
        return self.loaded[key]

    def caused_by_command(self) -> list[tuple[int, Envelope]]:
        found = [
            (s.seq, s.envelope)
            for h in self.loaded.values()
            for s in h.events
            if s.envelope.causation_id == self.command.command_id
            and s.envelope.actor.agency_id == self.agency_id
        ]
        return sorted(found, key=lambda pair: pair[0])

    @property
    def expected(self) -> dict[tuple[str, str], int]:
        return {k: h.last_seq for k, h in self.loaded.items()}


Handler = Callable[[Session, Any], Awaitable[list[DomainEvent]]]
D = TypeVar("D")
#: A service's handler before its ``deps`` (settings, keyring, …) are bound.
ServiceHandler = Callable[[D, Session, Any], Awaitable[list[DomainEvent]]]


def command_table(
    deps: D, *handlers: tuple[type[Command], ServiceHandler[D]]
) -> dict[str, tuple[type[Command], Handler]]:
    """A service's commands for ``ServiceSpec.commands``: each handler under its command's
    type (the subject token), with ``deps`` bound. A type registered twice is refused."""
    table: dict[str, tuple[type[Command], Handler]] = {}
    for cls, fn in handlers:
        name = cls.model_fields["type"].default
        if name in table:
            raise ValueError(f"command {name!r} is registered twice")
        table[name] = (cls, partial(fn, deps))
    return table


def reply_ok(command: Command, stored: list[tuple[int, Envelope]], replayed: bool) -> dict:
    return {
        "ok": True,
        "command_id": command.command_id,
        "replayed": replayed,
        "events": [
            {
                "event_id": str(e.event_id),
                "type": e.type,
                "seq": seq,
                "aggregate_id": e.aggregate_id,
            }
            for seq, e in stored
        ],
        "ids": reply_ids(stored),
    }


@dataclass
class Executor:
    store: EventStore
    keyring: KeyRing
    #: Receipts by (agency, command_id). Without them (pure tests) a key is recognised only
    #: in the histories the handler loads.
    receipts: Receipts | None = None
    policy: DatingPolicy = field(default_factory=DatingPolicy)
    #: Slots and queue (``eventstore/shedding.py``). Without it, or for a command with no
    #: deadline (the platform's own reactions), every command runs at once.
    admission: Admission | None = None

    async def execute(
        self, agency_id: str, command: Command, handler: Handler, role: Role = "agency",
        deadline_ms: float | None = None,
    ) -> dict:
        """Run the command; with a deadline it first waits for a slot or is refused
        ``busy`` before anything is loaded, appended or remembered."""
        if self.admission is None or deadline_ms is None:
            return await self._execute(agency_id, command, handler, role)
        async with self.admission.slot(deadline_ms, agency_id):
            return await self._execute(agency_id, command, handler, role)

    async def _execute(
        self, agency_id: str, command: Command, handler: Handler, role: Role
    ) -> dict:
        receipt = await self.receipts.get(agency_id, command.command_id) if self.receipts else None
        if receipt is not None:  # the key was used: the same command again, or refused
            await same_command(self.keyring, agency_id, command, receipt.fingerprint,
                               receipt.reply["events"], receipt.type)
            return {**receipt.reply, "replayed": True}
        for attempt in range(1, MAX_ATTEMPTS + 1):
            session = Session(self.store, agency_id, command, role=role)
            try:
                events = await handler(session, command)
            except DomainError:
                done = session.caused_by_command()
                if done:  # a retry of a command that already succeeded
                    return await self._replay(agency_id, command, done)
                raise
            done = session.caused_by_command()
            if done:
                return await self._replay(agency_id, command, done)
            self._check_dating(session)
            envelopes = await self._stamp(command, await self._envelopes(session, command, events))
            for env in envelopes:
                if (env.aggregate, env.aggregate_id) not in session.loaded:
                    raise RuntimeError(f"handler appends to {env.aggregate} it did not load")
            try:
                seqs = await self.store.append(envelopes, session.expected)
            except ConcurrencyConflict:
                log.info("conflict, reloading", command=command.type, attempt=attempt)
                # Jitter so that writers racing on one record do not collide in lockstep.
                await asyncio.sleep(random.uniform(0, 0.004 * attempt))
                continue
            reply = reply_ok(command, list(zip(seqs, envelopes, strict=True)), replayed=False)
            await self._remember(agency_id, command, envelopes, reply)
            return {**reply, "once": session.once} if session.once else reply
        raise ConcurrencyConflict(
            f"{command.type}: the record kept changing under this command; try again",
            details={"attempts": MAX_ATTEMPTS},
        )

    async def _replay(
        self, agency_id: str, command: Command, done: list[tuple[int, Envelope]]
    ) -> dict:
        """The original reply, if this is the same command; refused if the key is reused."""
        envs = [env for _, env in done]
        stored = next((e.command_fingerprint for e in envs if e.command_fingerprint), None)
        reply = reply_ok(command, done, replayed=False)
        await same_command(self.keyring, agency_id, command, stored, reply["events"])
        if stored is not None:  # its receipt was lost (a crash after the append): again
            await self._remember(agency_id, command, envs, reply)
        return {**reply, "replayed": True}

    async def _remember(
        self, agency_id: str, command: Command, envelopes: list[Envelope], reply: dict
    ) -> None:
        digest = envelopes[0].command_fingerprint if envelopes else None
        if self.receipts is None or digest is None:
            return  # a command that stored nothing has nothing to be idempotent about
        receipt = Receipt(command.type, digest, reply)
        try:
            await self.receipts.put(agency_id, command.command_id, receipt)
        except Exception as exc:
            # The events are stored, so the reply stands; a retry is still recognised in
            # their histories (only a reuse on other records would go unnoticed).
            log.warning("command receipt not stored", command=command.type,
                        error=type(exc).__name__)

    async def _stamp(self, command: Command, envelopes: list[Envelope]) -> list[Envelope]:
        key_id = fingerprint_key_id(envelopes)
        key = await self.keyring.get(key_id) if key_id else None
        digest = fingerprint(command, key_id, key)
        return [env.model_copy(update={"command_fingerprint": digest}) for env in envelopes]

    def _check_dating(self, session: Session) -> None:
        """Checked once the command is known not to be a retry: a command accepted on time
        and resent later still gets its original reply."""
        problem = dating_problem(session.command, session.now, session.role, self.policy)
        if problem is not None:
            raise InvalidInput(problem.message, code=problem.code,
                               details={"field": problem.field, "role": session.role})

    async def _envelopes(
        self, session: Session, command: Command, events: list[DomainEvent]
    ) -> list[Envelope]:
        # The staff member's name is sealed beside the event (with its key), never plain.
        actor = Actor(agency_id=session.agency_id)
        out = []
        for event in events:
            sealed = await self.keyring.seal_event(event)
            env = new_envelope(
                sealed,
                actor,
                occurred_at=session.world,
                correlation_id=command.command_id,
                causation_id=command.command_id,
            )
            staff = await self.keyring.seal_staff(key_id_of(sealed), command.staff)
            out.append(env.model_copy(update={"sealed_staff": staff}) if staff else env)
        return out


def parse_command(cls: type[Command], raw: bytes) -> Command:
    """Bytes from an agency system to a command, or an InvalidInput naming each field.
    Size, UTF-8, nesting and number limits are checked before parsing (``guard``)."""
    doc = parse_json(raw, limit=MAX_COMMAND_BYTES)
    if not isinstance(doc, dict):
        raise InvalidInput("payload must be a JSON object")
    expected_type = cls.model_fields["type"].default
    doc.setdefault("type", expected_type)
    if doc["type"] != expected_type:
        raise InvalidInput(f"type {doc['type']!r} does not match the subject ({expected_type})")
    try:
        return cls.model_validate(doc)
    except ValidationError as exc:
        details = [
            {"field": ".".join(str(p) for p in e["loc"]), "rule": e["type"], "message": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        fields = ", ".join(d["field"] or "(payload)" for d in details)
        raise InvalidInput(f"invalid {expected_type}: {fields}", details=details) from exc


async def request_patiently(
    nc: Client, subject: str, body: bytes, timeout: float = 10.0, patience: float = 2.0
) -> Msg:
    """A request that waits out "no responders" and ``busy`` for up to ``patience``
    seconds: a service that is (re)starting has no subscription for a moment, and one that
    is overloaded says when to come back (``retry_after_ms``). Each attempt carries the
    deadline header (now + ``timeout``): a service does not start what we no longer wait
    for. Resending is safe: commands are idempotent by command id (and a busy one was not
    run), queries only read."""
    give_up = time.monotonic() + patience
    delay = 0.05
    while True:
        headers = {DEADLINE_HEADER: deadline_after(timeout)}
        try:
            msg = await nc.request(subject, body, timeout=timeout, headers=headers)
        except nats.errors.NoRespondersError:
            if time.monotonic() + delay > give_up:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
            continue
        wait = retry_after(msg.data)
        if wait is None or time.monotonic() + wait > give_up:
            return msg
        # Jitter, so that the senders refused together do not all come back together.
        await asyncio.sleep(wait * random.uniform(1.0, 1.5))
