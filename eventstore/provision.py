"""Stream, bucket and store provisioning: the one place where JetStream objects are declared.

Services never declare streams themselves; ``tsunagu up`` (or a deploy job) calls
``provision`` once, and it is safe to call again (it updates in place).
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.aio.client import Client
from nats.js.api import (
    DiscardPolicy,
    KeyValueConfig,
    ObjectStoreConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BucketNotFoundError, NotFoundError

from eventstore.topology import Topology

#: Msg-Id de-duplication covers a client's retries after a lost PubAck. Two hours is longer
#: than any sane retry loop; replays of older commands are caught by command-id idempotency
#: (the aggregate's history records which command caused each event).
DUPLICATE_WINDOW_S = 2 * 3600
#: A single event (or attachment chunk) may not exceed this.
MAX_EVENT_BYTES = 256 * 1024


@dataclass(frozen=True)
class StreamPolicy:
    replicas: int = 1
    max_event_bytes: int = MAX_EVENT_BYTES


def event_stream_config(topology: Topology, policy: StreamPolicy) -> StreamConfig:
    return StreamConfig(
        name=topology.events_stream,
        description="Tsunagu domain events: the source of truth. Nothing is ever deleted.",
        subjects=[topology.events_subjects],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=policy.replicas,
        duplicate_window=DUPLICATE_WINDOW_S,
        max_msg_size=policy.max_event_bytes,
        deny_delete=True,
        deny_purge=True,
        allow_direct=True,
        allow_atomic=True,
        discard=DiscardPolicy.NEW,
    )


async def _ensure_stream(nc: Client, config: StreamConfig) -> None:
    js = nc.jetstream()
    try:
        await js.stream_info(config.name or "")
    except NotFoundError:
        await js.add_stream(config)
        return
    await js.update_stream(config)


async def provision(nc: Client, topology: Topology, policy: StreamPolicy | None = None) -> None:
    policy = policy or StreamPolicy()
    js = nc.jetstream()
    await _ensure_stream(nc, event_stream_config(topology, policy))
    await _ensure_stream(
        nc,
        StreamConfig(
            name=topology.dlq_stream,
            description="Dead letters: events a projection could not apply, with the error.",
            subjects=[topology.dlq_subjects],
            storage=StorageType.FILE,
            num_replicas=policy.replicas,
            duplicate_window=DUPLICATE_WINDOW_S,
            allow_direct=True,
        ),
    )
    await _ensure_stream(
        nc,
        StreamConfig(
            name=topology.feed_stream,
            description="Per-agency feeds of the cases each agency takes part in.",
            subjects=[topology.feed_subjects],
            storage=StorageType.FILE,
            num_replicas=policy.replicas,
            duplicate_window=DUPLICATE_WINDOW_S,
            allow_direct=True,
        ),
    )
    try:
        await js.key_value(topology.key_bucket)
    except BucketNotFoundError:
        await js.create_key_value(
            KeyValueConfig(
                bucket=topology.key_bucket,
                description="Per-subject data keys (crypto-shredding). Services only.",
                history=1,
                storage=StorageType.FILE,
                replicas=policy.replicas,
            )
        )
    try:
        await js.key_value(topology.command_bucket)
    except BucketNotFoundError:
        await js.create_key_value(
            KeyValueConfig(
                bucket=topology.command_bucket,
                description="Receipts of executed commands by (agency, command_id): "
                "fingerprint and reply. No personal data. Services only.",
                history=1,
                storage=StorageType.FILE,
                replicas=policy.replicas,
            )
        )
    # Unlike the event stream, the bucket's stream allows purge: erasing a person deletes
    # their documents (services.casefile.shred_attachments).
    try:
        await js.object_store(topology.attachment_bucket)
    except (NotFoundError, BucketNotFoundError):
        await js.create_object_store(
            topology.attachment_bucket,
            ObjectStoreConfig(
                description="Agencies' own sheets and documents, referenced by hash.",
                storage=StorageType.FILE,
                replicas=policy.replicas,
            ),
        )
