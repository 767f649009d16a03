"""Load shedding end to end over a real nats-server (issue 17, item 2): a burst beyond what
a service can take in time gets ``busy`` replies at once; every accepted command is stored,
every busy one left nothing in the stream and goes through when sent again as it was."""

from __future__ import annotations

import asyncio
import json

import pytest

from bench.toy import BenchOpenCase, handle
from contracts.deadline import DEADLINE_HEADER
from eventstore.commands import Session, request_patiently
from eventstore.service import ServiceSpec, build_app
from eventstore.shedding import deadline_after
from tests.helpers import eventually, register_agency

pytestmark = pytest.mark.timeout(60)
AGENCY = "shed-hq"
QUIET = "shed-quiet"


@pytest.fixture
async def held_service(settings, store):
    """The kit stand-in's ``bench_open_case`` with 2 slots and a 20 ms queue; its handler
    waits (once started) until the test sets ``release``."""
    await register_agency(store, AGENCY)
    await register_agency(store, QUIET)
    release = asyncio.Event()

    async def held(session: Session, cmd: BenchOpenCase) -> list:
        events = await handle(None, session, cmd)
        await release.wait()
        return events

    spec = ServiceSpec(name="shedding", commands={"bench_open_case": (BenchOpenCase, held)})
    tight = settings.model_copy(update={"command_slots": 2, "command_queue_ms": 20})
    app, runtime = build_app(spec, tight)
    # Time stands still for the estimate (10 ms a command), whatever this machine's speed:
    # the held commands do not age, so which of the burst queue and which are busy is fixed.
    runtime.admission.timer = lambda: 0.0
    async with app:
        yield runtime, release


def body(i: int) -> bytes:
    return json.dumps({"command_id": f"burst-{i}", "case_id": f"case-{i}"}).encode()


async def send(nc, topology, i: int, headers: dict[str, str] | None = None,
               agency: str = AGENCY) -> dict:
    subject = topology.command_subject(agency, "bench_open_case")
    headers = headers or {DEADLINE_HEADER: deadline_after(30)}
    return json.loads((await nc.request(subject, body(i), timeout=20, headers=headers)).data)


async def cases_opened(store, n: int) -> dict[int, int]:
    return {i: len((await store.load("case", f"case-{i}")).events) for i in range(n)}


async def test_a_burst_beyond_capacity_is_partly_busy_and_nothing_busy_was_stored(
    held_service, nc, topology, store
):
    runtime, release = held_service
    running = [asyncio.create_task(send(nc, topology, i)) for i in (0, 1)]
    await eventually(lambda: runtime.admission.in_flight == 2)
    burst = [asyncio.create_task(send(nc, topology, i)) for i in range(2, 14)]
    await eventually(lambda: runtime.admission.waiting + runtime.admission.shed == 12)
    release.set()
    replies = dict(zip(range(14), await asyncio.gather(*running, *burst), strict=True))
    busy = [i for i, r in replies.items() if not r["ok"]]
    ok = [i for i, r in replies.items() if r["ok"]]
    assert busy and len(ok) > 2  # some were refused, some waited for a slot
    assert {replies[i]["error"]["code"] for i in busy} == {"busy"}
    assert all(replies[i]["error"]["details"]["retry_after_ms"] >= 1 for i in busy)
    opened = await cases_opened(store, 14)
    assert {i for i, n in opened.items() if n} == set(ok)  # every ok one is stored, only they
    assert runtime.status()["commands"]["shed"] == len(busy)
    for i in busy:  # the same command id and body, sent again: done now, not a replay
        again = await send(nc, topology, i)
        assert again["ok"] and again["replayed"] is False
    assert set((await cases_opened(store, 14)).values()) == {1}


async def test_one_agencys_burst_leaves_room_for_another_agencys_command(
    held_service, nc, topology, store
):
    runtime, release = held_service
    running = [asyncio.create_task(send(nc, topology, i)) for i in (0, 1)]
    await eventually(lambda: runtime.admission.in_flight == 2)
    burst = [asyncio.create_task(send(nc, topology, i)) for i in range(2, 14)]
    await eventually(lambda: runtime.admission.waiting + runtime.admission.shed == 12)
    assert runtime.admission.shed > 0  # the flood is past what the queue takes
    quiet = asyncio.create_task(send(nc, topology, 14, agency=QUIET))
    await eventually(lambda: runtime.admission.waiting + runtime.admission.shed == 13)
    release.set()
    await asyncio.gather(*running, *burst)
    assert (await quiet)["ok"]
    assert (await cases_opened(store, 15))[14] == 1


async def test_a_command_past_its_deadline_or_with_a_bad_deadline_header_changes_nothing(
    held_service, nc, topology, store
):
    _, release = held_service
    release.set()
    late = await send(nc, topology, 0, {DEADLINE_HEADER: deadline_after(-1)})
    assert late["error"]["code"] == "busy"
    bad = await send(nc, topology, 1, {DEADLINE_HEADER: "in two seconds"})
    assert bad["error"]["code"] == "invalid" and DEADLINE_HEADER in bad["error"]["message"]
    assert await cases_opened(store, 2) == {0: 0, 1: 0}
    # A patient sender sets the header itself and is answered.
    msg = await request_patiently(nc, topology.command_subject(AGENCY, "bench_open_case"),
                                  body(0))
    assert json.loads(msg.data)["ok"] and (await cases_opened(store, 1)) == {0: 1}


async def test_a_patient_sender_sends_the_deadline_and_waits_out_busy_as_told(nc, topology):
    subject = f"{topology.prefix}.cmd.{AGENCY}.anything"
    seen: list[dict[str, str]] = []

    async def busy_once(msg) -> None:  # type: ignore[no-untyped-def]
        seen.append(dict(msg.headers or {}))
        error = {"code": "busy", "message": "busy", "details": {"retry_after_ms": 5}}
        await msg.respond(json.dumps({"ok": False, "error": error} if len(seen) == 1
                                     else {"ok": True}).encode())

    await nc.subscribe(subject, cb=busy_once)
    reply = await request_patiently(nc, subject, b"{}", timeout=5)
    assert json.loads(reply.data) == {"ok": True} and len(seen) == 2
    assert all(int(h[DEADLINE_HEADER]) > 10**12 for h in seen)
