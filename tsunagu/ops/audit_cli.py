"""Operators' commands on the disclosure log: ``tsunagu audit person|agency`` (who was given
whose data, when, on what basis) and ``tsunagu disclose`` (個人情報の開示請求)."""

from __future__ import annotations

import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from contracts.jst import JST
from eventstore.disclosure import Disclosure
from tsunagu.clikit import DataDir, NatsUrl, console
from tsunagu.ops import disclose as disclose_mod
from tsunagu.ops import disclosures
from tsunagu.ops.cli import _fail, _run, settings_from


class Format(StrEnum):
    table = "table"
    csv = "csv"
    xlsx = "xlsx"
    json = "json"


class DiscloseFormat(StrEnum):
    xlsx = "xlsx"
    json = "json"


FormatOpt = Annotated[Format, typer.Option("--format", help="table, csv, xlsx or json")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Write to this file (xlsx: "
                                             "required)")]


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The disclosure log: who was given which person's data, when, "
                        "and on what basis.", no_args_is_help=True)
    group.command(name="person")(audit_person)
    group.command(name="agency")(audit_agency)
    app.add_typer(group, name="audit")
    app.command(name="disclose")(disclose)


def _when(value: str | None, option: str) -> datetime | None:
    """A date or date-time; without a zone it is JST (what people mean here)."""
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _fail(f"{option} {value!r}: give a date (2026-05-01) or a date-time "
                    "(2026-05-01T09:00, JST unless a zone is given)") from exc
    return at if at.tzinfo else at.replace(tzinfo=JST)


def _emit(records: list[Disclosure], fmt: Format, out: Path | None, title: str) -> None:
    if fmt is Format.xlsx:
        if out is None:
            raise _fail("--format xlsx needs --out FILE.xlsx")
        out.write_bytes(disclosures.as_xlsx(records))
        console.print(f"{len(records)} records written to {out}")
        return
    if fmt is Format.table:
        table = Table(title=title)
        for _key, heading in disclosures.COLUMNS:
            table.add_column(heading, overflow="fold")
        for d in records:
            r = disclosures.row(d)
            table.add_row(*[r[k] for k, _t in disclosures.COLUMNS])
        # Piped into a file, ids and times are not cut to a terminal's width.
        wide = console if console.is_terminal else Console(width=240)
        wide.print(table if records else f"{title}: no records")
        return
    text = disclosures.as_csv(records) if fmt is Format.csv else disclosures.as_json(records)
    if out is not None:
        out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text + ("" if text.endswith("\n") else "\n"))


def _audit(nats_url: str | None, data_dir: Path, fmt: Format, out: Path | None, title: str,
           **query: Any) -> None:
    settings = settings_from(nats_url, data_dir)

    async def body(nc: Any) -> list[Disclosure]:
        return await disclosures.read(nc, settings.topology, **query)

    _emit(_run(settings, body), fmt, out, title)


def audit_person(
    person_id: Annotated[str, typer.Argument(help="The person's id")],
    fmt: FormatOpt = Format.table, out: OutOpt = None,
    nats_url: NatsUrl = None, data_dir: DataDir = Path("data"),
) -> None:
    """Every delivery of this person's data: to whom, when, which fields, on what basis."""
    _audit(nats_url, data_dir, fmt, out, f"本人 {person_id} の情報の提供記録",
           person_id=person_id)


def audit_agency(
    agency_id: Annotated[str, typer.Argument(help="The receiving agency (ops: operators)")],
    since: Annotated[str | None, typer.Option("--from", help="From (date or date-time, "
                                              "JST)")] = None,
    until: Annotated[str | None, typer.Option("--to", help="Before (date or date-time, "
                                              "JST)")] = None,
    fmt: FormatOpt = Format.table, out: OutOpt = None,
    nats_url: NatsUrl = None, data_dir: DataDir = Path("data"),
) -> None:
    """Every delivery of personal data to this agency, optionally within [--from, --to)."""
    _audit(nats_url, data_dir, fmt, out, f"{agency_id} への情報の提供記録",
           agency=agency_id, since=_when(since, "--from"), until=_when(until, "--to"))


def disclose(
    person_id: Annotated[str, typer.Argument(help="The person's id")],
    out: Annotated[Path, typer.Option("--out", help="The file to write (FILE.xlsx)")],
    fmt: Annotated[DiscloseFormat, typer.Option("--format", help="xlsx (default) or json")] =
    DiscloseFormat.xlsx,
    request_id: Annotated[str | None, typer.Option(
        "--request-id", help="The request's reference (受付番号), recorded with it")] = None,
    nats_url: NatsUrl = None, data_dir: DataDir = Path("data"),
) -> None:
    """個人情報の開示請求: everything held about the person, for the person. Each service
    records what it hands over (to you, as your credentials name you) before answering."""
    settings = settings_from(nats_url, data_dir)
    try:
        disclosures.id_filter(person_id, "person_id")
        disclosures.id_filter(request_id or "", "--request-id")
    except ValueError as exc:
        raise _fail(str(exc)) from exc

    async def body(nc: Any) -> dict[str, Any]:
        return await disclose_mod.gather(nc, settings.topology, person_id, request_id)

    held = _run(settings, body)
    if fmt is DiscloseFormat.xlsx:
        from tsunagu.ops.disclose_xlsx import to_xlsx

        out.write_bytes(to_xlsx(held))
    else:
        out.write_text(disclose_mod.as_json(held), encoding="utf-8")
    console.print(f"{person_id}: {len(held['referrals'])} referrals, {len(held['cases'])} "
                  f"cases, {len(held['disclosures'])} disclosure records → {out}")
