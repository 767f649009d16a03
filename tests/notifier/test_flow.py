"""The notifier end to end: real nats-server, the real services, a real SMTP server on
loopback (aiosmtpd) and a real HTTP receiver. A meeting invitation reaches the invited
agency by mail and by a signed webhook; a receiver that is down gets it later, once."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from contracts.webhook import verify
from eventstore.service import build_app
from tests.helpers import ask, eventually, register_agency, send

pytestmark = pytest.mark.timeout(120)


class Mailbox:
    def __init__(self) -> None:
        self.mails: list[Any] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.mails.append(message_from_bytes(envelope.content))
        return "250 OK"


class Receiver:
    """An HTTP receiver on loopback that keeps every request it took; ``stop`` takes it
    down (connection refused) and ``start`` brings it back on the same port."""

    def __init__(self) -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.port = 0
        self.server: HTTPServer | None = None

    def start(self) -> None:
        got = self.got

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                got.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
def mailbox():
    import socket

    with socket.socket() as probe:  # a free port (the controller checks it by connecting)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    box.port = port
    yield box
    controller.stop()


@pytest.fixture
def receiver():
    r = Receiver()
    r.start()
    yield r
    if r.server is not None:
        r.stop()


async def start_all(settings, services, mailbox, **kw):
    from services.notifier.app import build_spec
    from services.notifier.settings import NotifierSettings

    mail = NotifierSettings(smtp_host="127.0.0.1", smtp_port=mailbox.port)
    await services("casefile", "meeting")
    app, rt = build_app(build_spec(settings, mail, every=0.1, **kw), settings)
    await app.start()
    return app, rt


async def setup(nc, topology, store, url: str) -> str:
    for agency in ("fukushi", "npo"):
        await register_agency(store, agency, can_triage=agency == "fukushi")
    reply = await send(nc, topology, "npo", "set_notification_settings", {
        "command_id": "n1", "agency_id": "npo", "mail_to": ["soudan@npo.example"],
        "webhook_url": url})
    assert reply["ok"], reply

    async def projected() -> bool:  # settings apply to feed messages read after them
        shown = await ask(nc, topology, "npo", "notification_settings", {})
        return bool(shown["result"]["webhook_secret"])

    await eventually(projected, timeout=20)
    return str(reply["once"]["webhook_secret"])


async def invite(nc, topology) -> str:
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    reply = await send(nc, topology, "fukushi", "schedule_meeting", {
        "command_id": "m1", "kind": "support_plan", "scheduled_for": soon,
        "members": ["npo"]})
    assert reply["ok"], reply
    return str(reply["ids"]["meeting_id"])


async def test_a_meeting_invitation_reaches_the_invited_agency_by_mail_and_signed_webhook(
    nc, topology, store, settings, services, mailbox, receiver
):
    app, _ = await start_all(settings, services, mailbox)
    secret = await setup(nc, topology, store, receiver.url)
    shown = await ask(nc, topology, "npo", "notification_settings", {})
    assert shown["result"]["webhook_secret"] == f"…{secret[-4:]}"
    again = await send(nc, topology, "npo", "set_notification_settings", {
        "command_id": "n1", "agency_id": "npo", "mail_to": ["soudan@npo.example"],
        "webhook_url": receiver.url})
    assert again["replayed"] and "once" not in again  # the secret is returned once
    mid = await invite(nc, topology)

    await eventually(lambda: bool(mailbox.mails) and bool(receiver.got), timeout=30)
    mail = mailbox.mails[0]
    assert str(make_header(decode_header(mail["Subject"]))) == f"[つなぐ] 会議への招集 (会議 {mid})"
    assert mail["To"] == "soudan@npo.example"
    headers, body = receiver.got[0]
    assert verify(secret, body, headers, now=time.time())
    doc = json.loads(body)
    assert doc["kind"] == "meeting_invitation" and doc["meeting_id"] == mid
    assert headers["Tsunagu-Idempotency-Key"] == doc["idempotency_key"]
    assert mail["Tsunagu-Idempotency-Key"] == doc["idempotency_key"]
    await app.stop()


async def test_a_receiver_that_was_down_gets_the_message_later_once_with_the_same_key(
    nc, topology, store, settings, services, mailbox, receiver
):
    receiver.stop()  # down: connection refused
    app, rt = await start_all(settings, services, mailbox, first_retry_s=0.2)
    secret = await setup(nc, topology, store, receiver.url)
    await invite(nc, topology)

    async def failed_once() -> bool:
        got = await ask(nc, topology, "npo", "notification_deliveries", {})
        return any(d["channel"] == "webhook" and d["attempts"] >= 1 for d in got["result"])

    await eventually(failed_once, timeout=30)
    assert rt.status()["deliveries"]["failed"] >= 1 or rt.status()["deliveries"]["sent"] >= 1
    receiver.start()  # back up on the same port
    await eventually(lambda: bool(receiver.got), timeout=30)

    async def settled() -> bool:
        got = await ask(nc, topology, "npo", "notification_deliveries", {})
        return all(d["status"] == "sent" for d in got["result"])

    await eventually(settled, timeout=30)
    keys = [h["Tsunagu-Idempotency-Key"] for h, _ in receiver.got]
    assert len(keys) == 1 and all(verify(secret, b, h, now=time.time()) for h, b in receiver.got)
    await eventually(lambda: rt.status()["deliveries"].get("sent") == 2, timeout=10)
    assert rt.status()["deliveries"]["failed"] == 0
    await app.stop()


async def cli(settings, *args: str):
    import asyncio

    from typer.testing import CliRunner

    from tsunagu.cli import build

    env = {"TSUNAGU_NATS_URL": settings.nats_url, "TSUNAGU_PREFIX": settings.prefix,
           "TSUNAGU_DATA_DIR": str(settings.data_dir)}
    return await asyncio.to_thread(CliRunner().invoke, build(), list(args), env=env)


async def test_a_webhook_that_keeps_failing_is_dead_lettered_and_counted_in_status(
    nc, topology, store, settings, services, mailbox, receiver
):
    receiver.stop()  # never comes back
    app, rt = await start_all(settings, services, mailbox, first_retry_s=0.05, max_attempts=3)
    await setup(nc, topology, store, receiver.url)
    await invite(nc, topology)
    await eventually(lambda: rt.status()["deliveries"].get("dead") == 1, timeout=30)
    info = await nc.jetstream().stream_info(topology.dlq_stream)
    assert info.state.messages == 1
    result = await cli(settings, "status", "--json")
    [notifier] = [s for s in json.loads(result.stdout)["services"] if s["name"] == "notifier"]
    assert notifier["deliveries"]["dead"] == 1 and notifier["deliveries"]["sent"] == 1  # mail
    shown = await cli(settings, "notify", "settings", "show", "--as", "npo", "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["mail_to"] == ["soudan@npo.example"]
    assert "webhook_secret" in shown.stdout and len(json.loads(shown.stdout)[
        "webhook_secret"]) == 5  # "…" and 4 characters, never the secret
    await app.stop()
