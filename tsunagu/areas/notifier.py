"""`tsunagu notify settings show|set --as AGENCY` and `tsunagu notify deliveries --as AGENCY`."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from tsunagu.clikit import (
    AsAgency,
    DataDir,
    JsonOut,
    NatsUrl,
    connect,
    console,
    print_json,
    query,
    request,
    run,
    settings_from,
)

notify = typer.Typer(help="Notifications by mail and webhook (docs/NOTIFICATIONS.md).",
                     no_args_is_help=True)
settings_app = typer.Typer(help="An agency's notification settings.", no_args_is_help=True)


def _quiet(value: str | None) -> dict[str, str] | None:
    if not value:
        return None
    start, sep, end = value.partition("-")
    if not sep:
        raise typer.BadParameter("quiet hours as HH:MM-HH:MM, e.g. 20:00-08:00",
                                 param_hint="--quiet")
    return {"start": start.strip(), "end": end.strip()}


@settings_app.command("show")
def show(agency: AsAgency, as_json: JsonOut = False, nats_url: NatsUrl = None,
         data_dir: DataDir = Path("data")) -> None:
    """The agency's settings (the webhook secret masked)."""
    settings = settings_from(nats_url, data_dir)
    result = run(lambda: query(settings, agency, "notification_settings", {}))
    if as_json:
        print_json(result)
        return
    for key in ("mail_to", "webhook_url", "delivery", "digest_hour", "quiet_hours",
                "webhook_secret"):
        console.print(f"{key}: {result.get(key)}")


@settings_app.command("set")
def set_settings(
    agency: AsAgency,
    mail: Annotated[list[str] | None, typer.Option("--mail", help="Address (repeatable)")] = None,
    webhook: Annotated[str | None, typer.Option("--webhook", help="https URL")] = None,
    digest: Annotated[bool, typer.Option("--digest", help="One mail a day")] = False,
    digest_hour: Annotated[int, typer.Option(help="Digest hour (JST)")] = 8,
    quiet: Annotated[str | None, typer.Option("--quiet", help="HH:MM-HH:MM (JST)")] = None,
    rotate_secret: Annotated[bool, typer.Option("--rotate-secret")] = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """Replace the agency's settings; prints a new webhook secret once (keep it)."""
    settings = settings_from(nats_url, data_dir)
    body: dict[str, Any] = {
        "command_id": f"cli-{uuid.uuid4()}", "agency_id": agency, "mail_to": mail or [],
        "webhook_url": webhook, "delivery": "daily_digest" if digest else "immediate",
        "digest_hour": digest_hour, "quiet_hours": _quiet(quiet),
        "rotate_secret": rotate_secret}

    async def send() -> dict:
        nc = await connect(settings)
        try:
            return await request(nc, settings.topology.command_subject(
                agency, "set_notification_settings"), body)
        finally:
            await nc.close()

    reply = run(send)
    if not reply.get("ok"):
        print_json(reply)
        raise typer.Exit(1)
    secret = (reply.get("once") or {}).get("webhook_secret")
    console.print("saved" + (f"; webhook secret (shown once): {secret}" if secret else ""))


@notify.command("deliveries")
def deliveries(agency: AsAgency, limit: int = 50, nats_url: NatsUrl = None,
               data_dir: DataDir = Path("data")) -> None:
    """The agency's latest deliveries and their state (JSON)."""
    settings = settings_from(nats_url, data_dir)
    print_json(run(lambda: query(settings, agency, "notification_deliveries",
                                 {"limit": limit})))


def register(app: typer.Typer) -> None:
    notify.add_typer(settings_app, name="settings")
    app.add_typer(notify, name="notify")
