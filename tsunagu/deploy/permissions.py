"""Subject permissions per kind of identity, derived from the topology (never hard-coded).

Agencies live in their own NATS account (``accounts.py``); what they may publish is exactly
what the platform account exports to them, so the permission list and the import list are
the same function (``agency_subjects``). The JetStream subjects were checked against
nats-server 2.15 (tests/deploy):
- the platform creates each agency's durable feed consumer ``feed-<agency>`` (filter
  ``<prefix>.feed.<agency>.>``) when its credentials are issued; the agency only pulls
  (``$JS.API.CONSUMER.MSG.NEXT.<feed>.feed-<agency>``, a *stream* response), acks
  (``$JS.ACK.<feed>.feed-<agency>.>``) and reads the consumer's info. It can create,
  change or delete no consumer.
- replies: agencies and operators have their own inbox prefix ``_INBOX.<kind>.<name>``.
  An agency's replies live in its own account: a reply-to it names can never be a platform
  subject (the server rewrites it to ``_R_.…`` on the way in).
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


@dataclass(frozen=True)
class Export:
    """A service the platform account exports to one agency account."""

    subject: str
    #: ``single`` (one reply) or ``stream`` (a pull request gets up to ``batch`` messages).
    response_type: str = "single"
    #: The subject in the agency's account, when it differs (see ``agency_js_prefix``).
    local: str | None = None

    @property
    def local_subject(self) -> str:
        return self.local or self.subject


def agency_js_prefix(topology: Topology) -> str:
    """The JetStream API prefix an agency's client uses (``nc.jetstream(prefix=…)``).
    Not ``$JS.API``: in an account without JetStream the server itself answers ``$JS.API.>``
    with "JetStream not enabled for account", racing the imported answer."""
    return f"{topology.prefix}.jsapi"


def agency_subjects(topology: Topology, agency_id: str) -> tuple[Export, ...]:
    """Everything an agency may ask of the platform: its commands and queries, and its
    one feed consumer (pull, ack, info)."""
    p, feed, name = topology.prefix, topology.feed_stream, feed_consumer(agency_id)
    api = agency_js_prefix(topology)
    return (
        Export(f"{p}.cmd.{agency_id}.>"),
        Export(f"{p}.query.{agency_id}.>"),
        Export(f"{JS}.CONSUMER.MSG.NEXT.{feed}.{name}", "stream",
               f"{api}.CONSUMER.MSG.NEXT.{feed}.{name}"),
        Export(f"{JS}.CONSUMER.INFO.{feed}.{name}", "single",
               f"{api}.CONSUMER.INFO.{feed}.{name}"),
        Export(f"$JS.ACK.{feed}.{name}.>"),
    )


def agency(topology: Topology, agency_id: str) -> Permissions:
    """The agency's user, inside its own account: only the imported subjects."""
    return Permissions(
        publish=tuple(e.local_subject for e in agency_subjects(topology, agency_id)),
        subscribe=(f"{inbox_prefix('agency', agency_id)}.>",),
    )


def _streams(topology: Topology) -> tuple[str, ...]:
    return (
        topology.events_stream,
        topology.dlq_stream,
        topology.feed_stream,
        f"KV_{topology.key_bucket}",
        f"KV_{topology.command_bucket}",
        f"OBJ_{topology.attachment_bucket}",
    )


def service(topology: Topology, name: str) -> Permissions:
    """What a service process needs: its prefix's subjects, the JetStream API on the
    platform's own streams (read, consume, direct get) and the three buckets. No stream
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
    buckets = (f"$KV.{topology.key_bucket}.>", f"$KV.{topology.command_bucket}.>",
               f"$O.{topology.attachment_bucket}.>")
    return Permissions(
        publish=(f"{p}.>", *js, *buckets),
        subscribe=(f"{p}.>", "_INBOX.>", *buckets),
        allow_responses=True,
    )


def operator(topology: Topology, name: str) -> Permissions:
    """Read-mostly: health, stream and consumer state, dead letters, and the services' admin
    requests (status, rebuild, replay, a dead letter's retry or discard); the operator's own
    commands (erasure, ``<prefix>.cmd.operator.>``) and backdated migration commands
    (``<prefix>.migrate.>``). No events, no keys, no agency's commands."""
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
        # Dead letters: read one; its retry or discard is asked of the service that owns
        # it, which records and removes it (eventstore/letters.py): no event is written
        # and no letter deleted on an operator's own rights.
        f"{JS}.STREAM.MSG.GET.{topology.dlq_stream}",
        f"{p}.admin.*.status",
        f"{p}.admin.*.rebuild",
        f"{p}.admin.*.replay",
        f"{p}.admin.*.discard",
        f"{p}.admin.notifier.resend_delivery",  # a dead delivery's retry
        f"{p}.cmd.operator.>",
        f"{p}.migrate.>",
        # The disclosure log: read it (never write it: services record, operators cannot
        # forge), ask the services what they hold about a person (開示請求, recorded by each
        # service), and learn the identity the server knows (recorded with reveals).
        f"{JS}.DIRECT.GET.{topology.disclosure_stream}",
        f"{JS}.DIRECT.GET.{topology.disclosure_stream}.>",
        f"{p}.admin.*.person_record",
        "$SYS.REQ.USER.INFO",
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
