"""A delivery given up on is a dead letter of the notifier's deliveries, not of its settings
projection: `tsunagu dlq retry` must not replay an unrelated stored event into the settings
(the letter's sequence is the feed's, not the event stream's) and call it retried."""

from __future__ import annotations

import nats
import pytest

from tests.helpers import eventually
from tests.notifier.test_flow import invite, mailbox, receiver, setup, start_all
from tsunagu.ops import dlq

pytestmark = pytest.mark.timeout(120)
__all__ = ["mailbox", "receiver"]  # fixtures


async def test_a_dead_delivery_is_not_retried_into_the_settings_projection(
    nc, topology, store, settings, services, mailbox, receiver
):
    receiver.stop()  # never comes back
    app, rt = await start_all(settings, services, mailbox, first_retry_s=0.05, max_attempts=2)
    await setup(nc, topology, store, receiver.url)
    await invite(nc, topology)
    await eventually(lambda: rt.status()["deliveries"].get("dead") == 1, timeout=30)
    info = await nc.jetstream().stream_info(topology.dlq_stream)
    [letter] = await dlq.list_dead_letters(nc, topology)
    assert letter.projection == "notifier.deliveries"
    operator = await nats.connect(settings.nats_url, inbox_prefix="_INBOX.operator.ops1")
    try:
        with pytest.raises(LookupError, match=r"notifier\.deliveries"):
            await dlq.retry(operator, topology, info.state.last_seq)
    finally:
        await operator.close()
    after = await nc.jetstream().stream_info(topology.dlq_stream)
    assert after.state.messages == 1  # the dead letter stays
    await app.stop()
