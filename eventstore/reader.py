"""Reading a backlog fast with flat memory: a pull consumer driven by raw batch requests.

nats-py's ``fetch`` waits for each message in turn (a task per message); here a callback
collects each requested batch, and the next batch is requested as soon as one is complete,
so the server sends while the projection applies. At most ``ahead`` batches wait in memory.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Generic, TypeVar

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

T = TypeVar("T")


class BatchReader(Generic[T]):
    """Delivers each batch as ``convert(messages)``; converting in the callback overlaps
    decoding with whatever the reader of ``batches`` is doing (e.g. a database commit)."""

    def __init__(
        self,
        nc: Client,
        stream: str,
        consumer: str,
        convert: Callable[[list[Msg]], T],
        batch: int = 1000,
        ahead: int = 2,
    ) -> None:
        self.convert = convert
        self.nc = nc
        self.subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self.batch = batch
        self.batches: asyncio.Queue[T | None] = asyncio.Queue(maxsize=ahead)
        self._current: list[Msg] = []
        self._sub: Subscription | None = None
        self._inbox = nc.new_inbox()

    async def start(self) -> None:
        self._sub = await self.nc.subscribe(self._inbox, cb=self._on_msg)
        await self._request()

    async def _request(self) -> None:
        # no_wait: the server answers at once with what it has, then a 404/408 status.
        body = json.dumps({"batch": self.batch, "no_wait": True}).encode()
        await self.nc.publish(self.subject, body, reply=self._inbox)

    async def _on_msg(self, msg: Msg) -> None:
        status = (msg.headers or {}).get("Status") if msg.headers else None
        if status is None:
            self._current.append(msg)
            if len(self._current) < self.batch:
                return
        batch, self._current = self._current, []
        if batch:
            await self._request()  # the server sends the next batch while this one is used
            await self.batches.put(self.convert(batch))  # waits while `ahead` are unread
        else:
            await self.batches.put(None)  # nothing left: the backlog is read

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None
