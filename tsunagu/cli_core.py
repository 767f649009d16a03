"""Core commands: up, run, send, contracts export."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from tsunagu.clikit import (
    DataDir,
    NatsUrl,
    connect,
    err_console,
    print_json,
    request,
    run,
    settings_from,
)


def register(app: typer.Typer) -> None:
    app.command()(up)
    app.command(name="run")(run_service)
    app.command()(send)
    contracts = typer.Typer(help="The public contracts (JSON Schema, AsyncAPI).")
    contracts.command(name="export")(export_contracts)
    app.add_typer(contracts, name="contracts")


def up(
    data_dir: DataDir = Path("data"),
    nats_url: Annotated[
        str | None, typer.Option("--nats-url", help="Use this NATS instead of starting one")
    ] = None,
    nats_port: Annotated[int, typer.Option("--nats-port", help="0 = a free port")] = 0,
    console_port: Annotated[int | None, typer.Option(
        "--console-port", help="Web console port (default 8780, or a free one if 8780 is "
        "taken; a port given here must be free)")] = None,
    console_host: Annotated[str, typer.Option("--console-host")] = "127.0.0.1",
    demo: Annotated[bool, typer.Option("--demo", help="Load the demo data set once up")] = False,
    sync_always: Annotated[
        bool,
        typer.Option(
            "--sync-always/--lazy-sync",
            help="fsync every write before acknowledging (default; lazy sync can lose "
            "acknowledged events if the machine crashes)",
        ),
    ] = True,
    secure: Annotated[bool, typer.Option(
        "--secure", help="TLS, NATS accounts and per-identity credentials, written under "
        "the data dir (deploy/README.md); prints how to connect as an agency")] = False,
) -> None:
    """Start the platform: nats-server from the wheel, the stream, all four services."""
    from tsunagu.runtime import Platform

    platform = Platform(
        data_dir=data_dir,
        nats_url=nats_url,
        nats_port=nats_port,
        console_port=console_port,
        console_host=console_host,
        demo=demo,
        sync_always=sync_always,
        secure=secure,
    )
    raise typer.Exit(platform.run())


def run_service(
    service: Annotated[str, typer.Argument(help="referral | casefile | meeting | stats")],
    nats_url: NatsUrl = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """Run one service alone (the platform's `up` runs all of them)."""
    from eventstore.logging import configure_logging
    from eventstore.service import build_app
    from tsunagu.services import spec_factory

    settings = settings_from(nats_url, data_dir)
    configure_logging(settings.log_format, settings.log_level)
    try:
        factory = spec_factory(service)
    except KeyError as exc:
        err_console.print(f"[red]error:[/red] {exc.args[0]}")
        raise typer.Exit(2) from exc
    app, _ = build_app(factory(settings), settings)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(app.run())


def send(
    agency: Annotated[str, typer.Argument(help="Acting agency id")],
    command: Annotated[str, typer.Argument(help="Command name, e.g. submit_referral")],
    json_file: Annotated[str, typer.Option("--json", help="Payload file, or - for stdin")] = "-",
    nats_url: NatsUrl = None,
    data_dir: DataDir = Path("data"),
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the reply")] = 10.0,
) -> None:
    """Send any command and print the reply (exit 1 when refused)."""
    try:
        raw = sys.stdin.buffer.read() if json_file == "-" else Path(json_file).read_bytes()
    except OSError as exc:
        raise typer.BadParameter(
            f"cannot read {json_file!r}: {exc.strerror}", param_hint="--json"
        ) from exc
    settings = settings_from(nats_url, data_dir)

    async def body() -> dict:
        nc = await connect(settings)
        try:
            return await request(
                nc, settings.topology.command_subject(agency, command), raw, timeout
            )
        finally:
            await nc.close()

    reply = run(body)
    print_json(reply)
    if not reply.get("ok"):
        raise typer.Exit(1)


def export_contracts(
    out: Annotated[Path, typer.Argument(help="Directory to write into")],
    html: Annotated[Path | None, typer.Option(
        help="Also render the AsyncAPI document as one HTML page into this directory")] = None,
) -> None:
    """Write JSON Schema for every event and command, and an AsyncAPI document."""
    from contracts.export import asyncapi, export

    written = export(out)
    result: dict[str, object] = {"written": len(written), "dir": str(out)}
    if html is not None:
        from tsunagu.apidoc import write_html

        result["html"] = str(write_html(asyncapi(), html))
    print(json.dumps(result))
