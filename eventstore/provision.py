"""Stream, bucket and store provisioning: the one place where JetStream objects are declared.

Services never declare streams themselves; ``tsunagu up`` (or a deploy job) calls
``provision`` once, and it is safe to call again (it updates in place).
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
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

from eventstore.disclosure import DEFAULT_MAX_AGE_DAYS
from eventstore.topology import Topology

log = structlog.get_logger("tsunagu.provision")

#: Msg-Id de-duplication covers a client's retries after a lost PubAck. Two hours is longer
#: than any sane retry loop; replays of older commands are caught by command-id idempotency
#: (the aggregate's history records which command caused each event).
DUPLICATE_WINDOW_S = 2 * 3600
#: A single event (or attachment chunk) may not exceed this.
MAX_EVENT_BYTES = 256 * 1024
#: Feed messages kept per subject (one agency's view of one case): the current one.
FEED_VIEWS_PER_SUBJECT = 1


@dataclass(frozen=True)
class StreamPolicy:
    replicas: int = 1
    max_event_bytes: int = MAX_EVENT_BYTES
    #: How long the disclosure log keeps a record (eventstore.disclosure says why 5 years).
    disclosure_max_age_days: int = DEFAULT_MAX_AGE_DAYS


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


def disclosure_stream_config(topology: Topology, policy: StreamPolicy) -> StreamConfig:
    """Records of deliveries of personal data (no personal data in them). Kept for a limited
    time (max_age), never deleted or purged before: the log must outlive what it accounts for."""
    return StreamConfig(
        name=topology.disclosure_stream,
        description="Disclosure log: who was given which person's data, when, on what basis.",
        subjects=[topology.disclosure_subjects],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=policy.replicas,
        duplicate_window=DUPLICATE_WINDOW_S,
        max_age=policy.disclosure_max_age_days * 86400,
        max_msg_size=16 * 1024,
        deny_delete=True,
        deny_purge=True,
        allow_direct=True,
        discard=DiscardPolicy.OLD,
    )


async def _ensure_stream(nc: Client, config: StreamConfig) -> None:
    js = nc.jetstream()
    try:
        await js.stream_info(config.name or "")
    except NotFoundError:
        await js.add_stream(config)
        return
    await js.update_stream(config)


def key_bucket_config(topology: Topology, policy: StreamPolicy) -> StreamConfig:
    """The data-key bucket's stream: a KV bucket (what ``create_key_value`` declares, history
    1) except that it allows message deletes. A purged key's bytes stay in the block file
    until the block is compacted, which never happens to the last block; destroying a key
    therefore first erases its message (``STREAM.MSG.DELETE`` without ``no_erase``
    overwrites the record with random bytes). Only services may send that request, and only
    for this stream (tsunagu.deploy.permissions)."""
    return StreamConfig(
        name=f"KV_{topology.key_bucket}",
        description="Per-subject data keys (crypto-shredding). Services only.",
        subjects=[f"$KV.{topology.key_bucket}.>"],
        allow_direct=True,
        allow_rollup_hdrs=True,
        deny_delete=False,
        discard=DiscardPolicy.NEW,
        duplicate_window=120,
        max_msgs_per_subject=1,
        num_replicas=policy.replicas,
        storage=StorageType.FILE,
    )


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
            # The current view only: <prefix>.feed.<agency>.<case>.<kind> is one view of one
            # case for one agency, so a redacted view replaces the full one and an agency
            # that reads its feed from the start again cannot read earlier views.
            max_msgs_per_subject=FEED_VIEWS_PER_SUBJECT,
        ),
    )
    await _ensure_stream(nc, disclosure_stream_config(topology, policy))
    try:
        info = await js.stream_info(f"KV_{topology.key_bucket}")
        if info.config.deny_delete:
            # nats-server refuses to lift deny_delete on an existing stream: keys are then
            # purged without erasure (docs/PRIVACY.md: moving the keys to a new bucket).
            log.warning("key bucket denies deletes: destroyed keys are purged, not erased",
                        code="key_bucket_deny_delete", stream=info.config.name)
    except NotFoundError:
        await js.add_stream(key_bucket_config(topology, policy))
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
