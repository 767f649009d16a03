"""Operator actions recorded as events (who revealed personal data, which dead letter was
discarded and why), and who may reveal at all (``TSUNAGU_OPERATORS``: on a secured server,
the names the server authenticates operators as, see ``attested_operator``)."""

from __future__ import annotations

import getpass
import os

from nats.aio.client import Client

from contracts.base import DomainEvent
from contracts.ops import DeadLetterDiscarded, PersonalDataRevealed
from eventstore import audit as kit_audit
from eventstore.errors import Forbidden
from eventstore.store import EventStore
from eventstore.topology import Topology

OPERATORS_ENV = "TSUNAGU_OPERATORS"
OPERATOR_ENV = "TSUNAGU_OPERATOR"
#: The actor of operator events: operators act for the platform, not for an agency.


def current_operator(explicit: str | None = None) -> str:
    return explicit or os.environ.get(OPERATOR_ENV) or getpass.getuser()


async def attested_operator(nc: Client, declared: str) -> str:
    """Who the operator is: the identity the NATS server authenticated this connection as
    (user, nkey or certificate name), not a name one can type. Only on a server without
    authentication (a local ``tsunagu up``) is the declared name all there is."""
    from tsunagu.ops.disclosures import UNAUTHENTICATED, operator_identity

    known = await operator_identity(nc)
    return declared if known == UNAUTHENTICATED else known[:200]


def allowed_operators() -> set[str]:
    raw = os.environ.get(OPERATORS_ENV, "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def check_may_reveal(operator: str) -> None:
    allowed = allowed_operators()
    if operator not in allowed:
        raise Forbidden(
            f"operator {operator!r} may not use --reveal: only operators listed in "
            f"{OPERATORS_ENV} may see personal data"
            + ("" if allowed else f" ({OPERATORS_ENV} is empty)"),
            code="reveal_not_allowed",
        )


async def _append(nc: Client, topology: Topology, event: DomainEvent, operator: str) -> int:
    return await kit_audit.record(EventStore(nc, topology), event, operator)


def revealed_event(operator: str, scope: str, reason: str | None) -> DomainEvent:
    return kit_audit.build(PersonalDataRevealed, operator=operator, scope=scope[:200],
                           reason=reason)


def discarded_event(operator: str, projection: str, stream_seq: int, reason: str) -> DomainEvent:
    return kit_audit.build(
        DeadLetterDiscarded, operator=operator, projection=projection,
        stream_seq=stream_seq, reason=reason,
    )


async def record(nc: Client, topology: Topology, event: DomainEvent, operator: str) -> int:
    """Append the audit event; returns its stream sequence."""
    return await _append(nc, topology, event, operator)
