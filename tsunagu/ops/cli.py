"""Operators' commands: status, tail, dlq, rebuild, demo, verify, console."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import nats.errors
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from eventstore.errors import DomainError
from eventstore.settings import Settings
from tsunagu.clikit import DataDir, JsonOut, NatsUrl, connect, console, err_console, print_json
from tsunagu.clikit import settings_from as _settings_from
from tsunagu.ops import audit, dlq, health, reader, render, tail

T = TypeVar("T")

Operator = Annotated[
    str | None,
    typer.Option("--operator", envvar=audit.OPERATOR_ENV,
                 help="Who you are (default: your login name)"),
]


def register(app: typer.Typer) -> None:
    app.command()(status)
    app.command(name="tail")(tail_cmd)
    app.command()(rebuild)
    app.command()(demo)
    app.command()(verify)
    app.command(name="console")(console_cmd)
    group = typer.Typer(help="Dead letters: events a projection could not apply.",
                        no_args_is_help=True)
    group.command(name="list")(dlq_list)
    group.command(name="show")(dlq_show)
    group.command(name="retry")(dlq_retry)
    group.command(name="discard")(dlq_discard)
    app.add_typer(group, name="dlq")
    from tsunagu.ops import audit_cli  # imports this module: registered from here

    audit_cli.register(app)


def settings_from(nats_url: str | None, data_dir: Path | None) -> Settings:
    return _settings_from(nats_url, data_dir)


def _fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _run(settings: Settings, body: Callable[[Any], Awaitable[T]]) -> T:
    """Connect, run ``body(nc)``, close; turn expected failures into a message and exit 1
    (2 for a refusal such as a forbidden --reveal)."""

    async def main() -> T:
        nc = await connect(settings)
        try:
            return await body(nc)
        finally:
            with contextlib.suppress(Exception):
                await nc.close()

    try:
        return asyncio.run(main())
    except DomainError as exc:
        raise _fail(f"{exc.code}: {exc.message}", 2 if exc.code == "reveal_not_allowed" else 1) \
            from exc
    except (LookupError, ValueError, RuntimeError, ConnectionError, OSError,
            nats.errors.Error) as exc:
        raise _fail(str(exc)) from exc


# ----- status ----------------------------------------------------------------------------
def _age(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds:.1f}s"


def status(
    json_out: JsonOut = False,
    wait: Annotated[float, typer.Option(help="Seconds to wait for services to answer")] = 0.5,
    nats_url: NatsUrl = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """The event stream, each service's consumers with their lag, checkpoints, dead letters
    and whether each service is alive."""
    settings = settings_from(nats_url, data_dir)

    async def body(nc: Any) -> health.PlatformStatus:
        return await health.platform_status(nc, settings.topology, wait)

    st = _run(settings, body)
    if json_out:
        print_json(st.to_json())
    else:
        _print_status(st)
    if not st.stream.exists:
        raise _fail(f"stream {st.stream.name} does not exist: run `tsunagu up` first")


def _print_status(st: health.PlatformStatus) -> None:
    s = st.stream
    console.print(
        f"[bold]{s.name}[/bold]  messages {s.messages:,}  bytes {s.bytes:,}  "
        f"seq {s.first_seq}..{s.last_seq}  replicas {s.replicas}  consumers {s.consumers}",
        highlight=False,
    )
    console.print(f"[bold]{st.dlq.name}[/bold]  dead letters {st.dlq.messages:,}", highlight=False)
    services = Table(title="Services")
    for col in ("service", "alive", "heartbeat", "instances", "pid", "projections"):
        services.add_column(col)
    for svc in st.services:
        services.add_row(
            svc.name, "[green]yes[/green]" if svc.alive else "[red]no[/red]",
            _age(svc.heartbeat_age), str(svc.instances), str(svc.pid or "—"),
            ", ".join(svc.projections) or "—",
        )
    if not st.services:
        services.add_row("(none answered)", "[red]no[/red]", "—", "0", "—", "—")
    console.print(services)
    for svc in st.services:
        if svc.deliveries is not None:
            d = svc.deliveries
            console.print(f"[bold]{svc.name}[/bold]  deliveries: pending {d.get('pending', 0)}"
                          f"  failed {d.get('failed', 0)}  dead {d.get('dead', 0)}"
                          f"  sent {d.get('sent', 0)}", highlight=False)
    projections = Table(title="Projections (durable consumers; — = catching up or none)")
    for col in ("projection", "service", "checkpoint", "pending", "ack pend.", "redeliv.",
                "dead"):
        projections.add_column(col, overflow="fold")
    for p in st.projections:
        projections.add_row(
            p.name, p.service or "[red]down[/red]", _n(p.checkpoint), _n(p.pending),
            _n(p.ack_pending), _n(p.redelivered),
            f"[red]{p.dead_letters}[/red]" if p.dead_letters else "0",
        )
    console.print(projections)


def _n(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


# ----- tail ------------------------------------------------------------------------------
def tail_cmd(
    case: Annotated[str | None, typer.Option("--case", help="Only this case's events")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="Only this event type")] = None,
    agency: Annotated[str | None, typer.Option("--agency", help="Only events this agency "
                                               "acted in or is named in")] = None,
    since: Annotated[str | None, typer.Option(
        "--since", help="A stream sequence (1200) or a duration (10m, 2h, 3d); default: the "
        "last 100 events, or the whole history when a filter is given")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f",
                                         help="Keep printing new events")] = False,
    limit: Annotated[int | None, typer.Option(
        "--limit", min=1, help="The last N matching events (with --since: the first N from "
        "there; with --follow: the last N, then new ones)")] = None,
    reveal: Annotated[bool, typer.Option(
        "--reveal", help="Show personal data (operators in TSUNAGU_OPERATORS only; recorded "
        "as a PersonalDataRevealed event)")] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Why you reveal")] = None,
    operator: Operator = None,
    json_out: JsonOut = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """Decoded events, one readable line each, personal fields masked."""
    settings = settings_from(nats_url, data_dir)
    try:
        since_value: int | datetime | None = reader.parse_since(since) if since else None
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    flt = render.EventFilter(case=case, type=type_, agency=agency)
    who = audit.current_operator(operator)
    if reveal:
        try:
            audit.check_may_reveal(who)
        except DomainError as exc:
            raise _fail(f"{exc.code}: {exc.message}", 2) from exc
        if not reason:
            raise _fail("--reason is required with --reveal (it is recorded)", 2)

    async def body(nc: Any) -> int:
        from eventstore.crypto import KeyRing

        keyring = None
        if reveal:
            scope = (f"tail case={case or '*'} type={type_ or '*'} agency={agency or '*'} "
                     f"since={since or 'default'}")
            known = await audit.attested_operator(nc, who)
            audit.check_may_reveal(known)
            # Recorded before anything is shown: no audit, no reveal.
            await audit.record(nc, settings.topology,
                               audit.revealed_event(known, scope, reason), known)
            keyring = await KeyRing.open(nc, settings.topology)
        async def show(item: tail.Tailed) -> None:
            if item.envelope is None:
                out = (json.dumps({"seq": item.seq, "error": item.error}) if json_out
                       else f"#{item.seq} (undecodable: {item.error})")
            else:
                env = await tail.unseal(keyring, item.envelope) if keyring else item.envelope
                out = (json.dumps(render.as_json(item.seq, env, reveal), ensure_ascii=False)
                       if json_out else render.line(item.seq, env, reveal))
            sys.stdout.write(out + "\n")
            sys.stdout.flush()

        if limit is not None and since_value is None:
            # Like tail(1): the last N matching events, then (with --follow) what comes.
            last = await tail.last_matching(nc, settings.topology, flt, limit)
            for item in last:
                await show(item)
            if not follow:
                return len(last)
            start = (last[-1].seq + 1) if last else await tail.start_seq(
                nc, settings.topology, None, flt)
            limit_after = None
        else:
            start = await tail.start_seq(nc, settings.topology, since_value, flt)
            limit_after = limit
        shown = 0
        async for item in tail.events(nc, settings.topology, flt, start, follow):
            await show(item)
            shown += 1
            if limit_after is not None and shown >= limit_after:
                break
        return shown

    with contextlib.suppress(KeyboardInterrupt):
        _run(settings, body)


# ----- dead letters ----------------------------------------------------------------------
def dlq_list(
    projection: Annotated[str | None, typer.Option(help="Only this projection")] = None,
    json_out: JsonOut = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """Dead letters with their error."""
    settings = settings_from(nats_url, data_dir)
    letters = _run(settings, lambda nc: dlq.list_dead_letters(nc, settings.topology, projection))
    if json_out:
        print_json([letter.to_json() for letter in letters])
        return
    table = Table(title=f"Dead letters ({len(letters)})")
    for col in ("#", "projection", "stream seq", "event", "attempts", "error"):
        table.add_column(col)
    for d in letters:
        table.add_row(str(d.dlq_seq), d.projection, str(d.stream_seq), d.event_type or "?",
                      str(d.attempts), d.error)
    console.print(table)


def dlq_show(
    dlq_seq: Annotated[int, typer.Argument(help="The dead letter's number (from `dlq list`)")],
    nats_url: NatsUrl = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """One dead letter: its error and its event (personal data masked)."""
    settings = settings_from(nats_url, data_dir)

    async def body(nc: Any) -> dict:
        letter, data = await dlq.get(nc, settings.topology, dlq_seq)
        return dlq.describe(letter, data)

    print_json(_run(settings, body))


def dlq_retry(
    dlq_seq: Annotated[int, typer.Argument(help="The dead letter's number")],
    json_out: JsonOut = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """Re-deliver to the projection that failed (a dead delivery: send it again); removed
    only when that worked."""
    settings = settings_from(nats_url, data_dir)
    result = _run(settings, lambda nc: dlq.retry(nc, settings.topology, dlq_seq))
    if json_out:
        print_json(result)
    else:
        done = (f"sent again by {result['service']} ({result['resent']} deliveries)"
                if "resent" in result else
                f"applied by {result['service']}/{result['projection']}")
        console.print(f"dead letter #{dlq_seq} {done} and removed", highlight=False)


def dlq_discard(
    dlq_seq: Annotated[int, typer.Argument(help="The dead letter's number")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded)")],
    operator: Operator = None,
    json_out: JsonOut = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """Give up on a dead letter: records DeadLetterDiscarded with the reason, then removes it."""
    settings = settings_from(nats_url, data_dir)
    who = audit.current_operator(operator)

    async def body(nc: Any) -> dict:
        known = await audit.attested_operator(nc, who)
        return await dlq.discard(nc, settings.topology, dlq_seq, reason, known)

    result = _run(settings, body)
    if json_out:
        print_json(result)
    else:
        console.print(f"dead letter #{dlq_seq} discarded (recorded at seq "
                      f"{result['audit_seq']})", highlight=False)


# ----- rebuild ---------------------------------------------------------------------------
def _not_running(service: str) -> str:
    from tsunagu.services import SERVICES

    if service in SERVICES:
        return f"service {service!r} is not running (is the platform up?)"
    return f"no service {service!r}: the services are {', '.join(SERVICES)}"


def rebuild(
    service: Annotated[str, typer.Argument(help="The service whose projections to rebuild")],
    to_seq: Annotated[int | None, typer.Option("--to-seq", help="Stop at this sequence")] = None,
    projection: Annotated[str | None, typer.Option(help="Only this projection")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the rebuild")] = 600.0,
    json_out: JsonOut = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """Drop and replay a service's projections from the first event, with progress."""
    settings = settings_from(nats_url, data_dir)
    topo = settings.topology

    async def body(nc: Any) -> dict:
        progress = Progress(
            TextColumn("{task.description}"), BarColumn(),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
            console=err_console, disable=json_out,
        )
        tasks: dict[str, Any] = {}
        started = time.perf_counter()

        async def on_progress(msg: Any) -> None:
            with contextlib.suppress(Exception):
                doc = json.loads(msg.data)
                name, done, total = doc["projection"], int(doc["done"]), int(doc["total"])
                if name not in tasks:
                    tasks[name] = progress.add_task(name, total=total, rate="")
                rate = done / max(time.perf_counter() - started, 1e-6)
                progress.update(tasks[name], completed=done, total=total,
                                rate=f"{rate:,.0f} events/s")

        sub = await nc.subscribe(f"{topo.prefix}.admin.{service}.progress", cb=on_progress)
        args: dict[str, Any] = {}
        if to_seq is not None:
            args["to_seq"] = to_seq
        if projection:
            args["projection"] = projection
        try:
            with progress:
                try:
                    msg = await nc.request(f"{topo.prefix}.admin.{service}.rebuild",
                                           json.dumps(args).encode(), timeout=timeout)
                except nats.errors.NoRespondersError as exc:
                    raise RuntimeError(_not_running(service)) from exc
                except nats.errors.TimeoutError as exc:
                    raise RuntimeError(f"{service} did not finish within {timeout}s "
                                       f"(it may still be rebuilding)") from exc
        finally:
            await sub.unsubscribe()
        reply: dict = json.loads(msg.data)
        reply["elapsed_s"] = round(time.perf_counter() - started, 3)
        return reply

    reply = _run(settings, body)
    if not reply.get("ok"):
        err = reply.get("error") or {}
        raise _fail(f"{err.get('code')}: {err.get('message')}")
    if json_out:
        print_json(reply)
        return
    if not reply["result"]:
        raise _fail(f"{service} has no projection {projection!r}" if projection
                    else f"{service} has no projections to rebuild")
    for name, res in reply["result"].items():
        console.print(f"{name}: rebuilt to seq {res['checkpoint']:,} at "
                      f"{res['events_per_s']:,} events/s", highlight=False)


# ----- demo and console ------------------------------------------------------------------
def demo(
    seed: Annotated[int, typer.Option(help="Random seed (the same seed gives the same data)")] = 7,
    people: Annotated[int, typer.Option(help="How many people")] = 200,
    json_out: JsonOut = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """Load a realistic demo story (agencies, people at every stage, meetings, two fiscal
    years) into a running platform, as commands through its services (the migration role,
    for the past dates). Running it again changes nothing."""
    from tsunagu.ops.demo_send import load_demo

    settings = settings_from(nats_url, data_dir)
    with Progress(TextColumn("demo"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=err_console, disable=json_out) as bar:
        task = bar.add_task("demo", total=None)

        def step(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = _run(settings, lambda nc: load_demo(
            nc, settings.topology, seed=seed, people=people, progress=step))
    if json_out:
        print_json(result)
    else:
        console.print(
            f"demo: {result['commands']:,} commands ({result['new']:,} new, "
            f"{result['replayed']:,} already done), {result['appended']:,} events appended "
            f"({result['agencies']} agencies, {result['people']} people, "
            f"{result['meetings']} meetings) in {result['elapsed_s']:.1f}s", highlight=False)


def verify(json_out: JsonOut = False, nats_url: NatsUrl = None,
           data_dir: DataDir = Path("data")) -> None:
    """Check the whole event stream against the services' rules: report every event the
    deciders would have refused where it stands (exit 1 if any)."""
    from tsunagu.ops.verify import verify_stream

    settings = settings_from(nats_url, data_dir)
    report = _run(settings, lambda nc: verify_stream(nc, settings.topology))
    if json_out:
        print_json(report.as_dict())
    else:
        for f in report.findings:
            console.print(f"seq {f.seq}  {f.aggregate} {f.aggregate_id}  {f.type}: {f.reason}",
                          highlight=False, markup=False)
        checked = ", ".join(f"{n:,} {a}" for a, n in sorted(report.checked.items()))
        console.print(f"verify: {report.events:,} events read ({checked or 'none checked'}); "
                      f"{len(report.findings)} forbidden", highlight=False)
    if not report.ok:
        raise typer.Exit(1)


def console_cmd(
    host: Annotated[str, typer.Option(help="Address to bind (127.0.0.1 by default)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8780,
    token: Annotated[str | None, typer.Option(
        "--token", envvar="TSUNAGU_CONSOLE_TOKEN",
        help="Required when binding to anything but loopback; checked on every request")] = None,
    nats_url: NatsUrl = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """The operators' web console (read-only except dead-letter retry)."""
    from eventstore.logging import configure_logging
    from tsunagu.ops.console import ConsoleConfig, serve

    settings = settings_from(nats_url, data_dir)
    try:
        config = ConsoleConfig.checked(host=host, port=port, token=token)
    except ValueError as exc:
        raise _fail(str(exc), 2) from exc
    configure_logging(settings.log_format, settings.log_level)  # once it will really serve
    with contextlib.suppress(KeyboardInterrupt):
        serve(settings, config)
