"""Builders for the casefile tests: the events other services would append (referral,
consent, meeting), written directly with the kit so these tests do not depend on them."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from typing import Any

from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from contracts.base import Actor, DomainEvent
from contracts.case import CaseOpened, CaseOrigin, EnrollmentStarted, MemberJoined, MembershipReason
from contracts.common import AgeBand, AttachmentRef, Concern, Program, Sex, SubjectRef
from contracts.consent import ApplicationRecorded, ConsentMethod, ConsentRecorded, ConsentWithdrawn
from contracts.meeting import (
    Ask,
    CaseTabled,
    ConfidentialityAcknowledged,
    Decision,
    DecisionRecorded,
    ItemAttendance,
    MeetingHeld,
    MeetingKind,
    MeetingScheduled,
)
from contracts.referral import ContactRoute, ReferralPersonal, ReferralSubmitted
from eventstore.codec import new_envelope
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


class World:
    def __init__(self, nc: Client, store: EventStore, topology: Topology) -> None:
        self.nc, self.store, self.topology = nc, store, topology
        self.keyring: KeyRing | None = None

    async def setup(self) -> World:
        for agency, category in AGENCIES.items():
            await register_agency(self.store, agency, category=category,
                                  can_triage=agency == "shakyo")
        self.keyring = await KeyRing.open(self.nc, self.topology)
        return self

    async def append(self, *events: DomainEvent, actor: str = "shakyo") -> list[int]:
        assert self.keyring is not None
        envs = [new_envelope(await self.keyring.seal_event(e), Actor(agency_id=actor))
                for e in events]
        return await self.store.append(envs)

    # ----- what the referral service appends ------------------------------------------
    async def triaged_case(self, case_id: str = "c1", person_id: str = "p1",
                           referring: str = "hokatsu", triaging: str = "shakyo",
                           birth: date = date(1984, 5, 6), opened_on: date = D,
                           name: str = NAME, attachment: AttachmentRef | None = None) -> None:
        referral_id = f"r-{case_id}"
        await self.append(ReferralSubmitted(
            referral_id=referral_id, person_id=person_id, referring_agency=referring,
            contact_route=ContactRoute.phone, concerns=(Concern.income,), sex=Sex.female,
            personal=ReferralPersonal(name=name, birth_date=birth, address=ADDRESS,
                                      phone=PHONE, summary=SUMMARY),
            attachment=attachment,
        ), actor=referring)
        subject = SubjectRef(person_id=person_id)
        await self.append(
            CaseOpened(case_id=case_id, subject=subject, referral_id=referral_id,
                       origin=CaseOrigin.triage, opened_on=opened_on, coordinator=triaging,
                       sex=Sex.female, age_band=AgeBand.unknown),
            EnrollmentStarted(case_id=case_id, enrollment_id=f"{case_id}-e1",
                              program=Program.multi_agency, subject=subject, started_on=opened_on),
            MemberJoined(case_id=case_id, agency_id=referring, joined_on=opened_on,
                         how=MembershipReason.referral),
            MemberJoined(case_id=case_id, agency_id=triaging, joined_on=opened_on,
                         how=MembershipReason.triage),
            actor=triaging,
        )

    async def consent(self, case_id: str = "c1", agencies: tuple[str, ...] = ("hokatsu", "shakyo"),
                      consent_id: str = "k1", given_on: date = D, person_id: str = "p1") -> None:
        await self.append(
            ApplicationRecorded(case_id=case_id, person_id=person_id, applied_on=given_on,
                                with_consent=True),
            ConsentRecorded(case_id=case_id, consent_id=consent_id, person_id=person_id,
                            agencies=agencies, purposes=("支援のための情報共有",),
                            method=ConsentMethod.written, obtained_by="shakyo",
                            given_on=given_on),
        )

    async def withdraw(self, case_id: str = "c1", consent_id: str = "k1",
                       on: date | None = None) -> None:
        await self.append(ConsentWithdrawn(case_id=case_id, consent_id=consent_id,
                                           withdrawn_on=on or date.today()))

    # ----- what the meeting service appends -------------------------------------------
    async def meeting(self, meeting_id: str, members: tuple[str, ...],
                      kind: MeetingKind = MeetingKind.support_plan) -> None:
        await self.append(MeetingScheduled(
            meeting_id=meeting_id, kind=kind, regular=False, convened_by="shakyo",
            scheduled_for=datetime(2026, 6, 1, 1, 0, tzinfo=UTC), members=members))

    async def table(self, meeting_id: str, case_id: str = "c1", plan_id: str | None = None,
                    version: int | None = None, asks: tuple[Ask, ...] = (Ask.approve_plan,),
                    item_id: str = "i1") -> None:
        await self.append(CaseTabled(meeting_id=meeting_id, item_id=item_id, case_id=case_id,
                                     asks=asks, plan_id=plan_id, plan_version=version))

    async def acknowledge(self, meeting_id: str, agency: str) -> None:
        await self.append(ConfidentialityAcknowledged(meeting_id=meeting_id, agency_id=agency,
                                                      acknowledged_on=D), actor=agency)

    async def held(self, meeting_id: str, attendees: tuple[str, ...],
                   items: tuple[ItemAttendance, ...] | None = None) -> None:
        """Held; by default everyone attended for the one item ``i1`` (case ``c1``)."""
        if items is None:
            items = (ItemAttendance(item_id="i1", case_id="c1", agencies=attendees),)
        await self.append(MeetingHeld(meeting_id=meeting_id, held_on=date(2026, 6, 1),
                                      attendees=attendees, item_attendance=items))

    async def decide(self, meeting_id: str, decision: Decision, decision_id: str,
                     case_id: str = "c1", **kw: Any) -> None:
        await self.append(DecisionRecorded(
            meeting_id=meeting_id, decision_id=decision_id, item_id=kw.pop("item_id", "i1"),
            case_id=case_id, decision=decision, reason=kw.pop("reason", "会議で合意"),
            decided_on=kw.pop("decided_on", date(2026, 6, 1)), **kw))

    # ----- agencies' commands -----------------------------------------------------------
    async def send(self, agency: str, command: str, payload: dict[str, Any]) -> dict:
        return await send(self.nc, self.topology, agency, command, payload)

    async def case_events(self, case_id: str = "c1") -> list[str]:
        return [e.type for e in (await self.store.load("case", case_id)).envelopes]


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
