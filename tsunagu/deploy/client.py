"""How an agency system connects with its credentials and reads its own feed.

The agency's user lives in its own NATS account (``accounts.py``); the platform creates its
durable feed consumer ``feed-<agency>`` and exports to it only pull, ack and info. The
connection uses the agency's inbox prefix ``_INBOX.agency.<id>`` (the only inbox its user
may subscribe to).

Usage::

    nc = await connect_agency(["tls://nats:4222"], "hokatsu", Path("agency-hokatsu.nk"),
                              tls=ssl_context)
    feed = await open_feed(nc, Topology(), "hokatsu")
    for msg in await feed.fetch(10, timeout=2):
        ...; await msg.ack()
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext

from eventstore.topology import Topology
from tsunagu.deploy.permissions import (
    agency_js_prefix,
    feed_consumer,
    feed_filter,
    inbox_prefix,
)


async def connect_agency(
    servers: list[str], agency_id: str, creds: Path, **options: Any
) -> Client:
    return await nats.connect(
        servers=servers,
        nkeys_seed=str(creds),
        inbox_prefix=inbox_prefix("agency", agency_id),
        **options,
    )


def agency_jetstream(nc: Client, topology: Topology) -> JetStreamContext:
    """The JetStream context of an agency's connection: the platform's API as imported
    into the agency's account (pull, ack and info of its own feed consumer only)."""
    return nc.jetstream(prefix=agency_js_prefix(topology))


async def ensure_feed_consumer(
    nc: Client, topology: Topology, agency_id: str, *, ack_wait: float = 30.0
) -> None:
    """Platform side (admin credentials): create, or keep, the agency's durable feed
    consumer. Agencies cannot create consumers; ``tsunagu creds issue`` calls this."""
    name = feed_consumer(agency_id)
    config = ConsumerConfig(
        name=name,
        durable_name=name,
        filter_subject=feed_filter(topology, agency_id),
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ack_wait,
    )
    await nc.jetstream().add_consumer(topology.feed_stream, config)


async def open_feed(
    nc: Client, topology: Topology, agency_id: str
) -> JetStreamContext.PullSubscription:
    """Agency side: a pull subscription bound to the agency's own feed consumer."""
    js = agency_jetstream(nc, topology)
    return await js.pull_subscribe_bind(durable=feed_consumer(agency_id),
                                        stream=topology.feed_stream)
