"""Helpers for the meeting tests: a command driver, and cases, consents and plans sent as
commands to the referral and casefile services (``case_through_commands``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from nats.aio.client import Client

from contracts.base import DomainEvent
from eventstore.service import Runtime
from eventstore.store import EventStore
from eventstore.topology import Topology
from tests.helpers import ask, send

COORD = "coord"  # 福祉相談課: the coordination, convenes meetings
HOKATSU = "hokatsu"  # 地域包括支援センター
KIKAN = "kikan"  # 基幹相談支援センター
SHAKYO = "shakyo"  # 社会福祉協議会
OUTSIDER = "outsider"  # an agency invited to nothing


def soon(days: int = 3) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def today_jst() -> date:
    return (datetime.now(UTC) + timedelta(hours=9)).date()


class Driver:
    """Sends commands and queries as an agency; checks refusals append nothing."""

    def __init__(self, nc: Client, topology: Topology, store: EventStore, rt: Runtime) -> None:
        self.nc = nc
        self.topology = topology
        self.store = store
        self.rt = rt

    async def last_seq(self) -> int:
        info = await self.nc.jetstream().stream_info(self.topology.events_stream)
        return int(info.state.last_seq)

    async def send(self, agency: str, command: str, **payload: Any) -> dict:
        payload.setdefault("command_id", uuid.uuid4().hex)
        return await send(self.nc, self.topology, agency, command, payload)

    async def ok(self, agency: str, command: str, **payload: Any) -> dict:
        reply = await self.send(agency, command, **payload)
        assert reply["ok"], reply
        if reply["events"]:
            await self.rt.runners["meeting"].wait_for(max(e["seq"] for e in reply["events"]))
        return reply

    async def refused(self, agency: str, command: str, code: str, **payload: Any) -> dict:
        """The command is refused with ``code`` and the event log is unchanged."""
        before = await self.last_seq()
        reply = await self.send(agency, command, **payload)
        assert not reply["ok"], reply
        assert reply["error"]["code"] == code, reply["error"]
        assert await self.last_seq() == before
        return reply["error"]

    async def ask(self, agency: str, name: str, **args: Any) -> Any:
        reply = await ask(self.nc, self.topology, agency, name, args)
        assert reply["ok"], reply
        return reply["result"]

    async def ask_refused(self, agency: str, name: str, code: str, **args: Any) -> dict:
        before = await self.last_seq()
        reply = await ask(self.nc, self.topology, agency, name, args)
        assert not reply["ok"], reply
        assert reply["error"]["code"] == code, reply["error"]
        assert await self.last_seq() == before
        return reply["error"]

    # ---- meeting shortcuts ----------------------------------------------------------
    async def schedule(self, kind: str = "support_plan", members: tuple[str, ...] = (HOKATSU,),
                       **extra: Any) -> str:
        reply = await self.ok(COORD, "schedule_meeting", kind=kind, scheduled_for=soon(),
                              members=list(members), **extra)
        return str(reply["ids"]["meeting_id"])

    async def hold(self, meeting_id: str, attendees: tuple[str, ...] = (COORD, HOKATSU),
                   **extra: Any) -> dict:
        return await self.ok(COORD, "record_meeting_held", meeting_id=meeting_id,
                             held_on=today_jst().isoformat(), attendees=list(attendees), **extra)

    async def events_of(self, meeting_id: str) -> list[DomainEvent]:
        return [e.event for e in (await self.store.load("meeting", meeting_id)).envelopes]


# ---- cases through the referral and casefile services' commands -------------------------
@dataclass(frozen=True)
class CaseRef:
    case_id: str
    plan_id: str | None
    consent_id: str | None


async def case_through_commands(nc: Client, topology: Topology, services: Any, *,
                                consent: bool = True, plan: bool = True) -> CaseRef:
    """A referral (HOKATSU) triaged into a case by COORD, with a consent covering COORD,
    HOKATSU and KIKAN and a drafted plan (each optional), all sent as commands today."""
    await services("referral", "casefile")
    submitted = await _ok(nc, topology, HOKATSU, "submit_referral", contact_route="phone",
                          concerns=["income"],
                          personal={"summary": "概要", "phone": "090-0000-0000"})
    case_id = (await _ok(nc, topology, COORD, "triage_referral", outcome="complex",
                         referral_id=submitted["ids"]["referral_id"]))["ids"]["case_id"]
    consent_id = await consent_by_command(nc, topology, case_id) if consent else None
    plan_id = await plan_by_command(nc, topology, case_id) if plan else None
    return CaseRef(str(case_id), plan_id, consent_id)


async def consent_by_command(nc: Client, topology: Topology, case_id: str) -> str:
    """The 利用申込書 with consent (COORD, HOKATSU, KIKAN), recorded by COORD today."""
    today = today_jst().isoformat()
    applied = await _ok(nc, topology, COORD, "record_application", case_id=case_id,
                        applied_on=today, with_consent=True, consent={
                            "agencies": [COORD, HOKATSU, KIKAN],
                            "purposes": ["重層的支援会議での共有"], "method": "written",
                            "given_on": today, "obtained_by_staff": "相談員A",
                            "form_ref": "同意書-1"})
    return str(applied["ids"]["consent_id"])


async def plan_by_command(nc: Client, topology: Topology, case_id: str) -> str:
    """An intake assessment, then a drafted plan (HOKATSU watches over), by COORD today."""
    today = today_jst().isoformat()
    await _ok(nc, topology, COORD, "record_intake_assessment", case_id=case_id,
              assessed_on=today, personal={"situation": "状況"},
              national_items={"household": "with_children", "route": "agency",
                              "main_concern": "income", "urgency": "medium"})
    drafted = await _ok(nc, topology, COORD, "draft_plan", case_id=case_id, drafted_on=today,
                        roles=[{"agency_id": HOKATSU, "role": "見守り"}],
                        personal={"long_term_goal": "安定した生活",
                                  "short_term_goals": ["受診"], "direction": "多機関で支える"})
    return str(drafted["ids"]["plan_id"])


async def _ok(nc: Client, topology: Topology, agency: str, command: str, **body: Any) -> dict:
    reply = await send(nc, topology, agency, command,
                       {"command_id": f"case-{uuid.uuid4().hex[:12]}", **body})
    assert reply["ok"], (command, reply)
    return reply
