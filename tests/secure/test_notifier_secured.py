"""The notifier as deployed: on the secured 3-node deployment, with its own credentials,
it reads an agency's feed and delivers a signed webhook (issue #16 in secured mode: the
service's permissions cover its feed consumer and its sending)."""

from __future__ import annotations

import json
import time

import pytest

from contracts.webhook import verify
from tests.helpers import eventually
from tests.notifier.test_flow import Receiver
from tests.secure.conftest import Deployment
from tests.secure.test_secured_flow import Agencies, days_ago


@pytest.mark.timeout(180)
async def test_an_agency_on_its_own_credentials_gets_a_signed_webhook_for_its_referral(
    deployment: Deployment,
):
    receiver = Receiver()
    receiver.start()
    try:
        a = await Agencies(deployment).open()
        a.n = 20_000  # command ids of its own (the other secured tests number from 1)
        settings = await a.ok("hokatsu", "set_notification_settings", agency_id="hokatsu",
                              webhook_url=receiver.url)
        secret = settings["once"]["webhook_secret"]

        async def applied() -> bool:  # settings apply to feed messages read after them
            shown = await a.query("hokatsu", "notification_settings")
            return bool(shown["ok"] and shown["result"]["webhook_secret"])

        await eventually(applied, timeout=30)
        submitted = await a.ok("hokatsu", "submit_referral",
                               occurred_at=f"{days_ago(2)}T10:00:00+09:00",
                               contact_route="phone", concerns=["income"],
                               personal={"name": "秘密 太郎", "phone": "090-1111-2222",
                                         "summary": "x"})
        referral_id = submitted["ids"]["referral_id"]
        await a.ok("fukushi", "triage_referral", referral_id=referral_id, outcome="complex",
                   triaged_on=days_ago(1))

        def about_it() -> list[tuple[dict[str, str], bytes]]:
            return [(h, b) for h, b in receiver.got if referral_id.encode() in b]

        await eventually(lambda: bool(about_it()), timeout=60)
        headers, body = about_it()[0]
        assert verify(secret, body, headers, now=time.time())
        assert json.loads(body)["referral_id"] == referral_id
        assert "秘密".encode() not in body and b"090-1111-2222" not in body
    finally:
        receiver.stop()
