"""Publishing a projection's outbox: a message the server can never take does not hold up
the ones after it.

A feed message (a casefile view) grows with its case; past the connection's max payload, or
the stream's max message size, every publish fails the same way, and a retry loop would
stop that feed for good. So a refused message is replaced by the projection's short
``too_large_notice(subject, data, limit) -> bytes`` (same subject and headers, plus
``Tsunagu-Too-Large: <bytes>``; a generic one if the projection has none); a notice that is
refused too goes to the dead letters (``<prefix>.dlq.<projection>``, headers only) with its
error. Timeouts and lost connections are not refusals: those rows stay and are sent again.

    publisher = OutboxPublisher(nc, topology, "casefile", projection.too_large_notice)
    sent = await publisher.send(subject, msg_id, data, headers)  # False: dead-lettered
"""

from __future__ import annotations

import json
from collections.abc import Callable

import nats.errors
import structlog
from nats.aio.client import Client
from nats.js.errors import BadRequestError

from eventstore.topology import Topology

log = structlog.get_logger("tsunagu.outbox")


def oversize(nc: Client, data: bytes, headers: dict[str, str]) -> str | None:
    """Why a message cannot be published on ``nc``, or None. nats-server counts headers
    and body against its max payload (and closes a connection that sends more); nats.py
    checks the body only."""
    size = len(data) + len(b"NATS/1.0\r\n\r\n") + sum(
        len(k.encode()) + len(str(v).encode()) + 4 for k, v in headers.items())
    if size > nc.max_payload:
        return f"MaxPayloadError: {size} bytes, more than the max payload of {nc.max_payload}"
    return None


class OutboxPublisher:
    """Sends outbox rows of one projection (``owner``); see the module docstring.

        publisher = OutboxPublisher(nc, topology, "casefile", feeds.too_large_notice)
        if not await publisher.send(subject, msg_id, data, headers):
            ...  # refused for good, dead-lettered: delete the row all the same
    """

    def __init__(
        self,
        nc: Client,
        topology: Topology,
        owner: str,
        notice: Callable[[str, bytes, int], bytes] | None = None,
    ) -> None:
        self.nc, self.js, self.topology = nc, nc.jetstream(), topology
        self.owner, self.notice = owner, notice
        self.log = log.bind(projection=owner)

    async def send(self, subject: str, msg_id: str, data: bytes, headers: dict | None) -> bool:
        """Publish one outbox row. A message the server refuses for good (larger than the
        connection's max payload, or than the stream takes) is replaced by the projection's
        ``too_large_notice`` (same subject and headers); if that is refused too, the row
        goes to the dead letters. Only what may pass (a timeout, a lost connection) raises,
        and the row stays for the next flush: nothing is retried forever. Returns False
        when the message went to the dead letters."""
        hdrs = {**(headers or {}), "Nats-Msg-Id": msg_id}
        error = oversize(self.nc, data, hdrs)
        if error is None:
            error = await self._try_publish(subject, data, hdrs)
            if error is None:
                return True
        hdrs["Tsunagu-Too-Large"] = str(len(data))
        notice = self._notice(subject, data)
        refused = oversize(self.nc, notice, hdrs) or await self._try_publish(subject, notice,
                                                                             hdrs)
        if refused is None:
            self.log.warning("outbox message too large, notice sent", msg_id=msg_id,
                             size=len(data), error=error)
            return True
        await self._dead_letter(subject, msg_id, len(data), f"{error}; then {refused}")
        return False

    async def _try_publish(self, subject: str, data: bytes, headers: dict) -> str | None:
        """None when published; the error when the server refused this message."""
        try:
            await self.js.publish(subject, data, headers=headers)
        except (nats.errors.MaxPayloadError, BadRequestError) as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    def _notice(self, subject: str, data: bytes) -> bytes:
        limit = self.nc.max_payload
        if self.notice is not None:
            return bytes(self.notice(subject, data, limit))
        return json.dumps({"too_large": True, "bytes": len(data), "limit": limit}).encode()

    async def _dead_letter(self, subject: str, msg_id: str, size: int, error: str) -> None:
        # Without the body: it may be a decrypted view, which erasure could not reach there.
        headers = {
            "Nats-Msg-Id": f"{self.owner}-outbox-{msg_id}",
            "Tsunagu-Projection": self.owner,
            "Tsunagu-Stream-Seq": "0",
            "Tsunagu-Subject": subject,
            "Tsunagu-Outbox-Msg-Id": msg_id,
            "Tsunagu-Bytes": str(size),
            "Tsunagu-Error": error[:1000].replace("\r", " ").replace("\n", " "),
            "Tsunagu-Attempts": "1",
        }
        await self.js.publish(self.topology.dlq_subject(self.owner), b"", headers=headers)
        self.log.error("outbox message dead-lettered", msg_id=msg_id, size=size, error=error)
