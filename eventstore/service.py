"""The thin FastStream adapter every service shares.

A service declares a ``ServiceSpec`` (its command handlers, queries and projections); this
module wires them to NATS: commands as request/reply on ``<prefix>.cmd.<agency>.<command>``,
queries on ``<prefix>.query.<agency>.<query>``, admin requests (status, rebuild, dead-letter
retry) on ``<prefix>.admin.<service>.<action>``, and a heartbeat for ``tsunagu status``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from faststream import FastStream
from faststream.nats import NatsBroker
from faststream.nats.annotations import NatsMessage
from nats.aio.msg import Msg
from nats.js.errors import BucketNotFoundError, NotFoundError
from sqlalchemy import Engine

from contracts.base import Command
from contracts.worldtime import DatingPolicy, Role
from eventstore.commands import Executor, Handler, parse_command
from eventstore.crypto import KeyRing
from eventstore.db import in_thread, make_engine
from eventstore.errors import DomainError, InvalidInput
from eventstore.idempotency import Receipts
from eventstore.projection import Projection, ProjectionRunner, RunnerOptions
from eventstore.reactor import Reactor, ReactorRunner
from eventstore.settings import Settings
from eventstore.store import EventStore

log = structlog.get_logger("tsunagu.service")

QueryHandler = Callable[["Runtime", str, dict[str, Any]], Awaitable[Any]]
StartHook = Callable[["Runtime"], Awaitable[None]]


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
    _command_tasks: set[asyncio.Task[None]] = field(default_factory=set)

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
                                 DatingPolicy(agency_days=self.settings.backdate_days))
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
        for runner in self.runners.values():
            runner.checkpoint = await in_thread(runner._create_tables)
        for hook in self.spec.on_start:
            await hook(self)
        for runner in self.runners.values():
            await runner.start()
        await self._serve_commands()
        if self.spec.answer_unknown_commands:
            await self._answer_unknown_commands()
        # The server has the subscriptions once this returns: a command sent right after
        # startup finds its service (no "no responders").
        await self.broker.connection.flush()
        self.tasks.append(asyncio.create_task(self._heartbeat()))

    async def _serve_commands(self) -> None:
        """Commands are the hot path: a plain queue subscription per command, each message
        handled in its own task (bounded), rather than a FastStream subscriber, whose
        per-message pipeline measured here cost about as much as the command itself."""
        nc = self.broker.connection
        queue = f"{self.spec.name}-svc"
        in_flight = asyncio.Semaphore(64)
        for name, (cls, handler) in self.spec.commands.items():

            async def on_message(
                msg: Msg, cls: type[Command] = cls, handler: Handler = handler
            ) -> None:
                await in_flight.acquire()
                task = asyncio.create_task(self._handle_command(msg, cls, handler))
                task.add_done_callback(lambda _: in_flight.release())
                self._command_tasks.add(task)
                task.add_done_callback(self._command_tasks.discard)

            await nc.subscribe(self.topology.command_listen(name), queue=queue, cb=on_message)
            await nc.subscribe(self.topology.migrate_listen(name), queue=queue, cb=on_message)

    async def _handle_command(self, msg: Msg, cls: type[Command], handler: Handler) -> None:
        agency = _agency_of(msg.subject)
        try:
            command = parse_command(cls, msg.data)
            assert self.executor is not None
            role: Role = "migration" if self.topology.is_migration(msg.subject) else "agency"
            reply = await self.executor.execute(agency, command, handler, role)
            log.info("command ok", command=command.type, agency=agency,
                     command_id=command.command_id, replayed=reply["replayed"])
        except Exception as exc:
            reply = error_reply(exc)
            # The code only: a refusal's message may quote the sender's (personal) input.
            log.info("command refused", subject=msg.subject, error=reply["error"]["code"])
        if msg.reply:
            await msg.respond(json.dumps(reply, ensure_ascii=False).encode())

    async def _answer_unknown_commands(self) -> None:
        """See every command; answer only those no service handles. A plain subscription,
        not a FastStream subscriber: it costs a set lookup per command, not a pipeline."""
        from contracts.catalog import command_types

        known = set(command_types()) | set(self.spec.commands)

        async def on_command(msg: Msg) -> None:
            name = msg.subject.rsplit(".", 1)[-1]
            if name in known or not msg.reply:
                return
            reply = InvalidInput(
                f"unknown command {name!r}", code="unknown_command",
                details={"known": sorted(known)},
            ).to_reply()
            await msg.respond(json.dumps(reply).encode())

        await self.broker.connection.subscribe(
            f"{self.topology.prefix}.cmd.*.*", queue="tsunagu-unknown", cb=on_command
        )

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for runner in self.runners.values():
            await runner.stop()
        self.engine.dispose()

    def status(self) -> dict[str, Any]:
        return {
            "service": self.spec.name,
            "pid": os.getpid(),
            "started_at": self.started_at,
            "sent_at": time.time(),
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
        }

    async def _heartbeat(self) -> None:
        subject = self.topology.heartbeat_subject(self.spec.name)
        while True:
            with contextlib.suppress(Exception):
                await self.broker.connection.publish(subject, json.dumps(self.status()).encode())
            await asyncio.sleep(2.0)


def error_reply(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, DomainError):
        return exc.to_reply()
    log.exception("unexpected error")
    return {"ok": False, "error": {"code": "internal", "message": repr(exc), "details": None}}


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
    topo = settings.topology
    queue = f"{spec.name}-svc"

    for name, (cls, _handler) in spec.commands.items():
        if cls.model_fields["type"].default != name:
            raise ValueError(
                f"{spec.name}: command {name!r} is registered with {cls.__name__}, whose type "
                f"is {cls.model_fields['type'].default!r}; they must be the same"
            )

    for name, query in spec.queries.items():
        _register_query(broker, runtime, f"{topo.prefix}.query.*.{name}", queue, query)

    @broker.subscriber(f"{topo.prefix}.admin.{spec.name}.*", queue=queue)
    async def admin(msg: NatsMessage) -> dict[str, Any]:
        action = msg.raw_message.subject.rsplit(".", 1)[-1]
        try:
            args = json.loads(msg.body or b"{}")
            return await _admin(runtime, action, args)
        except Exception as exc:
            return error_reply(exc)

    # Scatter-gather discovery for operators: every instance answers (no queue group), so
    # `tsunagu status` sees all services at once instead of waiting for heartbeats.
    @broker.subscriber(f"{topo.prefix}.admin.discover")
    async def discover(msg: NatsMessage) -> dict[str, Any]:
        return {"ok": True, "result": runtime.status()}

    app = FastStream(broker)

    @app.after_startup
    async def _start() -> None:
        await runtime.connect()
        log.info("service started", service=spec.name)

    @app.on_shutdown
    async def _stop() -> None:
        await runtime.close()

    return app, runtime


def _register_query(
    broker: NatsBroker, runtime: Runtime, subject: str, queue: str, query: QueryHandler
) -> None:
    @broker.subscriber(subject, queue=queue, max_workers=8)
    async def on_query(msg: NatsMessage) -> dict[str, Any]:
        agency = _agency_of(msg.raw_message.subject)
        try:
            args = json.loads(msg.body or b"{}")
            if not isinstance(args, dict):
                raise InvalidInput("query arguments must be a JSON object")
            return {"ok": True, "result": await query(runtime, agency, args)}
        except json.JSONDecodeError as exc:
            return InvalidInput(f"query arguments are not JSON: {exc.msg}").to_reply()
        except Exception as exc:
            return error_reply(exc)


async def _admin(runtime: Runtime, action: str, args: dict[str, Any]) -> dict[str, Any]:
    if action == "status":
        return {"ok": True, "result": runtime.status()}
    if action == "rebuild":
        results = {}
        subject = f"{runtime.topology.prefix}.admin.{runtime.spec.name}.progress"
        for name, runner in runtime.runners.items():
            if args.get("projection") and args["projection"] != name:
                continue
            if isinstance(runner, ReactorRunner):
                continue  # reactions already happened; replaying them is not a rebuild

            def progress(done: int, total: int, name: str = name) -> None:
                body = json.dumps({"projection": name, "done": done, "total": total}).encode()
                asyncio.get_running_loop().create_task(
                    runtime.broker.connection.publish(subject, body)
                )

            rate = await runner.rebuild(args.get("to_seq"), progress)
            results[name] = {"checkpoint": runner.checkpoint, "events_per_s": round(rate)}
        return {"ok": True, "result": results}
    if action == "replay":
        target = runtime.runners.get(args.get("projection", ""))
        if target is None:
            raise InvalidInput(f"no projection {args.get('projection')!r} in {runtime.spec.name}")
        applied = await target.replay_one(int(args["seq"]))
        return {"ok": applied, "result": {"applied": applied}}
    raise InvalidInput(f"unknown admin action {action!r}")
