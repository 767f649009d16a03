"""JetStream's batched direct get, written once (eventstore/directget.py): what the event
store and the operators' reader both read with, on a real server."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import nats.errors
import pytest
from nats.aio.msg import Msg

from eventstore.directget import DirectGet
from eventstore.errors import ReadFailed
from eventstore.store import EventStore
from eventstore.topology import Topology
from tests.kit.fakes import agency_event


async def test_a_batch_returns_the_matching_messages_in_order_and_how_many_more_match(
    store: EventStore, nc, topology: Topology
):
    for name in ("a", "b", "c"):
        await store.append([agency_event(name)])
    await store.append([agency_event("a", updated=True)])
    reader = DirectGet(nc, topology.events_stream)
    try:
        subject = topology.aggregate_filter("agency", "a")
        first, pending = await reader.batch({"seq": 1, "next_by_subj": subject, "batch": 1})
        rest, after = await reader.batch(
            {"seq": first[0].seq + 1, "next_by_subj": subject, "batch": 10})
    finally:
        await reader.close()
    assert [f.seq for f in first] == [1] and pending == 1
    assert [f.seq for f in rest] == [4] and after == 0
    assert rest[0].subject.endswith(".agency.a.AgencyUpdated")
    assert rest[0].headers["Nats-Sequence"] == "4" and rest[0].data.startswith(b"{")


async def test_nothing_matching_is_an_empty_batch_not_an_error(store: EventStore, nc,
                                                                topology: Topology):
    await store.append([agency_event("a")])
    reader = DirectGet(nc, topology.events_stream)
    try:
        found = await reader.batch({"seq": 1, "next_by_subj": topology.aggregate_filter(
            "agency", "nobody"), "batch": 10})
        later = await reader.batch({"seq": 2, "next_by_subj": topology.events_subjects,
                                    "batch": 10})
    finally:
        await reader.close()
    assert found == ([], 0) and later == ([], 0)


async def test_many_batches_share_one_inbox_and_each_gets_its_own_replies(
    store: EventStore, nc, topology: Topology
):
    for name in ("a", "b", "c", "d"):
        await store.append([agency_event(name)])
    reader = DirectGet(nc, topology.events_stream)
    try:
        results = await asyncio.gather(*(
            reader.batch({"seq": 1, "next_by_subj": topology.aggregate_filter("agency", n),
                          "batch": 5}) for n in ("a", "b", "c", "d")))
    finally:
        await reader.close()
    assert [[f.seq for f in found] for found, _ in results] == [[1], [2], [3], [4]]


async def test_a_stream_that_is_not_there_is_a_read_error(nc):
    reader = DirectGet(nc, f"T{uuid.uuid4().hex[:12]}_EVENTS")
    try:
        with pytest.raises(ReadFailed, match=r"direct get on T\w+_EVENTS failed") as raised:
            await reader.batch({"seq": 1, "batch": 1})
    finally:
        await reader.close()
    assert raised.value.code == "unavailable" and raised.value.details["status"]


class Silent:
    """A connection on which nothing ever answers (a stream leader gone quiet)."""

    def new_inbox(self) -> str:
        return "_INBOX.silent"

    def jetstream(self, **kwargs: Any) -> None:
        return None

    async def request(self, *args: Any, **kwargs: Any) -> None:
        raise nats.errors.TimeoutError

    async def subscribe(self, subject: str, cb: Any = None) -> Silent:
        return self

    async def publish(self, subject: str, payload: bytes, reply: str = "") -> None:
        return None

    async def unsubscribe(self) -> None:
        return None


async def test_a_stream_that_does_not_answer_is_a_read_error_not_a_bare_timeout():
    reader = DirectGet(Silent(), "EVENTS", timeout=0.05)  # type: ignore[arg-type]
    with pytest.raises(ReadFailed, match="did not answer") as raised:
        await reader.batch({"seq": 1, "batch": 1})
    assert raised.value.code == "unavailable" and raised.value.details["status"] is None


async def test_every_read_of_the_event_store_raises_read_failed_when_the_stream_is_silent():
    store = EventStore(Silent(), Topology(prefix="silent"), timeout=0.05)  # type: ignore[arg-type]
    with pytest.raises(ReadFailed, match="stream info"):
        await store.load("agency", "a")
    with pytest.raises(ReadFailed, match="did not answer"):
        await store.read("silent.events.>")


class Settling(Silent):
    """A replicated stream just created or just after a leader change: its direct-get
    responders are not up yet, so the first requests get ``503`` (no responders), then the
    stream answers. Stream info says the stream is there throughout."""

    def __init__(self, unready: int, exists: bool = True, info_error: int | None = None) -> None:
        self.unready = unready
        self.exists = exists
        self.info_error = info_error
        self.gets = 0
        self._cb: Any = None

    async def subscribe(self, subject: str, cb: Any = None) -> Settling:
        self._cb = cb
        return self

    async def request(self, subject: str, payload: bytes = b"", **kwargs: Any) -> Any:
        body = ({"config": {"name": "EVENTS"}} if self.exists
                else {"error": {"code": 404, "err_code": 10059,
                                "description": "stream not found"}})
        if self.info_error:
            body = {"error": {"code": 503, "err_code": self.info_error,
                              "description": "JetStream cluster not available"}}
        return Msg(None, subject, "", json.dumps(body).encode(), None)  # type: ignore[arg-type]

    async def publish(self, subject: str, payload: bytes, reply: str = "") -> None:
        self.gets += 1
        status = "503" if self.gets <= self.unready else "404"
        asyncio.get_running_loop().call_soon(
            lambda: asyncio.ensure_future(
                self._cb(Msg(None, reply, "", b"", {"Status": status}))))  # type: ignore[arg-type]


async def test_a_stream_whose_responders_are_not_up_yet_is_asked_again_not_failed():
    settling = Settling(unready=3)
    reader = DirectGet(settling, "EVENTS", timeout=2.0)  # type: ignore[arg-type]
    assert await reader.batch({"seq": 1, "batch": 1}) == ([], 0)
    assert settling.gets == 4


async def test_no_responders_on_a_stream_that_is_not_there_fails_at_once():
    settling = Settling(unready=10**6, exists=False)
    reader = DirectGet(settling, "EVENTS", timeout=30.0)  # type: ignore[arg-type]
    with pytest.raises(ReadFailed, match="stream not found") as raised:
        await reader.batch({"seq": 1, "batch": 1})
    assert settling.gets == 1 and raised.value.details["status"] == "503"


async def test_responders_that_never_come_up_are_a_read_error_within_the_timeout():
    settling = Settling(unready=10**6)
    reader = DirectGet(settling, "EVENTS", timeout=0.3)  # type: ignore[arg-type]
    with pytest.raises(ReadFailed, match="503") as raised:
        await reader.batch({"seq": 1, "batch": 1})
    assert 1 < settling.gets < 50 and raised.value.details["status"] == "503"


async def test_a_cluster_without_a_leader_for_a_moment_is_waited_out_not_called_missing():
    settling = Settling(unready=2, info_error=10008)  # stream info: cluster not available
    reader = DirectGet(settling, "EVENTS", timeout=2.0)  # type: ignore[arg-type]
    assert await reader.batch({"seq": 1, "batch": 1}) == ([], 0)
    assert settling.gets == 3
