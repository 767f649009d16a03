"""A realistic stream of N events (default 1,000,000) for rebuilding the real projections.

It is the demo history (``tsunagu/ops/demo.py``: the seed data's stories for 200 people over
two fiscal years, coherent enough that every service applies it without a dead letter),
scaled out: the city is split in *districts*, each with the demo's story for its own 200
people (different random seed, ids numbered per district) and its own monthly 重層的支援会議
and 支援会議; the agency directory (the demo's 42 agencies) is city-wide and registered once.
Two things the demo lacks and real use has are added: corrected つなぐシート (about 6 % of
referrals, the day after submission, before triage) and the minutes of agenda items (half of
the items of held meetings, sealed with the item's case key).

Districts are generated one at a time (models → envelopes → personal blocks sealed with the
KeyRing of the bench's stream, per subject, as the command path does → JSON), each written
in world order to a spill file, so memory stays flat; the files are then merged in world
time (all districts run over the same two years) and the first N events published with
``publish_async`` and a Msg-Id. A prefix in time of a coherent history is coherent, so
cutting at N leaves nothing half-done that a projection would refuse.
"""

from __future__ import annotations

import asyncio
import heapq
import marshal
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from nats.aio.client import Client

from contracts.base import Actor, PersonalData
from contracts.envelope import Envelope
from contracts.meeting import MinutesPersonal, MinutesRecorded
from contracts.referral import ReferralCorrected, ReferralSubmitted
from eventstore.codec import encode, new_envelope
from eventstore.crypto import KeyRing, key_id_of, personal_fields
from eventstore.store import MSG_ID
from eventstore.topology import Topology
from services.referral.projection import MATCH_KEY_ID
from tsunagu.ops import demo_world as W
from tsunagu.ops.demo import DemoWorld, Item, Meeting, at


def _event_id(rng: random.Random, when: datetime) -> uuid.UUID:
    """A UUIDv7 from the world time and the seeded random: time-ordered and repeatable."""
    ms = int(when.timestamp() * 1000) & ((1 << 48) - 1)
    value = (ms << 80) | (0x7 << 76) | (rng.getrandbits(12) << 64) | (0b10 << 62) \
        | rng.getrandbits(62)
    return uuid.UUID(int=value)


def envelopes(items: list[Item], seed: int) -> list[Envelope]:
    """The bench's synthetic stream (written straight to a bench stream, never the
    platform's: the demo itself goes through the services' commands)."""
    rng = random.Random(seed * 7919 + 1)
    out = []
    for it in items:
        env = new_envelope(it.event, Actor(agency_id=it.actor, staff="デモ担当"),
                           occurred_at=it.when, correlation_id=it.story)
        eid = _event_id(rng, it.when)
        out.append(env.model_copy(update={"event_id": eid, "causation_id": str(eid)}))
    return out


#: People per district: the demo's own size (≈3,440 events each).
PEOPLE = 200
#: Share of referrals corrected by their sender before triage (ReferralCorrected).
CORRECTED = 0.06
#: Share of the agenda items of a held meeting that get minutes of their own.
ITEM_MINUTES = 0.5
_ITEM_MINUTES_SUPPORTED = "item_id" in MinutesRecorded.model_fields


class District(DemoWorld):
    """The demo world for one district: ids numbered from ``number * PEOPLE``, meetings of
    its own; only district 0 registers the (city-wide) agency directory."""

    def __init__(self, seed: int, number: int, people: int = PEOPLE) -> None:
        super().__init__(seed * 100_003 + number, people)
        self.number = number
        self.first_person = number * people
        self.first_participation = number * 100
        self.registers_directory = number == 0
        self.meeting_tag = f"d{number:03d}-"

    def referral(self, i: int, day: date) -> None:
        start = len(self.items)
        super().referral(i, day)
        if len(self.items) == start or self.rng.random() >= CORRECTED:
            return
        sub = self.items[start].event
        assert isinstance(sub, ReferralSubmitted) and isinstance(sub.personal, PersonalData)
        fixed = sub.personal.model_copy(update={
            "phone": f"080-{self.rng.randint(1000, 9999)}-{self.rng.randint(1000, 9999)}",
            "contact_note": "夕方以降は携帯へ（訂正）"})
        self.emit(at(day + timedelta(days=1), 9, 45), ReferralCorrected(
            referral_id=sub.referral_id, person_id=sub.person_id,
            contact_route=sub.contact_route, concerns=sub.concerns,
            suspected_abuse=sub.suspected_abuse, sex=sub.sex, age_band=sub.age_band,
            personal=fixed), sub.referring_agency, self.items[start].story)

    def emit_meeting(self, mtg: Meeting, year: int, month: int) -> None:
        super().emit_meeting(mtg, year, month)
        if not _ITEM_MINUTES_SUPPORTED or mtg.held_on > W.END:
            return
        for n, tabled in enumerate(item.tabled for item in mtg.items):
            if self.rng.random() < ITEM_MINUTES:
                self.emit(at(mtg.held_on, 17, 5 + n % 50), MinutesRecorded(
                    meeting_id=mtg.meeting_id, recorded_by="ag-fukushi-soudan",
                    item_id=tabled.item_id, case_id=tabled.case_id,
                    personal=MinutesPersonal(text="本人の意向を確認し、役割分担を確認した。"),
                ), "ag-fukushi-soudan", f"demo-{mtg.meeting_id}")


@dataclass
class History:
    """What was published: counts for checking every projection read what it should."""

    events: int = 0
    last_seq: int = 0
    districts: int = 0
    people: int = 0
    keys: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    by_aggregate: Counter[str] = field(default_factory=Counter)
    #: ``by_aggregate`` of the first ``mark`` events (a rebuild ``until`` there).
    upto: Counter[str] = field(default_factory=Counter)
    generate_s: float = 0.0
    publish_s: float = 0.0

    def reads(self, aggregates: tuple[str, ...] | None) -> int:
        """How many events a projection reading these aggregate kinds sees."""
        if not aggregates:
            return self.events
        return sum(self.by_aggregate[a] for a in aggregates)


async def _seal_district(keyring: KeyRing, keys: set[str], items: list[Item],
                         seed: int) -> list[tuple[str, bytes]]:
    envs = envelopes(items, seed)
    # New subjects' keys are created concurrently (one KV round trip each), then sealing
    # (KeyRing.seal_event, as the command path does) finds every key in the cache.
    wanted = {key_id_of(e.event) for e in envs
              if any(isinstance(getattr(e.event, f), PersonalData)
                     for f in personal_fields(type(e.event)))}
    todo = sorted(wanted - keys)
    for k in range(0, len(todo), 256):
        await asyncio.gather(*(keyring.get_or_create(key) for key in todo[k:k + 256]))
    keys.update(todo)
    out = []
    for env in envs:
        sealed = await keyring.seal_event(env.event)
        if sealed is not env.event:
            env = env.model_copy(update={"event": sealed})
        out.append((str(env.event_id), encode(env)))
    return out


def _spill(path: Path, items: list[Item], bodies: list[tuple[str, bytes]], topo: Topology,
           district: int) -> None:
    """Records (world time ms, district, order, subject, msg id, body), in world order."""
    with path.open("wb") as f:
        for it, (msg_id, body) in zip(items, bodies, strict=True):
            e = it.event
            subject = topo.event_subject(e.aggregate, e.aggregate_id(), e.type)
            marshal.dump((int(it.when.timestamp() * 1000), district, it.order, subject, msg_id,
                          body), f)


def _read(path: Path) -> Iterator[tuple[int, int, int, str, str, bytes]]:
    with path.open("rb") as f:
        while True:
            try:
                yield marshal.load(f)
            except EOFError:
                return


async def generate(nc: Client, topo: Topology, n: int, workdir: Path, seed: int = 11,
                   window: int = 4000, mark: int = 0, log: Any = None) -> History:
    """Generate and publish ``n`` events on ``topo``'s stream (a fresh one: stream sequence
    = event number); returns what was published."""
    hist = History()
    keyring = await KeyRing.open(nc, topo)
    await keyring.get_or_create(MATCH_KEY_ID)  # as the referral service does on start
    spill = workdir / "history"
    spill.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    files: list[Path] = []
    keys: set[str] = set()
    total = 0
    while total < n:
        d = len(files)
        world = District(seed, d)
        items = world.build()
        bodies = await _seal_district(keyring, keys, items, seed * 100_003 + d)
        path = spill / f"d{d:03d}.bin"
        await asyncio.to_thread(_spill, path, items, bodies, topo, d)
        files.append(path)
        total += len(items)
        hist.people += world.people
        if log and d % 50 == 49:
            log(f"  generated {d + 1} districts, {total:,} events "
                f"({time.perf_counter() - started:.0f} s)")
    hist.districts = len(files)
    hist.keys = len(keys)
    hist.generate_s = time.perf_counter() - started

    started = time.perf_counter()
    js = nc.jetstream(timeout=30)
    futures = []
    merged = heapq.merge(*(_read(p) for p in files))
    for _, _, _, subject, msg_id, body in merged:
        if hist.events >= n:
            break
        futures.append(await js.publish_async(subject, body, headers={MSG_ID: msg_id}))
        hist.events += 1
        parts = subject.split(".")
        hist.by_aggregate[parts[-3]] += 1
        hist.by_type[parts[-1]] += 1
        if hist.events == mark:
            hist.upto = Counter(hist.by_aggregate)
        if len(futures) >= window:
            await asyncio.gather(*futures)
            futures.clear()
    await asyncio.gather(*futures)
    info = await js.stream_info(topo.events_stream)
    hist.last_seq = int(info.state.last_seq)
    hist.publish_s = time.perf_counter() - started
    for p in files:
        p.unlink()
    return hist
