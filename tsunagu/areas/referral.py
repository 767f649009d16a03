"""CLI of the referral area: directory import/list, inbox, triage queue, attach."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tsunagu.clikit import (
    AsAgency,
    DataDir,
    JsonOut,
    NatsUrl,
    connect,
    console,
    err_console,
    print_json,
    query,
    run,
    settings_from,
)


def register(app: typer.Typer) -> None:
    directory = typer.Typer(help="相談機関一覧表: the agency directory.", no_args_is_help=True)
    directory.command(name="import")(directory_import)
    directory.command(name="list")(directory_list)
    app.add_typer(directory, name="directory")
    app.command()(inbox)
    app.command(name="triage-queue")(triage_queue)
    app.command()(attach)


def _today() -> date:
    from contracts.base import utcnow
    from services.referral.domain import world_date

    return world_date(utcnow())


def directory_import(
    file: Annotated[Path, typer.Argument(help="CSV (UTF-8, UTF-8 with BOM, Shift_JIS) or YAML",
                                         exists=True, dir_okay=False)],
    retire_missing: Annotated[bool, typer.Option(
        "--retire-missing", help="Retire active agencies the file no longer lists")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and count only")] = False,
    operator: Annotated[str, typer.Option("--operator", help="Recorded as the actor")] = "operator",
    nats_url: NatsUrl = None,
    data_dir: DataDir = Path("data"),
    as_json: JsonOut = False,
) -> None:
    """Import the directory: all rows are checked first; all changes or none are applied."""
    from services.referral.directory_import import import_directory
    from services.referral.settings import ReferralSettings

    settings = settings_from(nats_url, data_dir)
    raw = file.read_bytes()

    async def body() -> Any:
        nc = await connect(settings)
        try:
            return await import_directory(
                nc, settings.topology, file.name, raw, today=_today(),
                extra_categories=ReferralSettings().extra_agency_categories, operator=operator,
                retire_missing=retire_missing, dry_run=dry_run,
            )
        finally:
            await nc.close()

    result = run(body)
    summary = {"ok": result.ok, "applied": result.applied, "entries": result.entries,
               "changes": result.counts, "errors": result.errors}
    if as_json:
        print_json(summary)
    elif result.ok:
        changes = ", ".join(f"{k} {v}" for k, v in sorted(result.counts.items())) or "no changes"
        verb = "would apply" if dry_run else "applied"
        console.print(f"{result.entries} entries read; {verb}: {changes}")
    else:
        err_console.print(f"[red]{file.name}: nothing was imported[/red]")
        for line in result.errors:
            err_console.print(f"  {line}")
    if not result.ok:
        raise typer.Exit(1)


def directory_list(
    stale: Annotated[bool, typer.Option("--stale", help="Only entries not verified in the "
                                                        "last 12 months")] = False,
    include_retired: Annotated[bool, typer.Option("--all", help="Include retired")] = False,
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD")] = None,
    agency: Annotated[str, typer.Option("--as", help="Asking agency")] = "operator",
    nats_url: NatsUrl = None,
    data_dir: DataDir = Path("data"),
    as_json: JsonOut = False,
) -> None:
    """List the directory; entries not verified in the last 12 months are flagged."""
    settings = settings_from(nats_url, data_dir)
    args: dict[str, Any] = {"stale": stale, "include_retired": include_retired}
    if as_of:
        args["as_of"] = as_of
    result = run(lambda: query(settings, agency, "directory", args))
    if as_json:
        print_json(result)
        return
    table = Table(title=f"相談機関一覧表 (as of {result['as_of']})")
    for col in ("機関ID", "機関名", "分類", "連絡先", "確認日", ""):
        table.add_column(col)
    for row in result["agencies"]:
        flag = "[yellow]要確認 (12か月超)[/yellow]" if row["stale"] else ""
        if not row["active"]:
            flag = "[dim]廃止[/dim]"
        table.add_row(row["agency_id"], row["name"], row["category"], row["contact"] or "",
                      row["verified_at"], flag)
    console.print(table)


def inbox(
    agency: AsAgency,
    nats_url: NatsUrl = None,
    data_dir: DataDir = Path("data"),
    as_json: JsonOut = False,
) -> None:
    """Referrals the agency sent, received and triaged, with status and who acted."""
    settings = settings_from(nats_url, data_dir)
    result = run(lambda: query(settings, agency, "inbox", {}))
    if as_json:
        print_json(result)
        return
    from contracts.jst import show_jst
    from contracts.labels_ja import ja
    from tsunagu.ops.labels import EVENT_LABELS_JA

    boxes = (("sent", "送付したつなぐシート"), ("received", "担当として受けたもの"),
             ("triaged", "振り分けたもの"))
    for box, title in boxes:
        rows = result[box]
        console.print(f"[bold]{title}（{len(rows)}件）[/bold]")
        # One entry per referral, ids whole on their own (copyable at any terminal width).
        for r in rows:
            state = "・".join(x for x in (ja("referral_status", r["status"]),
                                          ja("triage_outcome", r["outcome"])) if x)
            when = f"（{r['triaged_on']}）" if r["triaged_on"] else ""
            last = EVENT_LABELS_JA.get(r["last_action"], r["last_action"])
            console.print(f"  {r['referral_id']}  {state}{when}", soft_wrap=True)
            console.print(f"    本人 {r['person_id']}"
                          + (f"  ケース {r['case_id']}" if r["case_id"] else ""), soft_wrap=True)
            console.print(f"    送付元 {r['referring_agency']}  受付日 {r['submitted_on']}"
                          + (f"  担当機関 {r['assigned_agency']}" if r["assigned_agency"] else ""),
                          soft_wrap=True)
            console.print(f"    最終操作 {last}  {show_jst(r['last_action_at'])}  "
                          f"{r['last_actor']}", soft_wrap=True)
        console.print()


def triage_queue(
    agency: AsAgency,
    nats_url: NatsUrl = None,
    data_dir: DataDir = Path("data"),
    as_json: JsonOut = False,
) -> None:
    """Referrals waiting for triage, oldest first, with likely duplicate people."""
    settings = settings_from(nats_url, data_dir)
    result = run(lambda: query(settings, agency, "triage_queue", {}))
    if as_json:
        print_json(result)
        return
    table = Table(title=f"振り分け待ち (as of {result['as_of']})")
    for col in ("referral", "from", "submitted", "days", "concerns", "likely matches"):
        table.add_column(col)
    for r in result["waiting"]:
        matches = ", ".join(f"{m['person_id']} ({'+'.join(m['matched_on'])})"
                            for m in r["likely_matches"])
        table.add_row(r["referral_id"], r["referring_agency"], r["submitted_on"],
                      str(r["waiting_days"]), ", ".join(r["concerns"]), matches)
    console.print(table)


def attach(
    file: Annotated[Path, typer.Argument(help="PDF, PNG, JPEG or Excel file", exists=True,
                                         dir_okay=False)],
    agency: AsAgency,
    nats_url: NatsUrl = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """Upload an agency's own sheet; prints the reference to put in `attachment`."""
    from eventstore.attachments import upload
    from eventstore.errors import DomainError

    settings = settings_from(nats_url, data_dir)
    data = file.read_bytes()

    async def body() -> dict[str, Any]:
        nc = await connect(settings)
        try:
            ref = await upload(nc, settings.topology, data, file.name, uploaded_by=agency)
            return ref.model_dump(mode="json")
        finally:
            await nc.close()

    try:
        ref = run(body)
    except DomainError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    print(json.dumps(ref, ensure_ascii=False))
