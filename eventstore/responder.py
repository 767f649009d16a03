"""Request/reply endpoints behind the guards, as plain NATS subscriptions.

Each message is checked before anything runs: a reply subject not of the form the endpoint
answers (``guard.reply_refusal``) is refused and logged with a code and its first tokens,
and the message is *not* handled, so a command with a refused reply appends nothing. What
passes is handled in its own task (bounded per endpoint); its answer, a domain error's reply
or an internal error with an incident id, goes back on the reply subject.

One subscription per subject per connection: a connection holding two subscriptions that
match one request gets its reply refused by nats-server's response permission
(``allow_responses``), so overlapping endpoints (the unknown-command catch-all) need a
connection of their own.

    responder = Responder("referral")
    await responder.serve(nc, "tsunagu.query.*.inbox", answer, replies=INBOX_PREFIXES)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from eventstore.errors import DomainError
from eventstore.guard import first_tokens, internal_error, reply_refusal

log = structlog.get_logger("tsunagu.service")

Answer = Callable[[Msg], Awaitable[dict[str, Any] | None]]


class Responder:
    """Serves endpoints of one service; counts refused reply subjects for its status.

        responder = Responder("casefile")
        await responder.serve(nc, "tsunagu.admin.casefile.*", answer,
                              replies=OPERATOR_PREFIXES, in_flight=asyncio.Semaphore(1))
    """

    def __init__(self, service: str) -> None:
        self.service = service
        self.refused = 0
        self.tasks: set[asyncio.Task[None]] = set()

    async def serve(
        self,
        nc: Client,
        subject: str,
        answer: Answer,
        *,
        replies: Sequence[str],
        queue: str = "",
        in_flight: asyncio.Semaphore | None = None,
        reply_required: bool = True,
        wants: Callable[[Msg], bool] | None = None,
    ) -> Subscription:
        """``wants`` skips messages silently (before the reply check); without
        ``reply_required`` a message with no reply at all is handled (a command sent
        fire-and-forget: nothing is published, so nobody is deputised)."""
        gate = in_flight or asyncio.Semaphore(8)

        async def on_message(msg: Msg) -> None:
            if wants is not None and not wants(msg):
                return
            if msg.reply or reply_required:
                refusal = reply_refusal(msg.reply, replies)
                if refusal is not None:
                    self.refuse(msg, refusal)
                    return
            await gate.acquire()
            task = asyncio.create_task(self._handle(nc, msg, answer))
            task.add_done_callback(lambda _: gate.release())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

        return await nc.subscribe(subject, queue=queue, cb=on_message)

    def refuse(self, msg: Msg, code: str) -> None:
        self.refused += 1
        log.warning("reply subject refused", code=code, service=self.service,
                    on=first_tokens(msg.subject, 3), reply=first_tokens(msg.reply, 2))

    async def _handle(self, nc: Client, msg: Msg, answer: Answer) -> None:
        try:
            reply = await answer(msg)
        except DomainError as exc:
            reply = exc.to_reply()
        except Exception as exc:
            reply = internal_error(exc, service=self.service, on=first_tokens(msg.subject, 4))
        if reply is None or not msg.reply:
            return
        body = json.dumps(reply, ensure_ascii=False).encode()
        if len(body) > nc.max_payload - 1024:  # headroom for the protocol line
            body = json.dumps(DomainError(
                f"the answer is {len(body)} bytes, more than a message may carry; ask for "
                "less (a narrower query)", code="too_large").to_reply()).encode()
        try:
            await msg.respond(body)
        except Exception as exc:  # the connection went away: the caller's request times out
            log.warning("reply not sent", service=self.service, error=type(exc).__name__)

    async def drain(self) -> None:
        """Wait for the messages being handled (at shutdown)."""
        if self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)
