"""Erasure by crypto-shredding: ``erase_person_data`` records PersonDataErased (with the
年代 of each of the person's enrollments, computed while the birth date is still readable);
the shredder reactor then deletes the person's attached documents from the object store and
destroys the keys (the person's, and each of their cases', which also seal their agenda
items' material and minutes; and the submitter key of a referral linked to them when it seals
nobody else's data: ``matched_referrals``).

Order matters: the event is stored *first* and the keys destroyed *after*, at least once, by
the reactor. The other order could destroy keys and then fail to record why, and a retry
could no longer compute the age bands (the birth date would be gone).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping, Sequence, Set
from datetime import date
from typing import Any

import structlog

from contracts.base import DomainEvent, PersonalData
from contracts.case import CaseOpened, EnrollmentStarted
from contracts.commands_casefile import ErasePersonData
from contracts.common import AgeBand, age_band_for_age, age_on
from contracts.envelope import Envelope
from contracts.feed import PERSONAL_KINDS
from contracts.meeting import MEETING_TEXT_KEY_PREFIX
from contracts.person import PersonDataErased
from contracts.referral import ReferralCorrected, ReferralSubmitted
from eventstore.commands import Session
from eventstore.crypto import KeyRing, sealed_key_ids
from eventstore.errors import DomainError, Forbidden, NotFound
from eventstore.projection import ProjectionRunner
from eventstore.scrub import dead_letters, outbox_stash, rewrite_stream, scrub_after
from eventstore.store import Stored
from services.casefile.shred_attachments import delete_object, objects_to_delete

log = structlog.get_logger("tsunagu.casefile.erasure")

#: The agency token operators use in command subjects; NATS permissions give
#: ``<prefix>.cmd.operator.>`` to operator credentials only (deploy/).
OPERATOR = "operator"


def _personal(event: DomainEvent) -> PersonalData | None:
    value = getattr(event, "personal", None)
    return value if isinstance(value, PersonalData) else None


def _birth_date(event: DomainEvent | None) -> date | None:
    block = _personal(event) if event is not None else None
    value = getattr(block, "birth_date", None)
    return value if isinstance(value, date) else None


def age_bands(
    person_id: str,
    cases: Sequence[tuple[CaseOpened, list[DomainEvent]]],
    referrals: dict[str, DomainEvent],
) -> dict[str, AgeBand]:
    """Pure: the 年代 at the start of each of the person's enrollments (birth date, else the
    band recorded at opening or referral, else 不明). Events must be unsealed."""
    out: dict[str, AgeBand] = {}
    for opened, events in cases:
        referral = referrals.get(opened.referral_id or "")
        birth = _birth_date(opened) or _birth_date(referral)
        recorded = opened.age_band
        if recorded is AgeBand.unknown and referral is not None:
            recorded = getattr(referral, "age_band", AgeBand.unknown)
        for e in events:
            if isinstance(e, EnrollmentStarted) and e.subject.person_id == person_id:
                out[e.enrollment_id] = (
                    age_band_for_age(age_on(birth, e.started_on)) if birth else recorded
                )
    return out


def matched_referrals(
    person_id: str, submitted: Mapping[str, str], matches: Iterable[tuple[str, str]],
    case_persons: Set[str],
) -> tuple[set[str], set[str]]:
    """Pure: the referrals erasing ``person_id`` shreds, and the other person keys it destroys.

    ``submitted`` maps each referral to the person id it was submitted under; ``matches`` are
    the coordinators' decisions ``(referral_id, person_id after it)`` in stream order (the
    latest wins: a referral re-linked elsewhere is that person's); ``case_persons`` the
    persons cases are opened for. The referrals: those submitted under the person (their
    key seals them) and those whose latest match is the person. A referral's events are
    sealed by the person it named *then* (``personal_key_id``), so a linked referral's sheet
    sits under its submitter's key: that key is destroyed only if every referral ever under
    it is erased with the person and no case names it (then it denotes the same human).
    Otherwise it also seals someone else's data and stays; the projections still clear the
    referral's sheet, but the stream keeps it readable under that key (docs/PRIVACY.md).
    """
    current = dict(submitted)
    ever: dict[str, set[str]] = {}
    for referral_id, person in submitted.items():
        ever.setdefault(person, set()).add(referral_id)
    for referral_id, person in matches:
        current[referral_id] = person
        ever.setdefault(person, set()).add(referral_id)
    referrals = {r for r, p in current.items() if p == person_id}
    referrals |= {r for r, p in submitted.items() if p == person_id}
    named = {p for p, rs in ever.items() if rs & referrals} - {person_id}
    keys = {p for p in named if ever[p] <= referrals and p not in case_persons}
    return referrals, keys


async def _unsealed(keyring: KeyRing, envelopes: list[Envelope]) -> list[DomainEvent]:
    ids: set[str] = set()
    for env in envelopes:
        ids |= sealed_key_ids(env.event)
    await keyring.prefetch(ids)
    return [keyring.unseal_event(env.event) for env in envelopes]


async def handle_erase_person_data(
    deps: object, session: Session, cmd: ErasePersonData
) -> list[DomainEvent]:
    if session.agency_id != OPERATOR:
        raise Forbidden(
            f"erase_person_data is an operator command (subject …cmd.{OPERATOR}.…); "
            f"agency {session.agency_id!r} may not send it",
        )
    person = await session.load("person", cmd.person_id)
    if any(isinstance(e.event, PersonDataErased) for e in person.envelopes):
        raise DomainError(f"person {cmd.person_id!r} was already erased", code="already_erased")
    store, topo = session.store, session.store.topology
    # Scans every case's opening (municipal scale: thousands): no projection lag involved.
    opened = await store.read(topo.event_subject("case", "*", "CaseOpened"))
    mine = [s.envelope for s in opened
            if isinstance(s.envelope.event, CaseOpened)
            and s.envelope.event.subject.person_id == cmd.person_id]
    referral_ids, other_keys = await _referrals_of(session, cmd.person_id, opened)
    if not mine and not referral_ids:
        raise NotFound(f"person_id: no case or referral names person {cmd.person_id!r}",
                       details={"field": "person_id"})
    keyring = await KeyRing.open(store.nc, topo)
    cases: list[tuple[CaseOpened, list[DomainEvent]]] = []
    referrals: dict[str, DomainEvent] = {}
    for env in mine:
        history = await store.load("case", env.aggregate_id)
        events = await _unsealed(keyring, history.envelopes)
        first = events[0]
        assert isinstance(first, CaseOpened)
        cases.append((first, events))
        if first.referral_id:
            referral_ids.add(first.referral_id)
    for referral_id in sorted(referral_ids):
        history = await store.load("referral", referral_id)
        for event in await _unsealed(keyring, history.envelopes):
            if isinstance(event, ReferralSubmitted | ReferralCorrected):
                referrals[referral_id] = event  # the latest version wins
    case_ids = sorted(env.aggregate_id for env in mine)
    meetings, text_keys = await meeting_text_keys(session, set(case_ids))
    return [PersonDataErased(
        person_id=cmd.person_id, reason=cmd.reason, erased_by=cmd.staff or OPERATOR,
        key_ids=(cmd.person_id, *sorted(other_keys), *case_ids, *text_keys),
        meeting_ids=meetings,
        referral_ids=tuple(sorted(referral_ids)),
        age_bands=age_bands(cmd.person_id, cases, referrals),
    )]


async def _referrals_of(session: Session, person_id: str, opened: list[Stored]
                        ) -> tuple[set[str], set[str]]:
    """``matched_referrals`` over every submission and match decision in the stream."""
    store, topo = session.store, session.store.topology

    def person_of(stored: Stored) -> str:
        return str(getattr(stored.envelope.event, "person_id", ""))

    submitted = await store.read(topo.event_subject("referral", "*", "ReferralSubmitted"))
    matched = await store.read(topo.event_subject("referral", "*", "PersonMatchDecided"))
    return matched_referrals(
        person_id, {s.envelope.aggregate_id: person_of(s) for s in submitted},
        [(s.envelope.aggregate_id, person_of(s)) for s in matched],
        {str(s.envelope.event.subject.person_id) for s in opened
         if isinstance(s.envelope.event, CaseOpened)},
    )


async def meeting_text_keys(session: Session, case_ids: set[str]
                            ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The meetings that tabled one of ``case_ids``, and the keys sealing their own free
    text (title, reasons, staff, gaps: ``contracts.meeting.meeting_text_key``): a title may
    name the person, so erasing them destroys these (docs/PRIVACY.md)."""
    store, topo = session.store, session.store.topology
    tabled = await store.read(topo.event_subject("meeting", "*", "CaseTabled"))
    meetings = sorted({s.envelope.aggregate_id for s in tabled
                       if getattr(s.envelope.event, "case_id", None) in case_ids})
    keys: set[str] = set()
    for meeting_id in meetings:
        for env in (await store.load("meeting", meeting_id)).envelopes:
            keys |= {k for k in sealed_key_ids(env.event)
                     if k.startswith(MEETING_TEXT_KEY_PREFIX)}
    return tuple(meetings), tuple(sorted(keys))


class Shredder:
    """Reactor: after PersonDataErased, wait until the casefile projection has applied it
    (so no feed view with personal data can follow), then, in this order: rewrite the feed
    stream without the views of the person's cases (``eventstore.scrub.rewrite_stream``:
    earlier views removed by the one-view-per-subject limit still sit in block files), erase
    the dead letters about them, erase their attachment objects (whose references only the
    keys can still read), destroy (erase) the keys, and scrub this service's database.
    Idempotent: each step run twice is harmless. A step that fails is retried (then
    dead-lettered) *before* any key is destroyed, so a replay can still find what to
    delete."""

    name = "casefile_shredder"
    aggregates: tuple[str, ...] | None = ("person",)

    def __init__(self, runtime: Any, projection_name: str) -> None:
        self.runtime = runtime
        self.projection_name = projection_name
        self.scrubbed = 0

    async def react(self, env: Envelope, seq: int) -> None:
        event = env.event
        if not isinstance(event, PersonDataErased):
            return
        runner: ProjectionRunner | None = self.runtime.runners.get(self.projection_name)
        if runner is not None:
            await runner.wait_for(seq, timeout=120)
        js = self.runtime.broker.connection.jetstream()
        # Feed subjects name a case, or a referral (a return's reason).
        cases = set(event.key_ids) - {event.person_id} | set(event.referral_ids)
        await self._rewrite_feed(runner, js, cases)
        dead = await erase_dead_letters(js, self.runtime.topology,
                                        set(event.key_ids) | set(event.referral_ids))
        keyring: KeyRing = self.runtime.keyring
        # A fresh ring: the service's own has already forgotten the erased keys.
        names = await objects_to_delete(self.runtime.store, KeyRing(keyring.kv), event)
        deleted = 0
        for name in sorted(names):
            deleted += await delete_object(self.runtime.broker.connection,
                                           self.runtime.topology, name)
        log.info("attachments deleted", deleted=deleted, referenced=len(names),
                 dead_letters=dead, seq=seq)
        for key_id in event.key_ids:
            await keyring.destroy(key_id)
            await asyncio.sleep(0)
        log.info("keys destroyed", keys=len(event.key_ids), seq=seq)
        await scrub_after(self.runtime, seq, self.aggregates or ())
        self.scrubbed += 1

    async def _rewrite_feed(self, runner: ProjectionRunner | None, js: Any,
                            cases: set[str]) -> None:
        if runner is None:
            raise RuntimeError(f"{self.projection_name}: the feed's publisher is not running")
        topo = self.runtime.topology

        def views_of_erased(subject: str) -> bool:
            return personal_feed_message(topo.prefix, subject, cases)

        started = time.perf_counter()
        async with runner.outbox_paused():  # the copies wait in the outbox while it purges
            kept, dropped = await rewrite_stream(
                js, topo.feed_stream, topo.feed_subjects, views_of_erased,
                outbox_stash(runner.engine, runner.name))
        await runner.flush_outbox()
        log.info("feed rewritten", kept=kept, dropped=dropped,
                 ms=round((time.perf_counter() - started) * 1000))


def personal_feed_message(prefix: str, subject: str, cases: set[str]) -> bool:
    """Whether a feed message may hold personal data of one of ``cases``:
    ``<prefix>.feed.<agency>.<case>.<kind>[.<id>]`` of a kind in ``PERSONAL_KINDS`` (the
    "erased" notices, invitations, reminders stay: ids, codes and dates only).

    >>> personal_feed_message("t", "t.feed.npo.c1.case_decision.d1", {"c1"})
    True
    >>> personal_feed_message("t", "t.feed.npo.c1.erased", {"c1"})
    False
    """
    parts = subject.removeprefix(f"{prefix}.feed.").split(".")
    return len(parts) >= 3 and parts[1] in cases and parts[2] in PERSONAL_KINDS


async def erase_dead_letters(js: Any, topo: Any, key_ids: set[str]) -> int:
    """Erase the dead letters of events about the person (their cases' and their own):
    an event's free text and a failure message are not sealed."""
    erased = 0
    for msg in await dead_letters(js, topo):
        about = (msg.headers or {}).get("Tsunagu-Subject", "").split(".")
        # The subject's id token, or an id as a whole JSON string (a referral names the person).
        if key_ids & set(about) or any(f'"{k}"'.encode() in (msg.data or b"") for k in key_ids):
            await js.delete_msg(topo.dlq_stream, msg.metadata.sequence.stream)
            erased += 1
    return erased
