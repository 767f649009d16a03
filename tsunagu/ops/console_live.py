"""The console's live event flow: masked events as Server-Sent Events, from the end of the
stream (or ``?since=``), filtered like ``tsunagu tail``."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from nats.aio.client import Client
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tsunagu.ops import reader, render, tail
from tsunagu.ops.labels import event_label

if TYPE_CHECKING:
    from tsunagu.ops.console import State

#: The live flow starts this many sequences before the end, so the page is not empty.
LIVE_BACKLOG = 50


def route(state: State) -> Route:
    """``/events/stream``: ``case``, ``type``, ``agency`` filter; ``since`` is a stream
    sequence or a duration (as ``tsunagu tail --since``)."""

    async def events(request: Request) -> Response:
        flt = render.EventFilter(
            case=request.query_params.get("case") or None,
            type=request.query_params.get("type") or None,
            agency=request.query_params.get("agency") or None,
        )
        nc = state.client()
        since = request.query_params.get("since")
        if since:
            try:
                parsed = reader.parse_since(since)
            except ValueError as exc:
                return Response(str(exc), 400)
            start = await tail.start_seq(nc, state.topology, parsed, flt)
        else:
            start = max(1, await reader.last_seq(nc, state.topology.events_stream)
                        - LIVE_BACKLOG + 1)
        return StreamingResponse(
            _sse(nc, state, flt, start), media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return Route("/events/stream", events)


async def _sse(
    nc: Client, state: State, flt: render.EventFilter, start: int
) -> AsyncIterator[bytes]:
    """Masked events as Server-Sent Events; a comment every 15 s keeps proxies open."""
    queue: asyncio.Queue[tail.Tailed] = asyncio.Queue(maxsize=10_000)

    async def pump() -> None:
        async for item in tail.events(nc, state.topology, flt, start, follow=True):
            await queue.put(item)

    task = asyncio.create_task(pump())
    try:
        yield b"retry: 2000\n\n"
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), 15)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if item.envelope is None:
                doc: dict[str, Any] = {"seq": item.seq, "type": "?", "error": item.error}
            else:
                doc = render.as_json(item.seq, item.envelope)
                doc["label"] = event_label(item.envelope.type)
                doc["line"] = render.line(item.seq, item.envelope)
            data = json.dumps(doc, ensure_ascii=False)
            yield f"id: {item.seq}\nevent: tsunagu\ndata: {data}\n\n".encode()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
