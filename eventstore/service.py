"""The thin FastStream adapter every service shares.

A service declares a ``ServiceSpec`` (its command handlers, queries and projections); this
module wires them to NATS: commands as request/reply on ``<prefix>.cmd.<agency>.<command>``,
queries on ``<prefix>.query.<agency>.<query>``, admin requests (status, rebuild, dead-letter
retry) on ``<prefix>.admin.<service>.<action>``, and a heartbeat for ``tsunagu status``.
Every request passes the guards first (``responder``, ``guard``): an inbox-shaped reply
subject (the operator's for admin), and a body within the limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import nats
import structlog
from faststream import FastStream
from faststream.nats import NatsBroker
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.errors import BucketNotFoundError, NotFoundError
from sqlalchemy import Engine, MetaData

from contracts.base import Command
from contracts.worldtime import DatingPolicy, Role
from eventstore.admin import admin_action
from eventstore.commands import Executor, Handler, parse_command
from eventstore.crypto import KeyRing
from eventstore.db import in_thread, make_engine
from eventstore.errors import DomainError, InvalidInput
from eventstore.guard import parse_json
from eventstore.idempotency import Receipts
from eventstore.projection import Projection, ProjectionRunner, RunnerOptions
from eventstore.reactor import Reactor, ReactorRunner
from eventstore.responder import Answer, Responder
from eventstore.settings import Settings
from eventstore.shedding import Admission, ServiceBusy
from eventstore.store import EventStore

log = structlog.get_logger("tsunagu.service")

#: An admin answer whose reader no credential names (admin users, or no authentication).
UNNAMED = "unnamed"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def operator_of(reply: str | None) -> str:
    """Who can read an operator query's answer. Deploy gives each operator a private reply
    prefix ``_INBOX.operator.<name>`` that only its credentials may subscribe to
    (``tsunagu.deploy.permissions``), so the name is the server-enforced identity of the
    reader; any other reply subject names no one.

    >>> operator_of("_INBOX.operator.ops.kX2")
    'ops'
    >>> operator_of("_INBOX.kX2")
    'unnamed'
    """
    parts = (reply or "").split(".")
    if len(parts) > 3 and parts[:2] == ["_INBOX", "operator"] and _NAME.match(parts[2]):
        return parts[2]
    return UNNAMED


QueryHandler = Callable[["Runtime", str, dict[str, Any]], Awaitable[Any]]
StartHook = Callable[["Runtime"], Awaitable[None]]
#: Query and admin arguments are a few ids and dates.
MAX_QUERY_BYTES = 16 * 1024
#: Command messages handled at once, waiting for a slot or being refused included: a
#: memory bound only; how many run is the admission's (``eventstore/shedding.py``).
MAX_COMMAND_TASKS = 1024


@dataclass
class ServiceSpec:
    name: str
    commands: dict[str, tuple[type[Command], Handler]] = field(default_factory=dict)
    queries: dict[str, QueryHandler] = field(default_factory=dict)
    projections: list[Projection] = field(default_factory=list)
    #: Built once the runtime is connected (they need the executor): ``lambda rt: [...]``.
    reactors: Callable[[Runtime], list[Reactor]] | None = None
    on_start: list[StartHook] = field(default_factory=list)
    answer_unknown_commands: bool = False
    #: Operator-only queries, on ``<prefix>.admin.<service>.<name>`` (operators' subjects,
    #: never an agency's): e.g. what the service holds about one person (開示請求). The
    #: handler's second argument is the operator (``operator_of``), not an agency.
    operator_queries: dict[str, QueryHandler] = field(default_factory=dict)
    #: Dead letters this service settles besides its projections' (``eventstore/letters.py``),
    #: e.g. the notifier's undeliverable ``notifier.deliveries``.
    dead_letters: tuple[str, ...] = ()
    #: More of the service's state for ``tsunagu status`` (cheap, sync: it is sent with
    #: every heartbeat), e.g. the notifier's delivery counts.
    extra_status: Callable[[], dict[str, Any]] | None = None
    #: Tables the service keeps itself, not derived from events, so a projection's rebuild
    #: does not drop them (e.g. the notifier's deliveries: what it sent and still owes).
    #: Created with the projections' tables, or by the service's migrations.
    tables: MetaData | None = None


@dataclass
class Runtime:
    """What handlers and hooks can reach once the broker is connected."""

    spec: ServiceSpec
    settings: Settings
    broker: NatsBroker
    engine: Engine
    store: EventStore | None = None
    keyring: KeyRing | None = None
    executor: Executor | None = None
    runners: dict[str, ProjectionRunner] = field(default_factory=dict)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    responder: Responder = field(init=False)
    admission: Admission = field(init=False)
    _unknown_nc: Client | None = None

    def __post_init__(self) -> None:
        self.responder = Responder(self.spec.name)
        self.admission = Admission(self.settings.command_slots, self.settings.command_queue_ms,
                                   self.settings.command_budget_ms)

    @property
    def topology(self):  # type: ignore[no-untyped-def]
        return self.settings.topology

    async def connect(self, runner_options: RunnerOptions | None = None) -> None:
        nc = self.broker.connection
        if runner_options is None and self.settings.db_migrations:
            runner_options = RunnerOptions(create_tables=False)
        self.store = EventStore(nc, self.topology)
        try:
            await nc.jetstream().stream_info(self.topology.events_stream)
            self.keyring = await KeyRing.open(nc, self.topology)
            receipts = await Receipts.open(nc, self.topology)
        except (NotFoundError, BucketNotFoundError) as exc:
            raise RuntimeError(
                f"the event stream {self.topology.events_stream} (or a bucket) is not "
                "provisioned on this NATS: start the platform with `tsunagu up`, or run "
                "`tsunagu cluster provision` once against it"
            ) from exc
        self.executor = Executor(self.store, self.keyring, receipts,
                                 DatingPolicy(agency_days=self.settings.backdate_days),
                                 self.admission)
        for projection in self.spec.projections:
            self.runners[projection.name] = ProjectionRunner(
                nc, self.topology, projection, self.engine,
                keyring=self.keyring, options=runner_options,
            )
        for reactor in self.spec.reactors(self) if self.spec.reactors else []:
            self.runners[reactor.name] = ReactorRunner(
                nc, self.topology, reactor, self.engine, options=runner_options
            )
        # Tables exist and hooks have run (keys, wiring, timers) before the first batch.
        if self.spec.tables is not None and (runner_options or RunnerOptions()).create_tables:
            await in_thread(self.spec.tables.create_all, self.engine)
        for runner in self.runners.values():
            runner.checkpoint = await in_thread(runner._create_tables)
        for hook in self.spec.on_start:
            await hook(self)
        for runner in self.runners.values():
            await runner.start()
        await self._serve()
        # The server has the subscriptions once this returns: a command sent right after
        # startup finds its service (no "no responders").
        await self.broker.connection.flush()
        self.tasks.append(asyncio.create_task(self._heartbeat()))

    @property
    def refused_replies(self) -> int:
        """Requests ignored because of their reply subject (``eventstore.guard``)."""
        return self.responder.refused

    async def _serve(self) -> None:
        """Commands, queries and admin requests, each behind the reply-subject guard
        (``responder``). Commands are the hot path: plain subscriptions, not FastStream
        subscribers, whose per-message pipeline measured here cost about as much as the
        command itself; and FastStream answers every reply subject it is given."""
        nc, topo, queue = self.broker.connection, self.topology, f"{self.spec.name}-svc"
        serve, replies = self.responder.serve, self.settings.reply_prefixes
        commands = asyncio.Semaphore(MAX_COMMAND_TASKS)
        for name, (cls, handler) in self.spec.commands.items():
            answer = self._command_answer(cls, handler)
            # Backdated migration commands come on their own subject space, which only the
            # operator and the admin may publish (deploy); the role follows the subject.
            for listen in (topo.command_listen(name), topo.migrate_listen(name)):
                await serve(nc, listen, answer, replies=replies, queue=queue,
                            in_flight=commands, reply_required=False)
        for name, query in self.spec.queries.items():
            await serve(nc, f"{topo.prefix}.query.*.{name}", self._query_answer(query),
                        replies=replies, queue=queue)
        operator = self.settings.admin_reply_prefixes
        await serve(nc, f"{topo.prefix}.admin.{self.spec.name}.*", self._admin_answer,
                    replies=operator, queue=queue, in_flight=asyncio.Semaphore(1),
                    wants=lambda msg: not msg.subject.endswith(".progress"))  # its own

        async def discover(msg: Msg) -> dict[str, Any]:
            return {"ok": True, "result": self.status()}

        # Scatter-gather discovery for operators: every instance answers (no queue group),
        # so `tsunagu status` sees all services at once instead of waiting for heartbeats.
        await serve(nc, f"{topo.prefix}.admin.discover", discover, replies=operator)
        if self.spec.answer_unknown_commands:
            await self._answer_unknown_commands()

    def _command_answer(self, cls: type[Command], handler: Handler) -> Answer:
        async def answer(msg: Msg) -> dict[str, Any]:
            agency = _agency_of(msg.subject)
            try:
                deadline = self.admission.deadline(msg.headers)
                self.admission.check(deadline, agency)  # refused before the body is parsed
                command = parse_command(cls, msg.data)
                assert self.executor is not None
                role: Role = "migration" if self.topology.is_migration(msg.subject) else "agency"
                reply = await self.executor.execute(agency, command, handler, role, deadline)
            except ServiceBusy:
                raise  # counted in the status (``commands.shed``): a line each would flood
            except DomainError as exc:
                # The code only: a refusal's message may quote the sender's (personal) input.
                log.info("command refused", subject=msg.subject, error=exc.code)
                raise
            log.info("command ok", command=command.type, agency=agency,
                     command_id=command.command_id, replayed=reply["replayed"])
            return reply

        return answer

    def _query_answer(self, query: QueryHandler) -> Answer:
        async def answer(msg: Msg) -> dict[str, Any]:
            args = parse_json(msg.data or b"{}", limit=MAX_QUERY_BYTES)
            if not isinstance(args, dict):
                raise InvalidInput("query arguments must be a JSON object")
            return {"ok": True, "result": await query(self, _agency_of(msg.subject), args)}

        return answer

    async def _admin_answer(self, msg: Msg) -> dict[str, Any]:
        args = parse_json(msg.data or b"{}", limit=MAX_QUERY_BYTES)
        if not isinstance(args, dict):
            raise InvalidInput("admin arguments must be a JSON object")
        return await admin_action(self, msg.subject.rsplit(".", 1)[-1], args, msg.reply)

    async def _answer_unknown_commands(self) -> None:
        """See every command; answer only those no service handles. On a connection of its
        own: on the services' connection the catch-all and a command's own subscription
        would both match, and nats-server then refuses the reply (``responder``)."""
        from contracts.catalog import command_types

        known = set(command_types()) | set(self.spec.commands)

        async def unknown(msg: Msg) -> dict[str, Any]:
            name = msg.subject.rsplit(".", 1)[-1]
            return InvalidInput(
                f"unknown command {name!r}", code="unknown_command",
                details={"known": sorted(known)},
            ).to_reply()

        self._unknown_nc = await nats.connect(
            **self.settings.connect_options(), name=f"{self.spec.name}-unknown-commands"
        )
        await self.responder.serve(
            self._unknown_nc, f"{self.topology.prefix}.cmd.*.*", unknown,
            replies=self.settings.reply_prefixes, queue="tsunagu-unknown",
            wants=lambda msg: msg.subject.rsplit(".", 1)[-1] not in known,
        )
        await self._unknown_nc.flush()

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._unknown_nc is not None:
            with contextlib.suppress(Exception):
                await self._unknown_nc.close()
        for runner in self.runners.values():
            await runner.stop()
        self.engine.dispose()

    def status(self) -> dict[str, Any]:
        return {
            "service": self.spec.name,
            "pid": os.getpid(),
            "started_at": self.started_at,
            "sent_at": time.time(),
            "refused_replies": self.refused_replies,
            "commands": self.admission.status(),
            "projections": {
                name: {
                    "checkpoint": r.checkpoint,
                    "applied": r.applied,
                    "dead_lettered": r.dead_lettered,
                    "resyncs": r.resyncs,  # deliveries lost in transit, read again
                    "durable": r.durable,
                }
                for name, r in self.runners.items()
            },
            **(self.spec.extra_status() if self.spec.extra_status else {}),
        }

    async def _heartbeat(self) -> None:
        subject = self.topology.heartbeat_subject(self.spec.name)
        while True:
            with contextlib.suppress(Exception):
                await self.broker.connection.publish(subject, json.dumps(self.status()).encode())
            await asyncio.sleep(2.0)


def _agency_of(subject: str) -> str:
    # <prefix>.cmd.<agency>.<command>: the agency is the second-to-last token.
    return subject.split(".")[-2]


def broker_options(settings: Settings) -> dict[str, Any]:
    """``connect_options`` for FastStream, which takes TLS and credentials as one
    ``security=`` object (its ``nkeys_seed=``/``user_credentials=`` are deprecated)."""
    from faststream.nats.security import NatsCredentials, NatsNKey
    from faststream.security import BaseSecurity

    opts = settings.connect_options()
    tls = opts.pop("tls", None)
    seed, creds = opts.pop("nkeys_seed", None), opts.pop("user_credentials", None)
    if seed is not None:
        opts["security"] = NatsNKey.from_file(seed, ssl_context=tls)
    elif creds is not None:
        opts["security"] = NatsCredentials.from_file(creds, ssl_context=tls)
    elif tls is not None:
        opts["security"] = BaseSecurity(ssl_context=tls)
    return opts


def build_app(spec: ServiceSpec, settings: Settings) -> tuple[FastStream, Runtime]:
    broker = NatsBroker(**broker_options(settings), logger=None)
    engine = make_engine(settings.database_url(spec.name))
    runtime = Runtime(spec, settings, broker, engine)

    for name, (cls, _handler) in spec.commands.items():
        if cls.model_fields["type"].default != name:
            raise ValueError(
                f"{spec.name}: command {name!r} is registered with {cls.__name__}, whose type "
                f"is {cls.model_fields['type'].default!r}; they must be the same"
            )

    app = FastStream(broker)

    @app.after_startup
    async def _start() -> None:
        await runtime.connect()
        log.info("service started", service=spec.name)

    @app.on_shutdown
    async def _stop() -> None:
        await runtime.close()

    return app, runtime
