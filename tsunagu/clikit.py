"""Shared plumbing for CLI commands: options, settings, NATS requests, output."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import nats
import typer
from nats.aio.client import Client
from rich.console import Console

from eventstore.commands import request_patiently
from eventstore.settings import Settings, load_settings

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)

NatsUrl = Annotated[
    str | None,
    typer.Option(
        "--nats-url",
        envvar="TSUNAGU_NATS_URL",
        help="NATS URL (default: <data-dir>/nats.url written by `tsunagu up`)",
    ),
]
DataDir = Annotated[
    Path, typer.Option("--data-dir", envvar="TSUNAGU_DATA_DIR", help="Data directory")
]
JsonOut = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output")]
AsAgency = Annotated[
    str, typer.Option("--as", help="The agency you act as (its view, its permissions)")
]


#: The CLI's replies come back to an admin inbox unless TSUNAGU_NATS_INBOX_PREFIX names one
#: (an operator's or an agency's, as `tsunagu creds issue` prints): services answer admin
#: requests (status, rebuild, replay, discover) only on ``_INBOX.operator.`` and
#: ``_INBOX.admin.`` inboxes (eventstore.guard), in every mode, `tsunagu up` included.
DEFAULT_INBOX_PREFIX = "_INBOX.admin.cli"


def cli_connect_options(settings: Settings) -> dict[str, Any]:
    """``nats.connect`` options for the CLI and the console: the settings' own, with the
    admin inbox prefix when none is configured."""
    opts = settings.connect_options()
    opts.setdefault("inbox_prefix", DEFAULT_INBOX_PREFIX)
    return opts


def settings_from(nats_url: str | None, data_dir: Path | None = None) -> Settings:
    return load_settings(nats_url=nats_url, data_dir=data_dir)


def run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    """Run an async CLI body; turn expected failures into a message and exit code 1."""
    try:
        return asyncio.run(coro_fn())  # type: ignore[arg-type]
    except (RuntimeError, ConnectionError, OSError, nats.errors.Error) as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc


async def _quiet(_exc: Exception) -> None:
    """nats-py logs every failed attempt with a traceback; the CLI reports the outcome once."""


async def connect(settings: Settings) -> Client:
    try:
        return await nats.connect(
            **{**cli_connect_options(settings), "max_reconnect_attempts": 2},
            connect_timeout=3,
            allow_reconnect=False,
            error_cb=_quiet,
        )
    except Exception as exc:
        raise ConnectionError(
            f"cannot reach NATS at {settings.resolved_nats_url()}: {exc}"
        ) from exc


async def request(nc: Client, subject: str, payload: Any, timeout: float = 10.0) -> dict:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    try:
        msg = await request_patiently(nc, subject, body, timeout=timeout)
    except nats.errors.NoRespondersError as exc:
        raise RuntimeError(f"no service answers on {subject}: is the platform running?") from exc
    except nats.errors.TimeoutError as exc:
        raise RuntimeError(f"no reply on {subject} within {timeout}s") from exc
    result: dict = json.loads(msg.data)
    return result


async def query(settings: Settings, agency: str, name: str, args: dict[str, Any]) -> Any:
    """Ask a service's query (``<prefix>.query.<agency>.<name>``); raise on an error reply."""
    nc = await connect(settings)
    try:
        reply = await request(nc, f"{settings.prefix}.query.{agency}.{name}", args)
    finally:
        await nc.close()
    if not reply.get("ok"):
        err = reply.get("error", {})
        raise RuntimeError(f"{err.get('code')}: {err.get('message')}")
    return reply["result"]


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
