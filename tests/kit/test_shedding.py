"""Load shedding (issue 17, item 2): the pure rule (``admit``, the deadline header), then the
executor's slots with an in-memory store and a clock the test moves (no server)."""

from __future__ import annotations

import asyncio
import doctest
import json
from datetime import date
from typing import Any, Literal

import pytest

import eventstore.shedding
from contracts.base import Command, DomainEvent, Id, ShortText
from contracts.deadline import DEADLINE_HEADER
from contracts.directory import AgencyUpdated
from eventstore.commands import Executor, Session
from eventstore.errors import InvalidInput
from eventstore.idempotency import Receipts
from eventstore.shedding import (
    Admission,
    Busy,
    Load,
    ServiceBusy,
    admit,
    deadline_after,
    parse_deadline,
    retry_after,
    waiting_ahead,
)
from tests.helpers import eventually
from tests.kit.fakes import MemoryKV, MemoryStore, agency_event, memory_keyring

NOW = 1_767_225_600_000.0  # 2026-01-01 00:00 UTC, in ms


def load(in_flight: int = 0, waiting: int = 0, slots: int = 4, handling_ms: float = 20.0) -> Load:
    return Load(in_flight, waiting, slots, handling_ms)


# ----- the rule -------------------------------------------------------------------------------
def test_the_examples_in_the_module_docstring_hold():
    assert doctest.testmod(eventstore.shedding).failed == 0


def test_a_command_is_taken_while_a_slot_is_free():
    assert admit(NOW, NOW + 2000, load(in_flight=3), max_wait_ms=0) is None


def test_a_command_whose_deadline_has_passed_is_busy_even_with_free_slots():
    busy = admit(NOW, NOW, load(), max_wait_ms=100)
    assert busy == Busy(retry_after_ms=20, reason="deadline passed")


def test_a_command_that_would_start_after_its_deadline_is_busy():
    # 4 running, 2 waiting: 3 must finish first, at 4 per 20 ms: a 15 ms wait.
    full = load(in_flight=4, waiting=2)
    assert admit(NOW, NOW + 16, full, max_wait_ms=100) is None
    assert admit(NOW, NOW + 15, full, max_wait_ms=100) == Busy(20, "would start after its deadline")


def test_a_command_that_would_wait_longer_than_the_queue_allows_is_busy_whatever_its_deadline():
    full = load(in_flight=4, waiting=20)  # 21 × 20 / 4 = 105 ms
    assert admit(NOW, NOW + 60_000, full, max_wait_ms=100) == Busy(105, "queue full")
    assert admit(NOW, NOW + 60_000, full, max_wait_ms=105) is None


def test_retry_after_is_the_wait_of_the_queue_ahead_and_at_least_one_handling_time():
    assert admit(NOW, NOW - 1, load(in_flight=4, waiting=39), 100) == Busy(200, "deadline passed")
    assert admit(NOW, NOW - 1, load(handling_ms=0.2), 100) == Busy(1, "deadline passed")


@pytest.mark.parametrize("value", ["soon", "-1", "1.7e12", "", "1767225600", "1" * 16,
                                   "１７６７２２５６００００００", "2026-01-01T00:00:00Z"])
def test_the_deadline_header_must_be_epoch_milliseconds_and_a_refusal_names_it(value):
    with pytest.raises(InvalidInput) as refused:
        parse_deadline(value)
    assert refused.value.code == "invalid"
    assert DEADLINE_HEADER in refused.value.message
    assert refused.value.details == {"header": DEADLINE_HEADER, "rule": "epoch_ms"}


def test_without_the_header_the_deadline_is_the_arrival_plus_the_budget():
    admission = Admission(slots=1, max_wait_ms=0, budget_ms=2000, clock=lambda: NOW)
    assert admission.deadline(None) == NOW + 2000
    assert admission.deadline({"Other": "x"}) == NOW + 2000
    assert admission.deadline({DEADLINE_HEADER: "1767225600500"}) == 1_767_225_600_500
    assert deadline_after(1.5, now_ms=NOW) == "1767225601500"


def test_a_sender_reads_the_wait_from_a_busy_reply_and_nothing_from_other_replies():
    busy = {"ok": False, "error": {"code": "busy", "message": "…",
                                   "details": {"retry_after_ms": 250}}}
    assert retry_after(json.dumps(busy).encode()) == 0.25
    other = {"ok": False, "error": {"code": "invalid", "message": "name: busy",
                                    "details": {"field": "name", "value": "busy"}}}
    assert retry_after(json.dumps(other).encode()) is None
    assert retry_after(b'{"ok": true, "ids": {"case_id": "busy"}}') is None


# ----- the executor's slots, with a fake store ------------------------------------------------
class Rename(Command):
    type: Literal["kit_test_shed_rename"] = "kit_test_shed_rename"
    agency_id: Id
    name: ShortText


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class World:
    """An executor with one slot, receipts, and a handler held until ``release`` is set."""

    def __init__(self, slots: int = 1, max_wait_ms: float = 1000) -> None:
        self.store = MemoryStore()
        self.kv = MemoryKV()
        self.clock, self.timer = Clock(NOW), Clock(0.0)  # wall ms; seconds for durations
        self.admission = Admission(slots, max_wait_ms, budget_ms=2000, clock=self.clock,
                                   timer=self.timer)
        self.executor = Executor(self.store, memory_keyring(), Receipts(self.kv),  # type: ignore[arg-type]
                                 admission=self.admission)
        self.release = asyncio.Event()
        self.started: list[str] = []

    async def held(self, session: Session, cmd: Rename) -> list[DomainEvent]:
        await session.load("agency", cmd.agency_id)
        self.started.append(cmd.command_id)
        await self.release.wait()
        return [AgencyUpdated(agency_id=cmd.agency_id, name=cmd.name, category="警察",
                              verified_at=date(2025, 4, 1))]

    def run(self, cmd: Rename, deadline_ms: float) -> asyncio.Task[dict]:
        return asyncio.create_task(
            self.executor.execute("police", cmd, self.held, deadline_ms=deadline_ms))

    def renames(self) -> list[str]:
        return [env.causation_id for _, env in self.store.stored()
                if env.event.type == "AgencyUpdated"]


@pytest.fixture
async def world() -> World:
    w = World()
    await w.store.append([agency_event("hq")])
    return w


async def test_a_command_picked_up_after_its_deadline_is_busy_appends_nothing_and_keeps_no_receipt(
    world,
):
    first = world.run(Rename(command_id="c1", agency_id="hq", name="A"), NOW + 2000)
    await eventually(lambda: world.started == ["c1"])
    late = Rename(command_id="c2", agency_id="hq", name="B")
    second = world.run(late, NOW + 50)  # a 10 ms wait expected: queued
    await eventually(lambda: world.admission.waiting == 1)
    world.clock.now = NOW + 60  # its sender gives up while it waits
    world.release.set()
    assert (await first)["ok"]
    with pytest.raises(ServiceBusy) as busy:
        await second
    assert busy.value.code == "busy" and busy.value.details["retry_after_ms"] >= 1
    assert world.started == ["c1"] and world.renames() == ["c1"]
    assert await Receipts(world.kv).get("police", "c2") is None  # type: ignore[arg-type]
    assert await Receipts(world.kv).get("police", "c1") is not None  # type: ignore[arg-type]
    again = await world.run(late, NOW + 2000)  # the same command, sent again
    assert again["ok"] and again["replayed"] is False
    assert world.renames() == ["c1", "c2"]


async def test_a_command_that_cannot_start_in_time_is_refused_at_once_while_the_slot_is_taken():
    world = World(max_wait_ms=0)
    await world.store.append([agency_event("hq")])
    first = world.run(Rename(command_id="c1", agency_id="hq", name="A"), NOW + 2000)
    await eventually(lambda: world.started == ["c1"])
    with pytest.raises(ServiceBusy) as busy:
        await world.run(Rename(command_id="c2", agency_id="hq", name="B"), NOW + 60_000)
    assert busy.value.details == {"retry_after_ms": 10}  # one handling time: the one ahead
    assert not first.done() and world.admission.shed == 1
    world.release.set()
    assert (await first)["ok"] and world.renames() == ["c1"]


async def test_a_burst_is_judged_by_how_long_the_running_commands_have_taken_so_far():
    world = World(max_wait_ms=100)
    await world.store.append([agency_event("hq")])
    first = world.run(Rename(command_id="c1", agency_id="hq", name="A"), NOW + 2000)
    await eventually(lambda: world.started == ["c1"])
    world.timer.now = 0.5  # running for 500 ms, though the finished ones took 10 ms
    with pytest.raises(ServiceBusy) as busy:
        await world.run(Rename(command_id="c2", agency_id="hq", name="B"), NOW + 60_000)
    assert busy.value.details == {"retry_after_ms": 500}
    world.release.set()
    assert (await first)["ok"]
    assert world.admission.handling_ms == pytest.approx(10 + 0.2 * (500 - 10))


async def test_a_started_command_completes_even_when_its_deadline_passes_meanwhile(world):
    task = world.run(Rename(command_id="c1", agency_id="hq", name="A"), NOW + 100)
    await eventually(lambda: world.started == ["c1"])
    world.clock.now = NOW + 10_000
    world.release.set()
    reply = await task
    assert reply["ok"] and world.renames() == ["c1"] and world.admission.in_flight == 0


async def test_a_command_without_a_deadline_is_never_shed(world):
    """The platform's own reactions run through the executor without a deadline."""
    held = world.run(Rename(command_id="c1", agency_id="hq", name="A"), NOW + 2000)
    await eventually(lambda: world.started == ["c1"])
    world.clock.now = NOW + 10_000  # the slot is taken and any deadline would be past
    reaction = asyncio.create_task(world.executor.execute(
        "police", Rename(command_id="r1", agency_id="hq", name="B"), world.held))
    await eventually(lambda: world.started == ["c1", "r1"])
    world.release.set()
    assert (await reaction)["ok"] and (await held)["ok"] and world.admission.shed == 0


# ----- fairness between agencies ---------------------------------------------------------------
def test_a_newcomer_waits_behind_its_own_queue_and_one_more_of_each_other_agency_per_turn():
    assert waiting_ahead("quiet", {}) == 0
    assert waiting_ahead("quiet", {"flood": 40}) == 1
    assert waiting_ahead("flood", {"flood": 40}) == 40
    assert waiting_ahead("a", {"a": 2, "b": 5, "c": 1}) == 2 + 3 + 1


class OneSlot:
    """One slot, time standing still (10 ms a command): commands that note when they are
    served, and one that holds its slot until ``release`` is set."""

    def __init__(self, max_wait_ms: float = 10_000) -> None:
        self.admission = Admission(1, max_wait_ms, budget_ms=2000, clock=Clock(NOW),
                                   timer=Clock(0.0))
        self.release, self.served = asyncio.Event(), list[str]()

    async def command(self, agency: str, name: str = "", hold: bool = False) -> None:
        async with self.admission.slot(NOW + 60_000, agency):
            self.served.append(name)
            if hold:
                await self.release.wait()


async def test_waiting_agencies_are_served_in_turn_not_in_order_of_arrival():
    one = OneSlot()
    admission, release, served, command = one.admission, one.release, one.served, one.command
    tasks = [asyncio.create_task(command("flood", "f1", hold=True))]
    await eventually(lambda: served == ["f1"])
    for agency, name in [("flood", "f2"), ("flood", "f3"), ("flood", "f4"), ("quiet", "q1")]:
        tasks.append(asyncio.create_task(command(agency, name)))
        await eventually(lambda n=len(tasks) - 1: admission.waiting == n)
    release.set()
    await asyncio.gather(*tasks)
    assert served == ["f1", "f2", "q1", "f3", "f4"]


async def test_one_agencys_flood_makes_its_own_commands_busy_not_another_agencys():
    one = OneSlot(max_wait_ms=50)
    admission, release = one.admission, one.release

    def command(agency: str) -> Any:
        return one.command(agency, hold=True)

    flood = [asyncio.create_task(command("flood"))]
    await eventually(lambda: admission.in_flight == 1)
    for _ in range(5):  # 10 ms each: waits of 10 to 50 ms are within the 50 ms queue
        flood.append(asyncio.create_task(command("flood")))
        await eventually(lambda n=len(flood) - 1: admission.waiting == n)
    with pytest.raises(ServiceBusy):
        admission.check(NOW + 60_000, "flood")  # its sixth in the queue would wait 60 ms
    assert admission.load("quiet").waiting == 1  # served after one more of the flood's
    quiet = asyncio.create_task(command("quiet"))
    await eventually(lambda: admission.waiting == 6)
    assert admission.shed == 1
    release.set()
    await asyncio.gather(*flood, quiet)


async def test_a_command_given_up_while_it_waits_leaves_its_turn_to_the_next():
    one = OneSlot()
    admission, release, served, command = one.admission, one.release, one.served, one.command
    first = asyncio.create_task(command("a", "a1", hold=True))
    await eventually(lambda: served == ["a1"])
    gone = asyncio.create_task(command("b", "b1"))
    last = asyncio.create_task(command("c", "c1"))
    await eventually(lambda: admission.waiting == 2)
    gone.cancel()
    await asyncio.gather(gone, return_exceptions=True)
    assert admission.waiting == 1
    release.set()
    await asyncio.gather(first, last)
    assert served == ["a1", "c1"] and admission.status()["in_flight"] == 0
    async with admission.slot(NOW + 60_000, "b"):  # the slot came back
        assert admission.in_flight == 1
