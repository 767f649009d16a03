"""Shedding load: a command that cannot start in time is answered ``busy`` at once.

A sender says until when its command is worth starting: the header ``Tsunagu-Deadline``
(``contracts/deadline.py``: milliseconds since the Unix epoch, UTC). Without the header the
deadline is the arrival plus ``TSUNAGU_COMMAND_BUDGET_MS`` (2 s).

A service runs at most ``TSUNAGU_COMMAND_SLOTS`` commands at once; the others wait for a
slot, each agency in its own queue, the queues served in turn (one command of each agency
that waits, then the next round), so one agency's flood lengthens its own wait, not the
others'. ``admit`` decides on arrival, before the body is parsed: a
command whose deadline has passed, that would start after its deadline, or that would wait
longer than ``TSUNAGU_COMMAND_QUEUE_MS`` is refused ``busy`` instead of queued (the queue,
not the work, is what makes latency under overload). A command whose deadline passes while
it waits is refused when its slot comes. Either way nothing has run: nothing loaded,
appended or remembered (no receipt), so the same command may be sent again as it was.
Shedding happens only *before* the handler: a started command always completes.

The wait is estimated from the queue by Little's law: with ``q = in_flight + waiting -
slots + 1`` commands to finish before a newcomer gets a slot (``waiting``: those served
before it, ``waiting_ahead``), it waits about ``q × handling_ms / slots``, where
``handling_ms`` is the moving average of how long a command holds its slot, or the average
time the running ones have taken so far if that is longer (a burst slows commands before
any finishes). ``retry_after_ms`` is that wait (the time
the queue now ahead needs to start), at least one handling time:

    >>> load = Load(in_flight=4, waiting=6, slots=4, handling_ms=20.0)
    >>> expected_wait_ms(load)
    35.0
    >>> admit(now_ms=1_000, deadline_ms=3_000, load=load, max_wait_ms=100)
    >>> admit(now_ms=1_000, deadline_ms=1_030, load=load, max_wait_ms=100)
    Busy(retry_after_ms=35, reason='would start after its deadline')
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

from contracts.deadline import DEADLINE_HEADER
from eventstore.errors import DomainError, InvalidInput

#: Milliseconds since the epoch below this are read as a mistake (seconds, not ms).
EARLIEST_DEADLINE_MS = 10**12  # 2001-09-09
#: The handling time assumed before any command has finished.
FIRST_HANDLING_MS = 10.0
#: Weight of the newest handling time in the moving average.
SMOOTHING = 0.2


@dataclass(frozen=True)
class Load:
    """A service's commands now: running, waiting before a newcomer, how many slots."""

    in_flight: int
    waiting: int
    slots: int
    handling_ms: float


@dataclass(frozen=True)
class Busy:
    """Refuse now; the sender may try again after ``retry_after_ms``."""

    retry_after_ms: int
    reason: str


class ServiceBusy(DomainError):
    """The command was not started (see ``eventstore/shedding.py``): nothing was done."""

    code = "busy"


def expected_wait_ms(load: Load) -> float:
    """How long a command arriving now waits for a slot (0 while one is free)."""
    ahead = load.in_flight + load.waiting - load.slots + 1
    return max(ahead, 0) * load.handling_ms / load.slots


def waiting_ahead(agency: str, waiting: Mapping[str, int]) -> int:
    """Waiting commands served before a newcomer of ``agency`` when the queues take turns:
    its agency's own, and of every other agency at most one more than that.

    >>> waiting_ahead("quiet", {"flood": 40}), waiting_ahead("flood", {"flood": 40})
    (1, 40)
    """
    mine = waiting.get(agency, 0)
    return mine + sum(min(n, mine + 1) for a, n in waiting.items() if a != agency)


def admit(now_ms: float, deadline_ms: float, load: Load, max_wait_ms: float) -> Busy | None:
    """None to take the command; ``Busy`` to refuse it before anything runs."""
    wait = expected_wait_ms(load)
    retry = max(1, math.ceil(max(wait, load.handling_ms)))
    if deadline_ms <= now_ms:
        return Busy(retry, "deadline passed")
    if wait > max_wait_ms:
        return Busy(retry, "queue full")
    if now_ms + wait >= deadline_ms:
        return Busy(retry, "would start after its deadline")
    return None


def parse_deadline(value: str) -> int:
    """The header's value as milliseconds since the epoch, or ``InvalidInput`` naming it.

    >>> parse_deadline("1767225600000")
    1767225600000
    """
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 15:
        raise InvalidInput(
            f"header {DEADLINE_HEADER} must be milliseconds since the Unix epoch (UTC), "
            f"digits only, e.g. 1767225600000; got {text[:32]!r}",
            details={"header": DEADLINE_HEADER, "rule": "epoch_ms"})
    ms = int(text)
    if ms < EARLIEST_DEADLINE_MS:
        raise InvalidInput(
            f"header {DEADLINE_HEADER} is {ms}: that is before 2001 in milliseconds (seconds "
            "were sent?); it must be milliseconds since the Unix epoch (UTC)",
            details={"header": DEADLINE_HEADER, "rule": "epoch_ms"})
    return ms


def wall_ms() -> float:
    return time.time() * 1000


def deadline_after(seconds: float, now_ms: float | None = None) -> str:
    """The header's value for a sender that waits ``seconds`` for its answer."""
    return str(int((wall_ms() if now_ms is None else now_ms) + seconds * 1000))


def retry_after(reply: bytes) -> float | None:
    """Seconds to wait before sending again, if ``reply`` is a ``busy`` refusal; else None.

    >>> retry_after(b'{"ok": false, "error": {"code": "busy", "details": {"retry_after_ms": 40}}}')
    0.04
    """
    if b'"busy"' not in reply:  # the common case, without parsing
        return None
    try:
        error = json.loads(reply).get("error") or {}
        ms = (error.get("details") or {}).get("retry_after_ms", 0)
    except (ValueError, AttributeError):
        return None
    if error.get("code") != "busy" or not isinstance(ms, int | float):
        return None
    return max(float(ms), 0.0) / 1000


class Admission:
    """The slots of one service and the queue before them; counts what it shed.

        admission = Admission(slots=4, max_wait_ms=50, budget_ms=2000)
        deadline = admission.deadline(msg.headers)   # InvalidInput on a bad header
        admission.check(deadline, agency)            # ServiceBusy, before parsing
        async with admission.slot(deadline, agency): # ServiceBusy, or the command runs
            ...
    """

    def __init__(self, slots: int, max_wait_ms: float, budget_ms: float,
                 clock: Callable[[], float] = wall_ms,
                 timer: Callable[[], float] = time.monotonic) -> None:
        """``clock``: wall time in ms, for deadlines; ``timer``: seconds, for durations."""
        self.slots, self.max_wait_ms, self.budget_ms = slots, max_wait_ms, budget_ms
        self.clock, self.timer = clock, timer
        self.in_flight = self.shed = 0
        self.handling_ms = FIRST_HANDLING_MS
        self._free = slots
        # Per agency, the commands waiting for a slot; the dict's order is the turn order.
        self._queues: dict[str, deque[asyncio.Future[None]]] = {}
        self._started: dict[int, float] = {}  # running commands: when each started
        self._tickets = itertools.count()

    @property
    def waiting(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def load(self, agency: str = "") -> Load:
        """The load a newcomer of ``agency`` meets."""
        # A burst slows commands down before any finishes to say so: those running have
        # taken this long already (on average), so they take at least that.
        running = self._started.values()
        age = (self.timer() - sum(running) / len(running)) * 1000 if running else 0.0
        ahead = waiting_ahead(agency, {a: len(q) for a, q in self._queues.items()})
        return Load(self.in_flight, ahead, self.slots, max(self.handling_ms, age))

    def deadline(self, headers: Mapping[str, str] | None) -> float:
        value = (headers or {}).get(DEADLINE_HEADER)
        return self.clock() + self.budget_ms if value is None else parse_deadline(value)

    def check(self, deadline_ms: float, agency: str = "") -> None:
        """Refuse now (``ServiceBusy``) what ``admit`` would not take."""
        self._refuse(admit(self.clock(), deadline_ms, self.load(agency), self.max_wait_ms))

    @asynccontextmanager
    async def slot(self, deadline_ms: float, agency: str = "") -> AsyncIterator[None]:
        """Hold a slot for one command, or raise ``ServiceBusy`` before it starts."""
        self.check(deadline_ms, agency)
        await self._acquire(agency)
        try:
            now = self.clock()
            if now >= deadline_ms:  # its sender has given up while it waited
                self._refuse(admit(now, deadline_ms, self.load(agency), self.max_wait_ms))
            self.in_flight += 1
            ticket = next(self._tickets)
            started = self._started[ticket] = self.timer()
            try:
                yield
            finally:
                self.in_flight -= 1
                del self._started[ticket]
                took = (self.timer() - started) * 1000
                self.handling_ms += SMOOTHING * (took - self.handling_ms)
        finally:
            self._release()

    async def _acquire(self, agency: str) -> None:
        if self._free > 0 and not self._queues:
            self._free -= 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._queues.setdefault(agency, deque())
        queue.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._release()  # the slot was handed over as its sender went away
            else:
                with suppress(ValueError):
                    queue.remove(turn)
                if not queue and self._queues.get(agency) is queue:
                    del self._queues[agency]
            raise

    def _release(self) -> None:
        """Hand the slot to the next agency in turn (to the back of the round if it has
        more waiting), or free it."""
        while self._queues:
            agency = next(iter(self._queues))
            queue = self._queues.pop(agency)
            turn = queue.popleft()
            if queue:
                self._queues[agency] = queue
            if not turn.done():
                turn.set_result(None)
                return
        self._free += 1

    def _refuse(self, busy: Busy | None) -> None:
        if busy is None:
            return
        self.shed += 1
        raise ServiceBusy(
            f"the service is busy ({busy.reason}): nothing was done; send the same command "
            f"again after {busy.retry_after_ms} ms",
            details={"retry_after_ms": busy.retry_after_ms})

    def status(self) -> dict[str, float]:
        return {"slots": self.slots, "in_flight": self.in_flight, "waiting": self.waiting,
                "shed": self.shed, "handling_ms": round(self.handling_ms, 1)}
