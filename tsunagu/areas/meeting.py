"""`tsunagu meetings --as AGENCY` and `tsunagu meeting agenda|minutes|decisions|counts`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from contracts.jst import JST
from contracts.labels_ja import ja
from tsunagu.clikit import (
    AsAgency,
    DataDir,
    JsonOut,
    NatsUrl,
    console,
    print_json,
    query,
    run,
    settings_from,
)

KIND_JA = {"support_plan": "重層的支援会議", "confidential": "支援会議"}


def _ask(agency: str, name: str, args: dict[str, Any], nats_url: str | None,
         data_dir: Path) -> Any:
    settings = settings_from(nats_url, data_dir)

    async def body() -> Any:
        return await query(settings, agency, name, args)

    return run(body)


def _jst(moment: str) -> str:
    return datetime.fromisoformat(moment).astimezone(JST).strftime("%Y-%m-%d %H:%M")


def meetings(
    agency: AsAgency,
    include_past: Annotated[bool, typer.Option("--all", help="Past ones too")] = False,
    as_json: JsonOut = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """The meetings an agency is invited to (upcoming first)."""
    rows = _ask(agency, "meetings", {"include_past": include_past}, nats_url, data_dir)
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"{agency}: meetings")
    table.add_column("meeting", no_wrap=True)
    table.add_column("when (JST)", no_wrap=True)
    for col in ("kind", "定例", "title", "status", "守秘義務"):
        table.add_column(col)
    for r in rows:
        duty = "" if r["kind"] != "confidential" else ("済" if r["acknowledged"] else "未 (要確認)")
        table.add_row(r["meeting_id"], _jst(r["scheduled_for"]), KIND_JA.get(r["kind"], r["kind"]),
                      "○" if r["regular"] else "", r["title"] or "",
                      ja("meeting_status", r["status"]), duty)
    if rows:
        console.print(table)
    elif include_past:
        console.print(f"{agency} は招集された会議がありません。")
    else:
        console.print(f"{agency} の今後の会議はありません。"
                      "過去の会議も見るには --all を付けてください。")


def agenda(
    meeting_id: Annotated[str, typer.Argument()],
    agency: AsAgency,
    as_json: JsonOut = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """A meeting's agenda, members and decisions (bound members only)."""
    result = _ask(agency, "meeting_agenda", {"meeting_id": meeting_id}, nats_url, data_dir)
    if as_json:
        print_json(result)
        return
    console.print(f"[bold]{result['meeting_id']}[/bold] {KIND_JA.get(result['kind'], '')} "
                  f"{_jst(result['scheduled_for'])} JST {ja('meeting_status', result['status'])}")
    table = Table("item", "case", "asks", "plan", "decisions")
    for i in result["items"]:
        plan = f"{i['plan_id']} v{i['plan_version']}" if i["plan_id"] else ""
        done = "; ".join(f"{ja('decision', d['decision'])}: {d['reason']}"
                         for d in i["decisions"])
        moved = f" → {i['moved_to']}" if i["moved_to"] else ""
        table.add_row(i["item_id"], i["case_id"] + moved, ", ".join(i["asks"]), plan, done)
    console.print(table)


def minutes(
    meeting_id: Annotated[str, typer.Argument()],
    agency: AsAgency,
    nats_url: NatsUrl = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """A meeting's minutes (bound members only)."""
    result = _ask(agency, "meeting_minutes", {"meeting_id": meeting_id}, nats_url, data_dir)
    if result["recorded_by"] is not None:
        console.print(result["text"] if result["text"] is not None else "(erased)")
    for item in result.get("items", []):
        text = item["text"] if item["text"] is not None else "(erased)"
        console.print(f"[{item['item_id']} / {item['case_id']}] {text}")


def decisions(
    case_id: Annotated[str, typer.Argument()],
    agency: AsAgency,
    as_json: JsonOut = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """Decisions on a case by the meetings you are a bound member of."""
    rows = _ask(agency, "case_decisions", {"case_id": case_id}, nats_url, data_dir)
    if as_json:
        print_json(rows)
        return
    table = Table("decided on", "meeting", "decision", "reason", "lead")
    for d in rows:
        table.add_row(d["decided_on"], d["meeting_id"], ja("decision", d["decision"]), d["reason"],
                      d["lead_agency"] or "")
    console.print(table)


def counts(
    agency: AsAgency,
    from_month: Annotated[str | None, typer.Option("--from", help="YYYY-MM")] = None,
    to_month: Annotated[str | None, typer.Option("--to", help="YYYY-MM")] = None,
    as_json: JsonOut = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """Meetings held per month and kind."""
    rows = _ask(agency, "meeting_counts", {"from_month": from_month, "to_month": to_month},
                nats_url, data_dir)
    if as_json:
        print_json(rows)
        return
    table = Table("month", "kind", "held")
    for r in rows:
        table.add_row(r["month"], KIND_JA.get(r["kind"], r["kind"]), str(r["held"]))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command(name="meetings")(meetings)
    group = typer.Typer(help="Meetings: agenda, minutes, decisions, counts.", no_args_is_help=True)
    group.command(name="agenda")(agenda)
    group.command(name="minutes")(minutes)
    group.command(name="decisions")(decisions)
    group.command(name="counts")(counts)
    app.add_typer(group, name="meeting")
