"""A delivery given up on is a dead letter of the notifier's deliveries, not of its settings
projection. `tsunagu dlq retry` sends it again (once the receiver is back), with the same
idempotency key, and never replays an unrelated stored event into the settings (the
letter's sequence is the feed's, not the event stream's)."""

from __future__ import annotations

import nats
import pytest

from eventstore.errors import DomainError
from tests.helpers import eventually
from tests.notifier.test_flow import invite, mailbox, receiver, setup, start_all
from tsunagu.ops import dlq

pytestmark = pytest.mark.timeout(120)
__all__ = ["mailbox", "receiver"]  # fixtures


async def test_a_dead_delivery_is_sent_again_by_dlq_retry_once_the_receiver_is_back(
    nc, topology, store, settings, services, mailbox, receiver
):
    receiver.stop()
    app, rt = await start_all(settings, services, mailbox, first_retry_s=0.05, max_attempts=2)
    await setup(nc, topology, store, receiver.url)
    await invite(nc, topology)
    await eventually(lambda: rt.status()["deliveries"].get("dead") == 1, timeout=30)
    [letter] = await dlq.list_dead_letters(nc, topology)
    assert letter.projection == "notifier.deliveries"
    settings_before = rt.status()["projections"]
    receiver.start()  # back, on the same port
    operator = await nats.connect(settings.nats_url, inbox_prefix="_INBOX.operator.ops1")
    try:
        result = await dlq.retry(operator, topology, letter.dlq_seq)
        assert result["retried"] and result["resent"] == 1
        await eventually(lambda: len(receiver.got) == 1, timeout=30)
        with pytest.raises(DomainError, match="already retried or discarded"):
            await dlq.retry(operator, topology, letter.dlq_seq)
    finally:
        await operator.close()
    headers, _ = receiver.got[0]
    assert headers["Tsunagu-Idempotency-Key"] == letter.to_json()["retry"]["args"]["key"]
    await eventually(lambda: rt.status()["deliveries"].get("dead") == 0, timeout=30)
    assert (await nc.jetstream().stream_info(topology.dlq_stream)).state.messages == 0
    assert rt.status()["projections"] == settings_before  # nothing replayed into the settings
    await app.stop()


async def test_a_resend_names_what_it_did_not_find_and_changes_nothing(
    nc, topology, store, settings, services, mailbox, receiver
):
    app, _ = await start_all(settings, services, mailbox)
    operator = await nats.connect(settings.nats_url, inbox_prefix="_INBOX.operator.ops1")
    try:
        for args, code in [({"channel": "webhook", "key": "no-such-key"}, "not_found"),
                           ({"channel": "pigeon", "key": "k"}, "invalid"),
                           ({"channel": "mail"}, "invalid")]:
            reply = await dlq.admin(operator, topology, "notifier", "resend_delivery", args)
            assert reply["error"]["code"] == code, reply
    finally:
        await operator.close()
    await app.stop()


async def test_a_resent_delivery_that_dies_again_leaves_a_new_letter(
    nc, topology, store, settings, services, mailbox, receiver
):
    receiver.stop()  # and it stays down
    app, rt = await start_all(settings, services, mailbox, first_retry_s=0.05, max_attempts=2)
    await setup(nc, topology, store, receiver.url)
    await invite(nc, topology)
    await eventually(lambda: rt.status()["deliveries"].get("dead") == 1, timeout=30)
    [first] = await dlq.list_dead_letters(nc, topology)
    operator = await nats.connect(settings.nats_url, inbox_prefix="_INBOX.operator.ops1")
    try:
        assert (await dlq.retry(operator, topology, first.dlq_seq))["resent"] == 1
    finally:
        await operator.close()

    async def second_letter() -> bool:
        letters = await dlq.list_dead_letters(nc, topology)
        return [letter.dlq_seq > first.dlq_seq for letter in letters] == [True]

    await eventually(second_letter, timeout=30)
    assert rt.status()["deliveries"].get("dead") == 1
    await app.stop()
