"""Subject permissions per kind of identity, derived from the topology (never hard-coded).

The JetStream API subjects were checked against nats-server 2.15 (tests/deploy):
- an agency creates its feed consumer through the *extended* create subject
  ``$JS.API.CONSUMER.CREATE.<stream>.<consumer>.<filter>`` (nats-server ≥ 2.9), which puts
  the filter into the subject so a permission can pin it to ``<prefix>.feed.<agency>.>``.
  The legacy ``CONSUMER.DURABLE.CREATE`` subject carries no filter and is never granted.
- pull requests go to ``$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`` and acks to
  ``$JS.ACK.<stream>.<consumer>.…``; both are pinned to the agency's one consumer name,
  because names cannot be matched by prefix and another agency's consumer must stay out
  of reach.
- replies: each non-service identity has its own inbox prefix ``_INBOX.<kind>.<name>``;
  granting ``_INBOX.>`` would let one agency read every other agency's replies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eventstore.topology import Topology

JS = "$JS.API"


@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    allow_responses: bool = False

    def as_config(self) -> dict[str, Any]:
        """The ``permissions`` block of a nats-server user."""
        out: dict[str, Any] = {
            "publish": {"allow": list(self.publish)},
            "subscribe": {"allow": list(self.subscribe)},
        }
        if self.allow_responses:
            out["allow_responses"] = True
        return out


def feed_consumer(agency_id: str) -> str:
    """The one durable consumer name an agency may use on the feed stream."""
    return f"feed-{agency_id}"


def inbox_prefix(kind: str, name: str) -> str:
    return f"_INBOX.{kind}.{name}"


def feed_filter(topology: Topology, agency_id: str) -> str:
    return f"{topology.prefix}.feed.{agency_id}.>"


def agency(topology: Topology, agency_id: str) -> Permissions:
    p, feed, name = topology.prefix, topology.feed_stream, feed_consumer(agency_id)
    return Permissions(
        publish=(
            f"{p}.cmd.{agency_id}.>",
            f"{p}.query.{agency_id}.>",
            f"{JS}.CONSUMER.CREATE.{feed}.{name}.{feed_filter(topology, agency_id)}",
            f"{JS}.CONSUMER.INFO.{feed}.{name}",
            f"{JS}.CONSUMER.DELETE.{feed}.{name}",
            f"{JS}.CONSUMER.MSG.NEXT.{feed}.{name}",
            f"$JS.ACK.{feed}.{name}.>",
        ),
        subscribe=(f"{inbox_prefix('agency', agency_id)}.>",),
    )


def _streams(topology: Topology) -> tuple[str, ...]:
    return (
        topology.events_stream,
        topology.dlq_stream,
        topology.feed_stream,
        f"KV_{topology.key_bucket}",
        f"OBJ_{topology.attachment_bucket}",
    )


def service(topology: Topology, name: str) -> Permissions:
    """What a service process needs: its prefix's subjects, the JetStream API on the
    platform's own streams (read, consume, direct get) and the two buckets. No stream
    create/update/delete: provisioning is the admin's job. Purge only where erasure needs it
    (a case's feed snapshots, a person's attachment objects); the event stream denies it."""
    p = topology.prefix
    js: list[str] = [f"{JS}.INFO", f"{JS}.STREAM.NAMES"]
    for s in _streams(topology):
        js += [
            f"{JS}.STREAM.INFO.{s}",
            f"{JS}.STREAM.MSG.GET.{s}",
            f"{JS}.DIRECT.GET.{s}",
            f"{JS}.DIRECT.GET.{s}.>",
            f"{JS}.CONSUMER.CREATE.{s}",
            f"{JS}.CONSUMER.CREATE.{s}.>",
            f"{JS}.CONSUMER.DURABLE.CREATE.{s}.*",
            f"{JS}.CONSUMER.INFO.{s}.*",
            f"{JS}.CONSUMER.DELETE.{s}.*",
            f"{JS}.CONSUMER.MSG.NEXT.{s}.*",
            f"{JS}.CONSUMER.NAMES.{s}",
            f"{JS}.CONSUMER.LIST.{s}",
            f"$JS.ACK.{s}.>",
            f"$JS.FC.{s}.>",
        ]
    js += [f"{JS}.STREAM.PURGE.{topology.feed_stream}",
           f"{JS}.STREAM.PURGE.OBJ_{topology.attachment_bucket}"]
    js += [f"{JS}.STREAM.MSG.DELETE.{s}" for s in _streams(topology)[1:]]  # erasure (scrub)
    buckets = (f"$KV.{topology.key_bucket}.>", f"$O.{topology.attachment_bucket}.>")
    return Permissions(
        publish=(f"{p}.>", *js, *buckets),
        subscribe=(f"{p}.>", "_INBOX.>", *buckets),
        allow_responses=True,
    )


def operator(topology: Topology, name: str) -> Permissions:
    """Read-mostly: health, stream and consumer state, dead letters, and the services'
    admin requests (status, rebuild, replay). No events, no keys, no commands."""
    p = topology.prefix
    publish = [f"{JS}.INFO", f"{JS}.STREAM.NAMES", f"{JS}.STREAM.LIST"]
    # Not the buckets: their stream info can list subjects, i.e. key ids.
    for s in (topology.events_stream, topology.dlq_stream, topology.feed_stream):
        publish += [
            f"{JS}.STREAM.INFO.{s}",
            f"{JS}.CONSUMER.INFO.{s}.*",
            f"{JS}.CONSUMER.NAMES.{s}",
            f"{JS}.CONSUMER.LIST.{s}",
        ]
    publish += [
        f"{JS}.DIRECT.GET.{topology.dlq_stream}",
        f"{JS}.DIRECT.GET.{topology.dlq_stream}.>",
        f"{p}.admin.*.status",
        f"{p}.admin.*.rebuild",
        f"{p}.admin.*.replay",
    ]
    return Permissions(
        publish=tuple(publish),
        subscribe=(
            f"{p}.heartbeat.>",
            f"{p}.admin.*.progress",
            f"{inbox_prefix('operator', name)}.>",
        ),
    )


def admin(topology: Topology, name: str) -> Permissions:
    """Provisioning and directory maintenance (deploy jobs, `tsunagu up`): everything."""
    return Permissions(publish=(">",), subscribe=(">",), allow_responses=True)


ROLES = {"agency": agency, "service": service, "operator": operator, "admin": admin}
