"""How an agency system connects with its credentials and reads its own feed.

The two details that the permissions rely on: the connection uses the agency's private
inbox prefix, and the feed consumer is created with a *name* and a single filter, so
nats.py uses the extended create subject that carries the filter (the only one granted).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext

from eventstore.topology import Topology
from tsunagu.deploy.permissions import feed_consumer, feed_filter, inbox_prefix


async def connect_agency(
    servers: list[str], agency_id: str, creds: Path, **options: Any
) -> Client:
    return await nats.connect(
        servers=servers,
        nkeys_seed=str(creds),
        inbox_prefix=inbox_prefix("agency", agency_id),
        **options,
    )


async def open_feed(
    nc: Client, topology: Topology, agency_id: str, *, ack_wait: float = 30.0
) -> JetStreamContext.PullSubscription:
    """Create (or keep) the agency's durable feed consumer and bind a pull subscription."""
    js = nc.jetstream()
    name = feed_consumer(agency_id)
    config = ConsumerConfig(
        name=name,
        durable_name=name,
        filter_subject=feed_filter(topology, agency_id),
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ack_wait,
    )
    await js.add_consumer(topology.feed_stream, config)
    return await js.pull_subscribe_bind(durable=name, stream=topology.feed_stream)
