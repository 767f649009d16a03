"""Rebuilding the notifier's projection (``tsunagu rebuild notifier``) rebuilds its settings
from the events; the deliveries are not derived from events (they are its memory of what it
sent and still owes), so a rebuild keeps them: a delivery waiting for a receiver that is
down is still delivered, once, and nothing already sent is sent again."""

from __future__ import annotations

import time

import pytest

from contracts.webhook import verify
from tests.helpers import ask, eventually
from tests.notifier.test_flow import invite, mailbox, receiver, setup, start_all

pytestmark = pytest.mark.timeout(120)
__all__ = ["mailbox", "receiver"]  # fixtures


async def test_a_rebuild_keeps_the_deliveries_still_owed_and_sends_nothing_twice(
    nc, topology, store, settings, services, mailbox, receiver
):
    receiver.stop()  # down: connection refused
    app, rt = await start_all(settings, services, mailbox, first_retry_s=0.2)
    secret = await setup(nc, topology, store, receiver.url)
    await invite(nc, topology)

    async def webhook_failed() -> bool:
        got = await ask(nc, topology, "npo", "notification_deliveries", {})
        return any(d["channel"] == "webhook" and d["attempts"] >= 1 for d in got["result"])

    await eventually(webhook_failed, timeout=30)
    await eventually(lambda: len(mailbox.mails) == 1, timeout=30)
    await rt.runners["notifier"].rebuild()
    shown = await ask(nc, topology, "npo", "notification_settings", {})
    assert shown["result"]["webhook_secret"] == f"…{secret[-4:]}"  # rebuilt from events
    receiver.start()  # back up on the same port
    await eventually(lambda: bool(receiver.got), timeout=30)

    async def settled() -> bool:
        got = await ask(nc, topology, "npo", "notification_deliveries", {})
        return len(got["result"]) == 2 and all(d["status"] == "sent" for d in got["result"])

    await eventually(settled, timeout=30)
    [(headers, body)] = receiver.got
    assert verify(secret, body, headers, now=time.time())
    assert len(mailbox.mails) == 1  # the mail sent before the rebuild is not sent again
    await app.stop()
