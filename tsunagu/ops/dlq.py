"""Dead letters: list, show, retry (admin replay to the owning service, then remove) and
discard (record ``DeadLetterDiscarded`` with the reason, then remove). A dead letter is
removed only after its retry applied or its discard was recorded: nothing is lost silently,
and the original event always stays in the event stream."""

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
    #: A letter that is not an event a projection failed on names how to retry it: the
    #: service, its admin action and the arguments (a notifier's dead delivery).
    retry: dict[str, Any] | None = None

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
            retry=_retry_of(h.get("Tsunagu-Projection", ""), h),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


#: Letters that are not a projection's failed event, by the "projection" they name: the
#: service and admin action that retries them, and the arguments taken from the letter's
#: ``Tsunagu-Retry-Args`` (only these, only strings). A letter's headers never choose what
#: the operator's credentials ask for.
RETRIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "notifier.deliveries": ("notifier", "resend_delivery", ("channel", "key")),
}


def _retry_of(projection: str, headers: dict[str, str]) -> dict[str, Any] | None:
    known = RETRIES.get(projection)
    if known is None:
        return None
    service, action, fields = known
    try:
        given = json.loads(headers.get("Tsunagu-Retry-Args") or "{}")
    except ValueError:
        given = {}
    given = given if isinstance(given, dict) else {}
    args = {f: given[f] for f in fields if isinstance(given.get(f), str)}
    return {"service": service, "action": action, "args": args}


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
    """Replay the original event into the projection that failed (or, for a letter that
    names its own retry, ask for that); remove the dead letter only when the service says
    it was done."""
    letter, _ = await get(nc, topology, dlq_seq)
    if letter.retry is not None:
        service, action, args = (letter.retry["service"], letter.retry["action"],
                                 letter.retry["args"])
    else:
        service = await owner_of(nc, topology, letter.projection)
        action, args = "replay", {"projection": letter.projection, "seq": letter.stream_seq}
    reply = await admin(nc, topology, service, action, args, timeout)
    if not reply.get("ok"):
        err = reply.get("error") or {}
        raise DomainError(
            f"retry of dead letter #{dlq_seq} failed in {service}/{letter.projection}: "
            f"{err.get('message') or 'the event still cannot be applied'}; it stays in the "
            f"dead-letter stream",
            code="retry_failed", details=err or reply.get("result"),
        )
    await nc.jetstream().delete_msg(topology.dlq_stream, dlq_seq)
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
    """Record why, then remove. The audit event is appended first: if that fails, the dead
    letter stays."""
    letter, _ = await get(nc, topology, dlq_seq)
    event = audit.discarded_event(operator, letter.projection, letter.stream_seq, reason)
    audit_seq = await audit.record(nc, topology, event, operator)
    await nc.jetstream().delete_msg(topology.dlq_stream, dlq_seq)
    return {"dlq_seq": dlq_seq, "projection": letter.projection,
            "stream_seq": letter.stream_seq, "discarded": True, "audit_seq": audit_seq}
