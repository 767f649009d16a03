"""Dead letters: list, show, retry and discard. Retry and discard are asked of the service
that owns the letter (``eventstore/letters.py``): it replays the event (or resends the
delivery) or records ``DeadLetterDiscarded`` with the reason and the operator's name, and
only then removes the letter. Nothing is lost silently, the original event always stays
in the event stream, and an operator needs no right to write events or delete letters."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import nats.errors
from nats.aio.client import Client
from nats.js.errors import NotFoundError

from eventstore.codec import decode
from eventstore.errors import DecodeError, DomainError, NotFound
from eventstore.topology import Topology
from tsunagu.ops import audit
from tsunagu.ops.health import owner_of
from tsunagu.ops.reader import Raw, history
from tsunagu.ops.render import as_json


@dataclass(frozen=True)
class DeadLetter:
    dlq_seq: int
    projection: str
    stream_seq: int
    subject: str
    error: str
    attempts: int
    event_type: str | None

    @classmethod
    def from_raw(cls, raw: Raw) -> DeadLetter:
        h = raw.headers
        subject = h.get("Tsunagu-Subject", "")
        return cls(
            dlq_seq=raw.seq,
            projection=h.get("Tsunagu-Projection", raw.subject.rsplit(".", 1)[-1]),
            stream_seq=int(h.get("Tsunagu-Stream-Seq", "0") or 0),
            subject=subject,
            error=h.get("Tsunagu-Error", ""),
            attempts=int(h.get("Tsunagu-Attempts", "0") or 0),
            event_type=subject.rsplit(".", 1)[-1] if subject else None,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


#: Letters that are not a projection's failed event, by the "projection" they name: the
#: service that settles them and the admin action that retries them. A letter's headers
#: never choose what the operator's credentials ask for.
SETTLED_BY: dict[str, tuple[str, str]] = {
    "notifier.deliveries": ("notifier", "resend_delivery"),
}


def retry_request(letter: DeadLetter) -> tuple[str | None, str, dict[str, Any]]:
    """The service (None: whichever runs the projection), action and arguments of a retry.

    >>> letter = DeadLetter(7, "casefile.cases", 42, "", "", 1, None)
    >>> retry_request(letter)
    (None, 'replay', {'projection': 'casefile.cases', 'seq': 42, 'dlq_seq': 7})
    """
    known = SETTLED_BY.get(letter.projection)
    if known is not None:
        return known[0], known[1], {"dlq_seq": letter.dlq_seq}
    return None, "replay", {"projection": letter.projection, "seq": letter.stream_seq,
                            "dlq_seq": letter.dlq_seq}


async def _owner(nc: Client, topology: Topology, letter: DeadLetter) -> str:
    known = SETTLED_BY.get(letter.projection)
    return known[0] if known else await owner_of(nc, topology, letter.projection)


async def admin(nc: Client, topology: Topology, service: str, action: str,
                args: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    """One admin request to ``service`` (``<prefix>.admin.<service>.<action>``): its reply."""
    subject = f"{topology.prefix}.admin.{service}.{action}"
    try:
        msg = await nc.request(subject, json.dumps(args).encode(), timeout=timeout)
    except (nats.errors.TimeoutError, nats.errors.NoRespondersError) as exc:
        raise DomainError(f"{service} did not answer {action}: {exc!r}",
                          code="unavailable") from exc
    reply: dict[str, Any] = json.loads(msg.data)
    return reply


async def list_dead_letters(
    nc: Client, topology: Topology, projection: str | None = None
) -> list[DeadLetter]:
    subject = topology.dlq_subject(projection) if projection else topology.dlq_subjects
    return [
        DeadLetter.from_raw(raw)
        async for raw in history(nc, topology.dlq_stream, subject)
    ]


async def get(nc: Client, topology: Topology, dlq_seq: int) -> tuple[DeadLetter, bytes]:
    try:
        msg = await nc.jetstream().get_msg(topology.dlq_stream, dlq_seq)
    except NotFoundError as exc:
        raise NotFound(f"no dead letter #{dlq_seq} (already retried or discarded?)") from exc
    raw = Raw(dlq_seq, msg.subject or "", msg.data or b"", dict(msg.headers or {}))
    return DeadLetter.from_raw(raw), raw.data


def describe(letter: DeadLetter, body: bytes) -> dict[str, Any]:
    """The dead letter with its event decoded and masked (or why it cannot be decoded)."""
    doc = letter.to_json()
    try:
        doc["event"] = as_json(letter.stream_seq, decode(body))
    except DecodeError as exc:
        doc["event"] = None
        doc["decode_error"] = str(exc)
        doc["body_bytes"] = len(body)
    return doc


async def retry(nc: Client, topology: Topology, dlq_seq: int, timeout: float = 30.0) -> dict:
    """Ask the owning service to replay the original event into the projection that
    failed (or resend what the letter stands for); it removes the letter once done."""
    letter, _ = await get(nc, topology, dlq_seq)
    service, action, args = retry_request(letter)
    service = service or await owner_of(nc, topology, letter.projection)
    reply = await admin(nc, topology, service, action, args, timeout)
    if not reply.get("ok"):
        err = reply.get("error") or {}
        raise DomainError(
            f"retry of dead letter #{dlq_seq} failed in {service}/{letter.projection}: "
            f"{err.get('message') or 'the event still cannot be applied'}; it stays in the "
            f"dead-letter stream",
            code="retry_failed", details=err or reply.get("result"),
        )
    return {"dlq_seq": dlq_seq, "service": service, "projection": letter.projection,
            "stream_seq": letter.stream_seq, "retried": True, **_resent(reply)}


def _resent(reply: dict[str, Any]) -> dict[str, int]:
    """How many deliveries a resend made due again; nothing else of a reply is passed on."""
    resent = (reply.get("result") or {}).get("resent") if isinstance(reply.get("result"),
                                                                      dict) else None
    return {"resent": resent} if isinstance(resent, int) else {}


async def discard(
    nc: Client, topology: Topology, dlq_seq: int, reason: str, operator: str
) -> dict:
    """Ask the owning service to record why and remove the letter. ``operator`` is what an
    unauthenticated platform or the admin can only declare; an operator is named by its
    credentials' inbox. With no running owner, the record and removal are done here (the
    admin's rights; an operator has not got them)."""
    letter, _ = await get(nc, topology, dlq_seq)
    try:
        service = await _owner(nc, topology, letter)
    except LookupError:
        event = audit.discarded_event(operator, letter.projection, letter.stream_seq, reason)
        audit_seq = await audit.record(nc, topology, event, operator)
        await nc.jetstream().delete_msg(topology.dlq_stream, dlq_seq)
        return {"dlq_seq": dlq_seq, "projection": letter.projection,
                "stream_seq": letter.stream_seq, "discarded": True, "audit_seq": audit_seq,
                "operator": operator}
    reply = await admin(nc, topology, service, "discard",
                        {"dlq_seq": dlq_seq, "reason": reason, "operator": operator})
    if not reply.get("ok"):
        err = reply.get("error") or {}
        raise DomainError(f"discard of dead letter #{dlq_seq} refused by {service}: "
                          f"{err.get('message')}; it stays in the dead-letter stream",
                          code=err.get("code") or "rejected", details=err.get("details"))
    result: dict[str, Any] = reply["result"]
    return result
