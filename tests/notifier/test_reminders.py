"""A monitoring date reminder reaches the lead agency by mail and webhook on its day, once
(the casefile's timer sends it to the feed; the notifier sends it on), with the notifier's
projection on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from email.header import decode_header, make_header

import pytest

from contracts.jst import JST
from eventstore.service import build_app
from tests.casefile.test_notices_flow import (
    NAME,
    Flow,
    _approved_plan,
    _case,
    agencies,  # noqa: F401  (fixture)
    notice,
    today,
)
from tests.helpers import ask, eventually, send
from tests.notifier.test_flow import mailbox, receiver  # noqa: F401  (fixtures)

pytestmark = pytest.mark.timeout(180)


async def test_a_monitoring_reminder_reaches_the_lead_by_mail_and_webhook_on_its_day_once(
    nc, topology, agencies, services, settings, store, mailbox, receiver, service_db  # noqa: F811
):
    from services.casefile.app import build_spec as casefile_spec
    from services.notifier.app import build_spec as notifier_spec
    from services.notifier.settings import NotifierSettings

    due = today() + timedelta(days=30)
    clock = [datetime.combine(due - timedelta(days=1), datetime.min.time(), JST)]
    mail = NotifierSettings(smtp_host="127.0.0.1", smtp_port=mailbox.port)
    apps = []
    for spec in (casefile_spec(settings, clock=lambda: clock[0], reminder_every=0.1),
                 notifier_spec(settings, mail, clock=lambda: clock[0], every=0.1)):
        app, _ = build_app(spec, settings)
        await app.start()
        apps.append(app)
    await services("referral", "meeting")
    reply = await send(nc, topology, "fukushi", "set_notification_settings", {
        "command_id": "n1", "agency_id": "fukushi", "mail_to": ["kakari@city.example"],
        "webhook_url": receiver.url})
    assert reply["ok"], reply

    async def projected() -> bool:  # settings apply to feed messages read after them
        shown = await ask(nc, topology, "fukushi", "notification_settings", {})
        return bool(shown["result"]["configured"])

    await eventually(projected, timeout=20)
    flow = Flow(nc, topology)
    case_id = await _case(flow, consent_for=["fukushi", "shakyo"])
    await _approved_plan(flow, case_id, store, due, due + timedelta(days=1))
    await notice(nc, topology, "fukushi", "case_joined", case_id=case_id, agency_id="shakyo")

    def reminders() -> list[dict]:
        return [d for _, b in receiver.got if (d := json.loads(b))["kind"] == "task_due"]

    assert reminders() == []  # the day before: nothing due
    clock[0] = datetime.combine(due, datetime.min.time(), JST) + timedelta(hours=9)
    await eventually(lambda: len(reminders()) == 1, timeout=30)
    [got] = reminders()
    assert got["case_id"] == case_id and got["due_on"] == due.isoformat()
    assert got["task"] == "monitoring" and got["label"] == "期日のお知らせ"

    async def mailed() -> bool:
        rows = (await ask(nc, topology, "fukushi", "notification_deliveries", {}))["result"]
        return any(r["kind"] == "task_due" and r["channel"] == "mail" and r["status"] == "sent"
                   for r in rows)

    await eventually(mailed, timeout=30)
    subjects = [str(make_header(decode_header(m["Subject"]))) for m in mailbox.mails]
    task_mails = [m for m, s in zip(mailbox.mails, subjects, strict=True) if "期日" in s]
    assert len(task_mails) == 1, subjects
    assert task_mails[0]["Tsunagu-Idempotency-Key"] == got["idempotency_key"]
    assert NAME not in task_mails[0].get_payload(decode=True).decode()
    # One delivery per channel: the reminder's feed message id is its idempotency key.
    rows = (await ask(nc, topology, "fukushi", "notification_deliveries", {}))["result"]
    assert [r["channel"] for r in rows if r["kind"] == "task_due"] == ["mail", "webhook"]
    assert len(reminders()) == 1
    for app in apps:
        await app.stop()
