"""Builders for the casefile tests: cases and consents sent as commands to the referral
and meeting services (past dates on the migration subject). Only the ``planted_*`` meeting
events, which the meeting deciders refuse, are written directly."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from contracts.base import Actor, DomainEvent
from contracts.common import AttachmentRef
from contracts.jst import JST, today_jst
from contracts.meeting import (
    Ask,
    CaseTabled,
    Decision,
    DecisionRecorded,
    ItemAttendance,
    MeetingKind,
    MeetingScheduled,
)
from eventstore.codec import new_envelope
from eventstore.commands import request_patiently
from eventstore.crypto import KeyRing
from eventstore.service import Runtime
from eventstore.store import EventStore
from eventstore.topology import Topology
from tests.helpers import register_agency, send

#: Personal data that must never appear where consent does not allow it.
NAME = "山田花子"
PHONE = "090-1234-5678"
ADDRESS = "大阪府茨木市駅前三丁目"
SUMMARY = "家賃を三か月滞納している"
SITUATION = "長男がひきこもり状態"
GOAL = "生活の再建と就労"
PROGRESS = "面談で体調の改善を確認"
SECRETS = (NAME, PHONE, ADDRESS, SUMMARY, SITUATION, GOAL, PROGRESS, "1984-05-06")

D = date(2026, 5, 1)
NATIONAL = {"household": "with_children", "route": "agency", "main_concern": "income",
            "urgency": "medium"}

AGENCIES = {
    "hokatsu": "地域包括支援センター",
    "shakyo": "社会福祉協議会",
    "jiritsu": "自立相談支援機関",
    "hellowork": "ハローワーク",
    "hospital": "医療機関",
}


HELD = date(2026, 6, 1)  # the day the tests' meetings are held
#: The ask a decision answers, where their names differ.
ASK_OF = {Decision.reject_plan: "approve_plan", Decision.continue_support: "evaluate",
          Decision.information_shared: "share_information"}


def _at(on: date) -> str:
    return datetime(on.year, on.month, on.day, 10, tzinfo=JST).isoformat()


@dataclass
class _Meeting:
    on: date
    members: set[str]
    items: dict[str, str] = field(default_factory=dict)  # item id -> case id
    held: bool = False


class World:
    """The casefile tests' world: five agencies, and cases, consents and meetings built by
    sending the real commands. Tests name things by short ids ("c1", "p1", "k1", "r-c1",
    "c1-e1"); ``world.id("c1")`` is the id the platform gave, and ``world.send`` puts the
    real ids in place of short ones in a command's top-level fields.

        world = await World(nc, store, topology).setup(services)
        await world.triaged_case()          # case "c1" of person "p1", opened 2026-05-01
        await world.consent()               # consent "k1" covering hokatsu and shakyo
        await world.send("shakyo", "draft_plan", plan_payload("cmd-1"))
    """

    def __init__(self, nc: Client, store: EventStore, topology: Topology) -> None:
        self.nc, self.store, self.topology = nc, store, topology
        self.keyring: KeyRing | None = None
        self.ids: dict[str, str] = {}
        self._applied: set[str] = set()
        self._meetings: dict[str, _Meeting] = {}

    async def setup(self, services: Any) -> World:
        for agency, category in AGENCIES.items():
            await register_agency(self.store, agency, category=category,
                                  can_triage=agency == "shakyo")
        self.keyring = await KeyRing.open(self.nc, self.topology)
        running = await services()
        await services(*(s for s in ("referral", "meeting") if s not in running))
        return self

    def id(self, short: str) -> str:
        """The platform's id for a test's short id (unknown ones are returned unchanged)."""
        return self.ids.get(short, short)

    async def _plant(self, *events: DomainEvent, actor: str = "shakyo") -> list[int]:
        """Direct, for the planted_* events only (no command produces them)."""
        assert self.keyring is not None
        envs = [new_envelope(await self.keyring.seal_event(e), Actor(agency_id=actor))
                for e in events]
        return await self.store.append(envs)

    async def _command(self, agency: str, command: str, body: dict[str, Any],
                       on: date | None = None) -> dict:
        """A command, checked ok; dated ``on`` (the migration subject: dates in the past)."""
        body = {"command_id": f"world-{uuid.uuid4().hex[:12]}", **self._real(body)}
        if on is None:
            reply = await send(self.nc, self.topology, agency, command, body)
        else:
            body["occurred_at"] = _at(on)
            msg = await request_patiently(self.nc, self.topology.migrate_subject(agency, command),
                                          json.dumps(body, default=str).encode())
            reply = json.loads(msg.data)
        assert reply["ok"], (command, reply)
        return dict(reply)

    def _real(self, body: dict[str, Any]) -> dict[str, Any]:
        return {k: self.id(v) if k.endswith("_id") and k != "command_id"
                and isinstance(v, str) else v for k, v in body.items()}

    # ----- through the referral service's commands ------------------------------------
    async def triaged_case(self, case_id: str = "c1", person_id: str = "p1",
                           referring: str = "hokatsu", triaging: str = "shakyo",
                           birth: date = date(1984, 5, 6), opened_on: date = D,
                           name: str = NAME, attachment: AttachmentRef | None = None) -> None:
        """A referral by ``referring`` triaged into a case by ``triaging`` on ``opened_on``;
        short ids: ``case_id``, ``person_id``, ``r-<case_id>``, ``<case_id>-e1``."""
        personal = {"name": name, "birth_date": birth.isoformat(), "address": ADDRESS,
                    "phone": PHONE, "summary": SUMMARY}
        sheet: dict[str, Any] = {"contact_route": "phone", "concerns": ["income"],
                                 "sex": "female", "personal": personal}
        if attachment is not None:
            sheet["attachment"] = attachment.model_dump(mode="json")
        submitted = await self._command(referring, "submit_referral", sheet, on=opened_on)
        referral_id = submitted["ids"]["referral_id"]
        triaged = await self._command(triaging, "triage_referral", {
            "referral_id": referral_id, "outcome": "complex",
            "triaged_on": opened_on.isoformat()}, on=opened_on)
        real_case = triaged["ids"]["case_id"]
        case = await self.store.load("case", real_case)
        opened = case.envelopes[0].event
        [enrollment] = [e.event.enrollment_id for e in case.envelopes
                        if e.type == "EnrollmentStarted"]
        self.ids.update({case_id: real_case, person_id: opened.subject.person_id,
                         f"r-{case_id}": referral_id, f"{case_id}-e1": enrollment})

    async def consent(self, case_id: str = "c1", agencies: tuple[str, ...] = ("hokatsu", "shakyo"),
                      consent_id: str = "k1", given_on: date = D, person_id: str = "p1") -> None:
        """The 利用申込書 with consent ``consent_id`` (later ones: a further consent), by
        shakyo."""
        scope = {"agencies": list(agencies), "purposes": ["支援のための情報共有"],
                 "method": "written", "given_on": given_on.isoformat(),
                 "obtained_by_staff": "相談員A", "form_ref": f"同意書-{consent_id}"}
        if case_id in self._applied:
            reply = await self._command("shakyo", "record_consent",
                                        {"case_id": case_id, **scope}, on=given_on)
        else:
            reply = await self._command("shakyo", "record_application", {
                "case_id": case_id, "applied_on": given_on.isoformat(), "with_consent": True,
                "consent": scope}, on=given_on)
            self._applied.add(case_id)
        self.ids[consent_id] = reply["ids"]["consent_id"]

    async def withdraw(self, case_id: str = "c1", consent_id: str = "k1",
                       on: date | None = None) -> None:
        body = {"case_id": case_id, "consent_id": consent_id,
                "withdrawn_on": (on or today_jst()).isoformat()}
        await self._command("shakyo", "withdraw_consent", body,
                            on=on if on and on < today_jst() else None)

    # ----- through the meeting service's commands (convened by shakyo) ------------------
    async def meeting(self, meeting_id: str, members: tuple[str, ...],
                      kind: MeetingKind = MeetingKind.support_plan, on: date = HELD) -> None:
        """Meeting ``meeting_id`` (a short id), scheduled for and held on ``on``."""
        reply = await self._command("shakyo", "schedule_meeting", {
            "kind": kind.value, "members": [m for m in members if m != "shakyo"],
            "scheduled_for": _at(on)}, on=on)
        self.ids[meeting_id] = reply["ids"]["meeting_id"]
        self._meetings[meeting_id] = _Meeting(on, set(members) | {"shakyo"})

    async def table(self, meeting_id: str, case_id: str = "c1", plan_id: str | None = None,
                    version: int | None = None, asks: tuple[Ask, ...] = (Ask.approve_plan,),
                    item_id: str = "i1") -> None:
        m = self._meetings[meeting_id]
        await self._command("shakyo", "table_case", {
            "meeting_id": meeting_id, "case_id": case_id, "asks": [str(a) for a in asks],
            "plan_id": plan_id, "plan_version": version, "item_id": item_id}, on=m.on)
        m.items[item_id] = case_id

    async def acknowledge(self, meeting_id: str, agency: str) -> None:
        await self._command(agency, "acknowledge_confidentiality", {"meeting_id": meeting_id},
                            on=self._meetings[meeting_id].on)

    async def held(self, meeting_id: str, attendees: tuple[str, ...],
                   items: tuple[ItemAttendance, ...] | None = None) -> None:
        """Held; by default every attendee attended for every tabled item. Attendees not yet
        members are invited first."""
        m = self._meetings[meeting_id]
        for agency in attendees:
            if agency not in m.members:
                await self._command("shakyo", "invite_member",
                                    {"meeting_id": meeting_id, "agency_id": agency}, on=m.on)
                m.members.add(agency)
        per_item = ([{"item_id": i.item_id, "agencies": list(i.agencies)} for i in items]
                    if items is not None else
                    [{"item_id": i, "agencies": list(attendees)} for i in m.items])
        await self._command("shakyo", "record_meeting_held", {
            "meeting_id": meeting_id, "held_on": m.on.isoformat(), "attendees": list(attendees),
            "item_attendees": per_item}, on=m.on)
        m.held = True

    async def decide(self, meeting_id: str, decision: Decision, decision_id: str,
                     case_id: str = "c1", **kw: Any) -> None:
        """The decision on the case's item (default ``i1``, tabled for the decision if it is
        not on the agenda; the meeting held by shakyo alone unless held before)."""
        m = self._meetings[meeting_id]
        item_id = kw.pop("item_id", None) or next(
            (i for i, c in m.items.items() if c == case_id), "i1")
        if item_id not in m.items:
            await self.table(meeting_id, case_id, kw.get("plan_id"), kw.get("plan_version"),
                             asks=(Ask(ASK_OF.get(decision, decision.value)),), item_id=item_id)
        if not m.held:
            await self.held(meeting_id, ("shakyo",))
        reply = await self._command("shakyo", "record_decision", {
            "meeting_id": meeting_id, "item_id": item_id, "decision": decision.value,
            "reason": kw.pop("reason", "会議で合意"), "lead_agency": kw.pop("lead_agency", None),
        }, on=m.on)
        self.ids[decision_id] = str(reply["ids"].get("decision_id", decision_id))

    # ----- planted: meeting events the meeting's deciders refuse ------------------------
    # Direct on purpose: they prove the casefile reactor records DecisionNotApplied for a
    # decision it cannot take; no command produces them (the meeting decider refuses).
    async def planted_meeting(self, meeting_id: str, members: tuple[str, ...],
                              kind: MeetingKind = MeetingKind.support_plan) -> None:
        await self._plant(MeetingScheduled(
            meeting_id=meeting_id, kind=kind, regular=False, convened_by="shakyo",
            scheduled_for=datetime(2026, 6, 1, 1, 0, tzinfo=UTC), members=members))

    async def planted_table(self, meeting_id: str, case_id: str = "c1",
                            plan_id: str | None = None, version: int | None = None,
                            asks: tuple[Ask, ...] = (Ask.approve_plan,),
                            kind: MeetingKind | None = MeetingKind.support_plan) -> None:
        await self._plant(CaseTabled(meeting_id=meeting_id, item_id="i1",
                                     case_id=self.id(case_id), asks=asks, plan_id=plan_id,
                                     plan_version=version, meeting_kind=kind))

    async def planted_decision(self, meeting_id: str, decision: Decision, decision_id: str,
                               **kw: Any) -> None:
        """Without ``meeting_kind`` unless given (``kw``), like an event stored before the
        field: the casefile applies those too."""
        await self._plant(DecisionRecorded(
            meeting_id=meeting_id, decision_id=decision_id, item_id="i1",
            case_id=self.id("c1"), decision=decision, reason="会議で合意",
            decided_on=HELD, **kw))

    # ----- agencies' commands -----------------------------------------------------------
    async def send(self, agency: str, command: str, payload: dict[str, Any]) -> dict:
        return await send(self.nc, self.topology, agency, command, self._real(payload))

    async def case_events(self, case_id: str = "c1") -> list[str]:
        return [e.type for e in (await self.store.load("case", self.id(case_id))).envelopes]


def plan_payload(command_id: str, case_id: str = "c1", **kw: Any) -> dict[str, Any]:
    return {
        "command_id": command_id, "case_id": case_id, "drafted_on": "2026-05-20",
        "roles": [{"agency_id": "shakyo", "role": "全体調整", "frequency": "月1回"},
                  {"agency_id": "hellowork", "role": "就労支援", "period_to": "2026-09-30"}],
        "monitoring_on": "2026-08-01",
        "personal": {"long_term_goal": GOAL, "short_term_goals": ["家計の見直し"],
                     "direction": "多機関で見守る"},
        **kw,
    }


def assessment_payload(command_id: str, case_id: str = "c1", **kw: Any) -> dict[str, Any]:
    return {"command_id": command_id, "case_id": case_id, "assessed_on": "2026-05-10",
            "national_items": dict(NATIONAL), "personal": {"situation": SITUATION}, **kw}


async def settle(nc: Client, topology: Topology, rt: Runtime, rounds: int = 200) -> None:
    """Wait until every runner of the service (projection and reactors) has processed all
    it was delivered and the reactors appended nothing more; then flush the feed outbox."""
    js = nc.jetstream()
    stable = 0
    for _ in range(rounds):
        last = (await js.stream_info(topology.events_stream)).state.last_seq
        busy = False
        for runner in rt.runners.values():
            try:
                info = await js.consumer_info(topology.events_stream, runner.durable)
            except Exception:
                busy = True
                continue
            if info.num_pending or info.num_ack_pending:
                busy = True
        if not busy and (await js.stream_info(topology.events_stream)).state.last_seq == last:
            stable += 1
            if stable >= 2:
                break
        else:
            stable = 0
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the casefile runners did not settle")
    await rt.runners["casefile"].flush_outbox()


async def feed(
    nc: Client, topology: Topology, agency: str, durable: str | None = None
) -> list[dict]:
    """Everything in an agency's feed, read like an agency system does: a durable pull
    consumer on <prefix>.feed.<agency>.> that picks up where it left off."""
    js = nc.jetstream()
    name = durable or f"reader_{agency}"
    try:
        await js.consumer_info(topology.feed_stream, name)
    except Exception:
        await js.add_consumer(topology.feed_stream, ConsumerConfig(
            durable_name=name, filter_subject=f"{topology.prefix}.feed.{agency}.>",
            deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.EXPLICIT))
    sub = await js.pull_subscribe_bind(durable=name, stream=topology.feed_stream)
    out: list[dict] = []
    while True:
        info = await js.consumer_info(topology.feed_stream, name)
        if info.num_pending == 0:
            break
        for msg in await sub.fetch(min(info.num_pending, 200), timeout=5):
            out.append({"subject": msg.subject, **json.loads(msg.data)})
            await msg.ack()
    await sub.unsubscribe()
    return out


async def raw_feed(nc: Client, topology: Topology) -> list[bytes]:
    """Every message still stored in the FEED stream (all agencies)."""
    js = nc.jetstream()
    info = await js.stream_info(topology.feed_stream)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        try:
            out.append((await js.get_msg(topology.feed_stream, seq)).data or b"")
        except Exception:
            continue  # purged
    return out


def contains_secret(blob: str | bytes) -> list[str]:
    text = blob.decode() if isinstance(blob, bytes) else blob
    return [s for s in SECRETS if s in text]
