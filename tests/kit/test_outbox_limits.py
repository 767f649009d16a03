"""An outbox message the server cannot take never sticks the outbox (issue #14, finding 6).

A case view grows with its history; past the connection's max payload (1 MB here) its
publish fails every time, and the outbox used to retry it forever, so that member's feed
never moved again. Now such a message is replaced by the projection's short notice (same
subject and headers: where to read the whole view), and a message that still cannot be
published goes to the dead letters with its error; later messages flow."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import pytest
from nats.js.api import StreamConfig
from sqlalchemy import Connection

from contracts.envelope import Envelope
from eventstore.db import make_engine
from eventstore.projection import ApplyContext, ProjectionRunner, RunnerOptions
from eventstore.store import EventStore
from eventstore.topology import Topology
from tests.helpers import eventually
from tests.kit.fakes import CountingProjection, agency_event
from tests.kit.test_outbox import outbox_rows

FAST = RunnerOptions(batch=50, fetch_timeout=0.2, backoff=(0.01, 0.02, 0.05), catchup_idle=0.5)
pytestmark = pytest.mark.timeout(60)


@dataclass
class ViewProjection(CountingProjection):
    """Publishes a "view" per event; agencies named ``big*`` get one of 1.2 MB."""

    topology: Topology | None = None
    name: str = "viewing"
    notice_padding: int = 0

    def apply(self, conn: Connection, env: Envelope, ctx: ApplyContext) -> None:
        super().apply(conn, env, ctx)
        assert self.topology is not None
        size = 1_200_000 if env.aggregate_id.startswith("big") else 10
        body = json.dumps({"seq": ctx.seq, "view": "x" * size}).encode()
        ctx.publish(self.topology.feed_subject("member", env.aggregate_id, "case"), body,
                    msg_id=f"view-{ctx.seq}", headers={"Tsunagu-Seq": str(ctx.seq)})

    def too_large_notice(self, subject: str, data: bytes, limit: int) -> bytes:
        seq = json.loads(data)["seq"]
        return json.dumps({"seq": seq, "too_large": True, "read_with": "the_query",
                           "padding": "n" * self.notice_padding}).encode()


@pytest.fixture
def engine(db_url: str):
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


async def feed(nc, topology: Topology, want: int) -> list[tuple[str, dict, dict]]:
    js = nc.jetstream()
    for _ in range(200):
        info = await js.stream_info(topology.feed_stream)
        if info.state.messages >= want:
            break
        await asyncio.sleep(0.05)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(topology.feed_stream, seq)
        out.append((msg.subject or "", json.loads(msg.data or b"{}"), dict(msg.headers or {})))
    return out


async def test_a_view_larger_than_the_max_payload_is_sent_as_a_notice_and_the_feed_moves_on(
    nc, topology, store: EventStore, engine
):
    runner = ProjectionRunner(nc, topology, ViewProjection(topology=topology), engine,
                              options=FAST)
    await runner.start()
    try:
        big = (await store.append([agency_event("big-case")]))[0]
        later = (await store.append([agency_event("small-case")]))[0]
        await runner.wait_for(later)
        messages = await feed(nc, topology, 2)
        assert [(m[1]["seq"], m[1].get("too_large")) for m in messages] == [
            (big, True), (later, None)]
        subject, body, headers = messages[0]
        assert subject == topology.feed_subject("member", "big-case", "case")
        assert body["read_with"] == "the_query"
        assert headers["Tsunagu-Seq"] == str(big) and headers["Nats-Msg-Id"] == f"view-{big}"
        assert int(headers["Tsunagu-Too-Large"]) > 1_200_000
        await eventually(lambda: outbox_rows(engine) == 0)  # nothing left to retry
    finally:
        await runner.stop()


async def test_a_message_that_still_cannot_be_published_goes_to_the_dead_letters(
    nc, topology, store: EventStore, engine
):
    js = nc.jetstream()
    config: StreamConfig = (await js.stream_info(topology.feed_stream)).config
    config.max_msg_size = 300  # the small views fit, the notice is refused by the stream
    await js.update_stream(config)
    runner = ProjectionRunner(nc, topology, ViewProjection(topology=topology, notice_padding=500),
                              engine, options=FAST)
    await runner.start()
    try:
        big = (await store.append([agency_event("big-case")]))[0]
        later = (await store.append([agency_event("small-case")]))[0]
        await runner.wait_for(later)
        await eventually(lambda: runner.dead_lettered == 1)
        messages = await feed(nc, topology, 1)
        assert [m[1]["seq"] for m in messages] == [later]  # the feed moved on
        dlq = await js.get_last_msg(topology.dlq_stream, topology.dlq_subject("viewing"))
        assert dlq.headers is not None
        assert dlq.headers["Tsunagu-Subject"] == topology.feed_subject("member", "big-case",
                                                                       "case")
        assert dlq.headers["Tsunagu-Outbox-Msg-Id"] == f"view-{big}"
        assert "exceeds" in dlq.headers["Tsunagu-Error"] or "payload" in dlq.headers[
            "Tsunagu-Error"].lower()
        assert not dlq.data  # the decrypted view is not copied where erasure cannot reach
        assert runner.dead_lettered == 1
        await eventually(lambda: outbox_rows(engine) == 0)
    finally:
        await runner.stop()
