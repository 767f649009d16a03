"""`tsunagu report`: the statistics report as of a date, in the terminal or as a file."""

from __future__ import annotations

import sys
import uuid
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from tsunagu.clikit import (
    DataDir,
    NatsUrl,
    connect,
    console,
    err_console,
    print_json,
    query,
    request,
    run,
    settings_from,
)

#: The query token used when no agency is named (the report holds counts only).
ANONYMOUS = "operator"


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    xlsx = "xlsx"
    md = "md"


def register(app: typer.Typer) -> None:
    app.command(name="report")(report)


def _as_of(value: str | None) -> date:
    from services.stats.publishing import today_jst

    if value is None:
        return today_jst()
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{value!r} is not a date as YYYY-MM-DD", param_hint="--as-of"
        ) from exc


def render(report: dict[str, Any], fmt: Format) -> str | bytes:
    from services.stats import render as r

    if fmt == Format.xlsx:
        from services.stats.xlsx import to_xlsx

        return to_xlsx(report)
    return {
        Format.table: r.to_table, Format.json: r.to_json, Format.csv: r.to_csv,
        Format.md: r.to_markdown,
    }[fmt](report)


AsOf = Annotated[
    str | None, typer.Option("--as-of", help="Date D, YYYY-MM-DD (default: today, Japan)")
]
FormatOpt = Annotated[Format, typer.Option("--format", help="Output format")]
Out = Annotated[Path | None, typer.Option("--out", help="Write to this file")]
Chart = Annotated[
    Path | None, typer.Option("--chart", help="Also draw the 年代×性別 grid per program (PNG)")
]
Publish = Annotated[
    bool, typer.Option("--publish", help="Also publish it as a StatsReportPublished event")
]
Encoding = Annotated[
    str,
    typer.Option("--encoding", help="CSV encoding: utf-8-sig (with BOM, for Excel), cp932, utf-8"),
]
Agency = Annotated[
    str | None,
    typer.Option("--agency", envvar="TSUNAGU_AGENCY", help="Acting agency (needed for --publish)"),
]


def report(
    as_of: AsOf = None,
    fmt: FormatOpt = Format.table,
    out: Out = None,
    chart: Chart = None,
    publish: Publish = False,
    agency: Agency = None,
    encoding: Encoding = "utf-8-sig",
    nats_url: NatsUrl = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """The program's statistics as of a date, with the prior year in parentheses (seed 004)."""
    day = _as_of(as_of)
    if fmt == Format.xlsx and out is None:
        raise typer.BadParameter("xlsx is binary: give --out FILE.xlsx", param_hint="--format")
    if publish and not agency:
        raise typer.BadParameter(
            "--publish needs --agency (an active directory entry)", param_hint="--agency"
        )
    from services.stats.render import CSV_ENCODINGS

    if encoding not in CSV_ENCODINGS:
        raise typer.BadParameter(
            f"{encoding!r}: choose one of {', '.join(CSV_ENCODINGS)}", param_hint="--encoding"
        )
    settings = settings_from(nats_url, data_dir)

    if publish:
        async def send() -> dict[str, Any]:
            nc = await connect(settings)
            try:
                subject = settings.topology.command_subject(str(agency), "publish_stats_report")
                body = {"command_id": f"report-{uuid.uuid4().hex[:16]}", "as_of": day.isoformat()}
                return await request(nc, subject, body, timeout=90)
            finally:
                await nc.close()

        reply = run(send)
        if not reply.get("ok"):
            err = reply.get("error", {})
            err_console.print(f"[red]not published:[/red] {err.get('code')}: {err.get('message')}")
            raise typer.Exit(1)
        err_console.print(f"published report {reply['ids'].get('stats_id')}")

    result: dict[str, Any] = run(lambda: query(
        settings, agency or ANONYMOUS, "stats_report", {"as_of": day.isoformat()}
    ))
    output = render(result, fmt)
    if fmt == Format.csv:
        output = _csv_bytes(str(output), encoding)
    if out is not None:
        out.write_bytes(output if isinstance(output, bytes) else output.encode())
        err_console.print(f"wrote {out}")
    elif fmt == Format.table:
        from services.stats.render import table_renderables

        for item in table_renderables(result):
            console.print(item)
    elif fmt == Format.json:
        print_json(result)
    elif isinstance(output, bytes):
        sys.stdout.flush()
        sys.stdout.buffer.write(output)
    else:
        sys.stdout.write(output)
    if chart is not None:
        from services.stats.chart import to_png

        chart.write_bytes(to_png(result))
        err_console.print(f"wrote {chart}")


def _csv_bytes(text: str, encoding: str) -> bytes:
    from services.stats.render import encode_csv

    try:
        return encode_csv(text, encoding)
    except ValueError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
