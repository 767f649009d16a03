"""A delivery given up on is a dead letter of the notifier's deliveries, not of its settings
projection. `tsunagu dlq retry` sends it again (once the receiver is back), with the same
idempotency key, and never replays an unrelated stored event into the settings (the
letter's sequence is the feed's, not the event stream's)."""

from __future__ import annotations

import json

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
    stored = await nc.jetstream().get_msg(topology.dlq_stream, letter.dlq_seq)
    named = json.loads((stored.headers or {})["Tsunagu-Retry-Args"])
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
    assert headers["Tsunagu-Idempotency-Key"] == named["key"] and named["channel"] == "webhook"
    await eventually(lambda: rt.status()["deliveries"].get("dead") == 0, timeout=30)
    assert (await nc.jetstream().stream_info(topology.dlq_stream)).state.messages == 0
    assert rt.status()["projections"] == settings_before  # nothing replayed into the settings
    await app.stop()


async def test_a_resend_settles_only_its_own_letters_and_names_what_is_wrong(
    nc, topology, store, settings, services, mailbox, receiver
):
    app, _ = await start_all(settings, services, mailbox)
    js = nc.jetstream()
    other = await js.publish(topology.dlq_subject("casefile"), b"", headers={
        "Tsunagu-Projection": "casefile.cases", "Tsunagu-Stream-Seq": "1"})
    unnamed = await js.publish(topology.dlq_subject("notifier"), b"", headers={
        "Tsunagu-Projection": "notifier.deliveries", "Tsunagu-Stream-Seq": "1"})
    gone = await js.publish(topology.dlq_subject("notifier"), b"", headers={
        "Tsunagu-Projection": "notifier.deliveries", "Tsunagu-Stream-Seq": "1",
        "Tsunagu-Retry-Args": json.dumps({"channel": "webhook", "key": "never-sent"})})
    operator = await nats.connect(settings.nats_url, inbox_prefix="_INBOX.operator.ops1")
    try:
        for args, code in [({"dlq_seq": 999}, "not_found"), ({"dlq_seq": "1"}, "invalid"),
                           ({"dlq_seq": other.seq}, "invalid"),
                           ({"dlq_seq": unnamed.seq}, "invalid"),
                           ({"dlq_seq": gone.seq}, "not_found")]:
            reply = await dlq.admin(operator, topology, "notifier", "resend_delivery", args)
            assert reply["error"]["code"] == code, (args, reply)
    finally:
        await operator.close()
    assert (await js.stream_info(topology.dlq_stream)).state.messages == 3  # all kept
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
