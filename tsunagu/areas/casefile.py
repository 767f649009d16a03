"""`tsunagu case show ID --as AGENCY`, `tsunagu cases --as AGENCY`, `tsunagu erase PERSON_ID`."""

from __future__ import annotations

import functools
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
    request,
    run,
    settings_from,
)


def register(app: typer.Typer) -> None:
    case = typer.Typer(help="Cases (casefile): what an agency may see of them.")
    case.command(name="show")(show)
    case.command(name="timeline")(show_timeline)
    app.add_typer(case, name="case")
    app.command(name="cases")(list_cases)
    app.command(name="erase")(erase)


def show(
    case_id: Annotated[str, typer.Argument(help="Case id")],
    as_agency: AsAgency,
    json_out: JsonOut = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """Print exactly what AGENCY may see of the case (redacted without consent)."""
    settings = settings_from(nats_url, data_dir)
    view = run(lambda: query(settings, as_agency, "case_view", {"case_id": case_id}))
    for section, more in (view.pop("more", None) or {}).items():  # too large for one reply
        view[section] += _rest(settings, as_agency, more["read_with"])
    if json_out:
        print_json(view)
        return
    _print_view(view)


def _rest(settings: Any, as_agency: str, args: dict[str, Any]) -> list[Any]:
    """The items of a list cut short in a view, read page by page."""
    items: list[Any] = []
    while True:
        page = run(functools.partial(query, settings, as_agency, "case_view", args))
        items += page["items"]
        if page["next_offset"] is None:
            return items
        args = {**args, "offset": page["next_offset"]}


def _print_view(view: dict[str, Any]) -> None:
    from contracts.labels_ja import ja

    person = (view.get("subject") or {}).get("person_id")
    console.print(f"[bold]ケース {view['case_id']}[/bold]"
                  + (f"  本人 {person}" if person else "")
                  + f"  段階: {ja('case_stage', view['stage'])}"
                  + ("  [yellow](redacted: 同意の範囲外のため個人情報は表示されません)[/yellow]"
                     if view["redacted"] else ""), soft_wrap=True)
    for role in view["my_roles"]:
        console.print(f"  my role ({role['program']}): {role['role']}"
                      f" {role.get('frequency') or ''}")
    for task in view["my_tasks"]:
        flag = " [red]OVERDUE[/red]" if task["overdue"] else ""
        console.print(f"  task: {task['task']} due {task['due_on']}{flag}")
    if view["redacted"]:
        return
    subject = view["subject"]
    personal = subject.get("personal") or {}
    console.print(f"  状態: {ja('case_status', view['status'])}  lead: {view['lead_agency'] or '-'}"
                  f"  coordinator: {view['coordinator']}  next monitoring: "
                  f"{view['next_monitoring_on'] or '-'}")
    if view["erased"]:
        console.print("  [yellow]personal data erased[/yellow]")
    for key in ("name", "kana", "birth_date", "address", "phone", "summary"):
        if personal.get(key):
            console.print(f"  {key}: {personal[key]}")
    console.print(f"  members: {', '.join(m['agency_id'] for m in view['members'])}")
    for e in view["enrollments"]:
        console.print(f"  enrollment {e['program']}: {e['started_on']} .. {e['ended_on'] or ''}")
    for p in view["plans"]:
        state = "approved" if p["approved_on"] else "tabled" if p["tabled_at"] else "draft"
        console.print(f"  plan {p['plan_id']} v{p['version']} ({p['program']}): {state}")


def show_timeline(
    case_id: Annotated[str, typer.Argument(help="Case id")],
    as_agency: AsAgency,
    nats_url: NatsUrl = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """The case's timeline (only for an agency that may see the case in full)."""
    settings = settings_from(nats_url, data_dir)
    rows = run(lambda: query(settings, as_agency, "case_timeline", {"case_id": case_id}))
    table = Table("seq", "when", "agency", "what")
    for r in rows:
        table.add_row(str(r["seq"]), r["occurred_at"][:10], r["agency_id"], r["summary"])
    console.print(table)


def list_cases(
    as_agency: AsAgency,
    json_out: JsonOut = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """The agency's cases: stage, next monitoring date, overdue items."""
    settings = settings_from(nats_url, data_dir)
    rows = run(lambda: query(settings, as_agency, "my_cases", {}))
    if json_out:
        print_json(rows)
        return
    from contracts.jst import today_jst
    from contracts.labels_ja import ja

    today = today_jst().isoformat()
    table = Table("ケース", "段階", "氏名", "次回モニタリング", "期限超過", "役割")
    for column in table.columns[1:]:
        column.overflow = "fold"  # never "…": a cut date or id is worse than a wrapped one
    table.columns[0].no_wrap = True
    for r in rows:
        name = r["name"] or ("(redacted)" if r["redacted"] else "-")
        due = r["next_monitoring_on"]
        # Past due for everyone to see, not only for the lead whose task it is.
        late = due is not None and due < today and r["stage"] not in ("closed", "returned")
        table.add_row(r["case_id"], ja("case_stage", r["stage"]), name,
                      (f"[red]{due}（期限超過）[/red]" if late else due) or "-",
                      ", ".join(f"{ja('task', o['task'])} {o['due_on']}"
                                for o in r["overdue"]) or "-",
                      ", ".join(r["my_roles"]) or "-")
    console.print(table)


def erase(
    person_id: Annotated[str, typer.Argument(help="The person whose personal data to erase")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded)")],
    staff: Annotated[str | None, typer.Option("--staff", help="Operator name (recorded)")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """Crypto-shred a person's personal data (their key and their cases' keys, which also
    seal their agenda items' material and minutes) and delete their attached documents."""
    import uuid

    _confirm_erasure(person_id, yes)
    settings = settings_from(nats_url, data_dir)
    payload = {"command_id": f"erase-{uuid.uuid4().hex[:16]}", "person_id": person_id,
               "reason": reason, "staff": staff}

    async def body() -> dict[str, Any]:
        nc = await connect(settings)
        try:
            return await request(
                nc, settings.topology.command_subject("operator", "erase_person_data"), payload
            )
        finally:
            await nc.close()

    reply = run(body)
    print_json(reply)
    if not reply.get("ok"):
        err_console.print(f"[red]refused:[/red] {reply['error']['message']}")
        raise typer.Exit(1)


def _confirm_erasure(person_id: str, yes: bool) -> None:
    """Erasure cannot be undone: ask, or insist on --yes where nobody can answer."""
    if yes:
        return
    import sys

    if not sys.stdin.isatty():
        err_console.print("[red]error:[/red] erasure cannot be undone; add --yes to confirm "
                          "when not running interactively")
        raise typer.Exit(2)
    if not typer.confirm(f"{person_id} の個人情報を消去します（元に戻せません）。よろしいですか?"):
        err_console.print("cancelled: nothing was erased")
        raise typer.Exit(1)
