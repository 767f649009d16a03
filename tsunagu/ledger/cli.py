"""``tsunagu ledger template`` and ``tsunagu ledger import``: bringing a city's Excel ledger
(台帳) in through the deciders, under the migration role."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tsunagu.clikit import (
    DataDir,
    JsonOut,
    NatsUrl,
    connect,
    console,
    err_console,
    print_json,
    settings_from,
)
from tsunagu.clikit import run as run_async
from tsunagu.ledger.load import load_ledger
from tsunagu.ledger.planner import Step
from tsunagu.ledger.rows import LedgerError
from tsunagu.ledger.sender import Result, send_steps
from tsunagu.ledger.template import write_template

MAX_ERRORS_SHOWN = 50


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Migrate an Excel ledger (台帳) through the deciders.",
                        no_args_is_help=True)
    group.command(name="template")(template)
    group.command(name="import")(import_cmd)
    app.add_typer(group, name="ledger")


def template(
    file: Annotated[Path, typer.Argument(help="Where to write the blank .xlsx template")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file")] = False,
) -> None:
    """Write a blank ledger template (相談者, 事業の利用, 連携機関, プラン, 会議)."""
    if file.suffix.lower() != ".xlsx":
        err_console.print("[red]error:[/red] the template is an .xlsx workbook")
        raise typer.Exit(2)
    if file.exists() and not force:
        err_console.print(f"[red]error:[/red] {file} exists (use --force to overwrite)")
        raise typer.Exit(2)
    write_template(file)
    console.print(f"template written: {file}", highlight=False)


def _print_errors(errors: list[LedgerError]) -> None:
    for e in errors[:MAX_ERRORS_SHOWN]:
        err_console.print(f"[red]error:[/red] {e}", highlight=False, soft_wrap=True)
    if len(errors) > MAX_ERRORS_SHOWN:
        err_console.print(f"… and {len(errors) - MAX_ERRORS_SHOWN} more", highlight=False)


def import_cmd(
    file: Annotated[Path, typer.Argument(help="The ledger: .xlsx, or the sectioned .csv")],
    check: Annotated[bool, typer.Option("--check", help="Validate only; send nothing")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each reply")] = 30.0,
    parallel: Annotated[int, typer.Option(
        min=1, max=64, help="Commands in flight at once (cases and meetings side by side; "
        "each one's own rows always in order)")] = 8,
    json_out: JsonOut = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """Send every row as commands (migration role). Running it again changes nothing."""
    try:
        ledger, steps, errors = load_ledger(file)
    except (OSError, ValueError) as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from exc
    report: dict[str, Any] = {"file": str(file), "rows": ledger.counts(),
                              "commands": len(steps), "errors": [str(e) for e in errors]}
    if errors:
        _print_errors(errors)
        if json_out:
            print_json(report)
        raise typer.Exit(1)
    if check:
        _finish(report, None, json_out, checked=True)
        return
    settings = settings_from(nats_url, data_dir)
    result = run_async(lambda: _send(settings, steps, timeout, parallel, json_out))
    _finish(report, result, json_out, checked=False)


async def _send(settings: Any, steps: list[Step], timeout: float, parallel: int,
                quiet: bool) -> Result:
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=err_console, disable=quiet)
    nc = await connect(settings)
    try:
        with progress:
            task = progress.add_task("importing", total=len(steps))
            return await send_steps(nc, settings.topology, steps, timeout=timeout,
                                    parallel=parallel,
                                    on_step=lambda _: progress.advance(task))
    finally:
        await nc.close()


def _finish(report: dict[str, Any], result: Result | None, json_out: bool,
            checked: bool) -> None:
    if result is not None:
        report.update(result.summary())
    if json_out:
        print_json(report)
    else:
        rows = ", ".join(f"{k} {v}" for k, v in report["rows"].items())
        console.print(f"ledger {report['file']}: {rows}", highlight=False)
        if checked:
            console.print(f"check: ok, {report['commands']} commands would be sent",
                          highlight=False)
        elif result is not None:
            console.print(f"import: {result.sent} of {result.steps} commands sent, "
                          f"{result.created} new, {result.replayed} already there",
                          highlight=False)
            for name, n in sorted(result.by_command.items()):
                console.print(f"  {name}: {n}", highlight=False)
    if result is not None and result.error is not None:
        _print_errors([result.error])
        raise typer.Exit(1)
