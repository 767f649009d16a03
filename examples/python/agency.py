"""An agency system for Tsunagu in one file: send a つなぐシート (submit_referral) with a
command id and retries, then read the agency's own feed with its durable consumer.

Settings come from the environment, as `tsunagu up --secure` prints them:
TSUNAGU_NATS_URL, TSUNAGU_PREFIX, TSUNAGU_NATS_NKEY_SEED, TSUNAGU_NATS_TLS_CA,
TSUNAGU_NATS_TLS_CERT, TSUNAGU_NATS_TLS_KEY, TSUNAGU_AGENCY; EXAMPLE_WAIT (seconds to
read the feed). Prints one JSON line per outcome. Needs only nats-py.
See docs/INTEGRATING.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import ssl
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

import nats
from nats.errors import NoRespondersError, TimeoutError

ENV = os.environ
AGENCY = ENV["TSUNAGU_AGENCY"]
PREFIX = ENV.get("TSUNAGU_PREFIX", "tsunagu")
JST = timezone(timedelta(hours=9))


def out(**line: object) -> None:
    print(json.dumps(line, ensure_ascii=False), flush=True)


async def connect() -> nats.NATS:
    tls = None
    if ENV.get("TSUNAGU_NATS_TLS_CA"):
        tls = ssl.create_default_context(cafile=ENV["TSUNAGU_NATS_TLS_CA"])
        tls.load_cert_chain(ENV["TSUNAGU_NATS_TLS_CERT"], ENV["TSUNAGU_NATS_TLS_KEY"])
    return await nats.connect(
        servers=ENV["TSUNAGU_NATS_URL"].split(","), tls=tls,
        nkeys_seed=ENV.get("TSUNAGU_NATS_NKEY_SEED"),
        # Our user may subscribe only to its own inbox prefix: replies come back there.
        inbox_prefix=f"_INBOX.agency.{AGENCY}",
    )


async def send(nc: nats.NATS, command: str, payload: dict, attempts: int = 5) -> dict:
    """One command, at most once: the command id and the exact bytes are fixed before the
    first attempt, so a retry after a lost reply returns the original reply (replayed)."""
    body = json.dumps({"command_id": str(uuid.uuid4()), **payload}).encode()
    subject = f"{PREFIX}.cmd.{AGENCY}.{command}"
    for attempt in range(attempts):
        # Not worth starting after we stop waiting: ms since the epoch (UTC).
        deadline = {"Tsunagu-Deadline": str(int(time.time() * 1000) + 5000)}
        try:
            reply = json.loads((await nc.request(subject, body, timeout=5,
                                                 headers=deadline)).data)
        except (TimeoutError, NoRespondersError):
            await asyncio.sleep(min(2**attempt * 0.2, 5))  # the service may be restarting
            continue
        if not reply["ok"] and reply["error"]["code"] == "busy":
            # Not started, nothing stored: the same bytes again after the wait it names.
            wait = reply["error"]["details"]["retry_after_ms"] / 1000
            await asyncio.sleep(wait * random.uniform(1, 1.5))
            continue
        if not reply["ok"]:
            # A refusal is final: fix the input and send a NEW command (new command id).
            err = reply["error"]
            raise RuntimeError(f"{command} refused: {err['code']}: {err['message']}")
        return reply
    raise RuntimeError(f"{command}: no reply after {attempts} attempts")


async def read_feed(nc: nats.NATS, wait: float) -> None:
    # Agencies reach JetStream through the API the platform exports to their account.
    js = nc.jetstream(prefix=f"{PREFIX}.jsapi")
    # The feed's prefix has no dots (one subject token), so the tokens below are fixed.
    stream = f"{PREFIX.upper().replace('-', '_')}_FEED"
    feed = await js.pull_subscribe_bind(durable=f"feed-{AGENCY}", stream=stream)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while loop.time() < deadline:
        try:
            msgs = await feed.fetch(10, timeout=2)
        except TimeoutError:
            continue
        for msg in msgs:
            body = json.loads(msg.data)
            # <prefix>.feed.<agency>.<case, referral or meeting id>.<kind>[.<id>...]
            about, last = msg.subject.split(".")[3], msg.subject.split(".")[4]
            kind = (msg.headers or {}).get("Tsunagu-Kind") or body.get("kind") or last
            # One current message per subject: store it, replacing what that subject said.
            out(feed=msg.subject, kind=kind, about=about, seq=body.get("seq"),
                redacted=body.get("view", {}).get("redacted"))
            await msg.ack()  # not acked within ack_wait: delivered again
        return


async def main() -> None:
    nc = await connect()
    try:
        now = datetime.now(JST).replace(microsecond=0).isoformat()
        reply = await send(nc, "submit_referral", {
            "occurred_at": now, "contact_route": "phone", "concerns": ["income"],
            "personal": {"summary": "家計の相談(例)", "phone": "090-0000-0000"},
        })
        out(submitted=reply["ids"], command_id=reply["command_id"])
        try:
            await send(nc, "triage_referral", {"referral_id": "no-such", "outcome": "complex"})
        except RuntimeError as exc:
            out(refused=str(exc))
        await read_feed(nc, float(ENV.get("EXAMPLE_WAIT", "30")))
    finally:
        await nc.close()


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
