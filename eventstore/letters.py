"""Dead letters settled by the service that owns them (``tsunagu dlq retry|discard``).

The operator asks (``<prefix>.admin.<service>.replay|discard``, or a service's own retry
such as the notifier's ``resend_delivery``); the service checks that the letter is one of
its own, acts, records a discard under the operator's name, and removes the letter. So
an operator's credentials hold no right to write events or delete letters: what the
record says was done is what was done, under the name the server enforces
(``operator_of``: the operator's private reply inbox).

    letter = await own_letter(runtime, dlq_seq, projection="casefile.cases")
    ...                                   # replay it, or resend what it stands for
    await remove(runtime, letter)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nats.js.errors import NotFoundError

from contracts.ops import DeadLetterDiscarded
from eventstore import audit
from eventstore.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from eventstore.service import Runtime


@dataclass(frozen=True)
class Letter:
    dlq_seq: int
    projection: str
    stream_seq: int
    headers: dict[str, str]


def settles(runtime: Runtime) -> set[str]:
    """The names of the dead letters this service settles: its projections', and the
    ones its spec declares (``ServiceSpec.dead_letters``)."""
    return set(runtime.runners) | set(runtime.spec.dead_letters)


async def own_letter(runtime: Runtime, dlq_seq: int, projection: str | None = None) -> Letter:
    """The letter, if this service settles it (and it names ``projection``, if given)."""
    js = runtime.broker.connection.jetstream()
    try:
        msg = await js.get_msg(runtime.topology.dlq_stream, dlq_seq)
    except NotFoundError as exc:
        raise NotFound(f"no dead letter #{dlq_seq} (already retried or discarded?)") from exc
    headers = dict(msg.headers or {})
    name = headers.get("Tsunagu-Projection", "")
    if name not in settles(runtime) or (projection is not None and name != projection):
        raise InvalidInput(f"dead letter #{dlq_seq} is {name!r}'s: {runtime.spec.name} does "
                           f"not settle it" + (f" as {projection!r}" if projection else ""),
                           details=[{"field": "dlq_seq", "rule": "owner"}])
    seq = headers.get("Tsunagu-Stream-Seq", "0")
    return Letter(dlq_seq, name, int(seq) if seq.isdigit() else 0, headers)


async def remove(runtime: Runtime, letter: Letter) -> None:
    await runtime.broker.connection.jetstream().delete_msg(runtime.topology.dlq_stream,
                                                           letter.dlq_seq)


async def discard(runtime: Runtime, operator: str, letter: Letter, reason: Any
                  ) -> dict[str, Any]:
    """Record why (``DeadLetterDiscarded``), then remove: no record, no removal."""
    event = audit.build(DeadLetterDiscarded, operator=operator, projection=letter.projection,
                        stream_seq=letter.stream_seq, reason=reason)
    assert runtime.store is not None
    audit_seq = await audit.record(runtime.store, event, operator)
    await remove(runtime, letter)
    return {"dlq_seq": letter.dlq_seq, "projection": letter.projection,
            "stream_seq": letter.stream_seq, "discarded": True, "audit_seq": audit_seq,
            "operator": operator}
