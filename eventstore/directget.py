"""JetStream's batched direct get, written once: the event store loads histories with it and
the operators' tools read streams with it.

One request (``$JS.API.DIRECT.GET.<stream>``, a body such as ``{"seq", "next_by_subj",
"batch"}`` or ``{"start_time", "batch"}``, optionally ``up_to_seq``) is answered by one
message per match, then a status message: ``204`` ends the batch and says in
``Nats-Num-Pending`` how many more match, ``404`` says nothing (more) matches. Any other
status, or no answer at all, is a read the stream could not serve: ``ReadFailed``.

``503`` (no responders) is the one status that can pass: a replicated stream just created,
or just after a leader change, has no direct-get responders for a moment. If stream info
says the stream is there, the request is sent again with a growing pause until the timeout;
if it is not there, the read fails at once.

Replies come to one long-lived wildcard inbox, demultiplexed by a token per request, instead
of a subscription per request.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import suppress
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from eventstore.errors import ReadFailed

#: JetStream's error code for "stream not found".
STREAM_NOT_FOUND = 10059


@dataclass(frozen=True)
class Found:
    """One stored message as the direct get returned it."""

    seq: int
    subject: str
    data: bytes
    headers: dict[str, str]


class DirectGet:
    """Batched direct gets on one stream over one connection."""

    def __init__(self, nc: Client, stream: str, timeout: float = 5.0) -> None:
        self.nc = nc
        self.stream = stream
        self.timeout = timeout
        self._sub: Subscription | None = None
        self._prefix = ""
        self._waiting: dict[str, asyncio.Queue[Msg]] = {}

    async def batch(self, request: dict[str, Any]) -> tuple[list[Found], int]:
        """The messages one request finds, in stream order, and how many more match."""
        loop = asyncio.get_running_loop()
        deadline, pause, checked = loop.time() + self.timeout, 0.02, False
        while True:
            try:
                return await self._attempt(request, max(deadline - loop.time(), 0.05))
            except _NoResponders as exc:
                if not checked:
                    await self._stream_is_there(exc.headers, deadline - loop.time())
                    checked = True
                if loop.time() + pause > deadline:
                    raise self._failed("503", exc.headers) from None
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.5)

    async def _attempt(self, request: dict[str, Any], budget: float
                       ) -> tuple[list[Found], int]:
        if self._sub is None:
            self._prefix = self.nc.new_inbox()
            self._sub = await self.nc.subscribe(f"{self._prefix}.*", cb=self._on_reply)
        token = uuid4().hex
        queue: asyncio.Queue[Msg] = asyncio.Queue()
        self._waiting[token] = queue
        try:
            await self.nc.publish(f"$JS.API.DIRECT.GET.{self.stream}",
                                  json.dumps(request).encode(), reply=f"{self._prefix}.{token}")
            out: list[Found] = []
            while True:
                msg = await self._next(queue, budget)
                headers = dict(msg.headers or {})
                status = headers.get("Status")
                if status == "404":
                    return out, 0
                if status == "204":
                    return out, int(headers.get("Nats-Num-Pending", "0"))
                if status == "503" and not out:
                    raise _NoResponders(headers)
                if status:
                    raise self._failed(status, headers)
                out.append(Found(int(headers["Nats-Sequence"]), headers.get("Nats-Subject", ""),
                                 msg.data, headers))
        finally:
            self._waiting.pop(token, None)

    async def _stream_is_there(self, headers: dict[str, str], budget: float) -> None:
        """No responders: a stream that is not there fails now; one that is, settles. Only
        "stream not found" says not there: a cluster without a leader for a moment answers
        other errors, which settle like the 503 itself."""
        reply = None
        with suppress(nats.errors.TimeoutError, nats.errors.NoRespondersError):
            reply = await self.nc.request(f"$JS.API.STREAM.INFO.{self.stream}", b"",
                                          timeout=min(1.0, max(budget, 0.05)))
        if reply is None:
            return  # the API is as quiet as the stream (or not ours to ask); the deadline decides
        error = json.loads(reply.data or b"{}").get("error") or {}
        if error.get("err_code") == STREAM_NOT_FOUND:
            raise self._failed("503", headers, error.get("description", "stream not found"))

    def _failed(self, status: str, headers: dict[str, str], why: str = "") -> ReadFailed:
        return ReadFailed(f"direct get on {self.stream} failed: {status} {why or headers}",
                          details={"status": status, "headers": headers})

    async def _next(self, queue: asyncio.Queue[Msg], budget: float) -> Msg:
        try:
            return await asyncio.wait_for(queue.get(), budget)
        except TimeoutError as exc:
            raise ReadFailed(
                f"direct get on {self.stream} failed: the stream did not answer within "
                f"{self.timeout:g} s", details={"status": None, "headers": {}},
            ) from exc

    async def _on_reply(self, msg: Msg) -> None:
        queue = self._waiting.get(msg.subject.rsplit(".", 1)[-1])
        if queue is not None:
            queue.put_nowait(msg)

    async def close(self) -> None:
        if self._sub is not None:
            sub, self._sub = self._sub, None
            await sub.unsubscribe()


class _NoResponders(Exception):
    def __init__(self, headers: dict[str, str]) -> None:
        super().__init__("no responders")
        self.headers = headers
