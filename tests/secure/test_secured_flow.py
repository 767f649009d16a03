"""The main flow in secured mode, as the product runs: every agency acts with its own
credentials and certificate from its own account, the services with theirs, the operator
erases. つなぐシート → triage → consent → case → meeting → decision → closure; queries;
each agency reads its feed through its own consumer."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import nats
import pytest
from nats.aio.client import Client

from services.referral.domain import person_id_for
from tests.helpers import eventually
from tests.secure.conftest import AGENCIES, Deployment
from tsunagu.deploy.client import open_feed


def today_jst() -> date:
    return (datetime.now(UTC) + timedelta(hours=9)).date()


def days_ago(n: int) -> str:
    return (today_jst() - timedelta(days=n)).isoformat()


class Agencies:
    """One connection per agency, each with that agency's credentials."""

    def __init__(self, d: Deployment) -> None:
        self.d, self.nc, self.n = d, {}, 0  # type: ignore[var-annotated]

    async def open(self) -> Agencies:
        for agency, _, _ in AGENCIES:
            self.nc[agency] = await self.d.connect("agency", agency)
        return self

    async def request(self, nc: Client, subject: str, payload: dict[str, Any]) -> dict:
        msg = await nc.request(subject, json.dumps(payload).encode(), timeout=10)
        return json.loads(msg.data)

    async def ok(self, agency: str, command: str, **payload: Any) -> dict:
        self.n += 1
        reply = await self.request(
            self.nc[agency], self.d.topology.command_subject(agency, command),
            {"command_id": f"sec-{self.n}", **payload})
        assert reply["ok"], (command, reply)
        return reply

    async def query(self, agency: str, name: str, **args: Any) -> dict:
        subject = f"{self.d.topology.prefix}.query.{agency}.{name}"
        return await self.request(self.nc[agency], subject, args)


async def _view(a: Agencies, agency: str, case_id: str) -> dict:
    return await a.query(agency, "case_view", case_id=case_id)


@pytest.mark.timeout(240)
async def test_the_whole_program_runs_in_secured_mode_with_each_party_on_its_own_credentials(
    deployment: Deployment,
):
    from contracts.case import NATIONAL_ASSESSMENT_ITEMS

    a = await Agencies(deployment).open()
    submitted = await a.ok(
        "hokatsu", "submit_referral", occurred_at=f"{days_ago(40)}T10:00:00+09:00",
        contact_route="phone", concerns=["income", "debt"], sex="male",
        personal={"name": "山田 太郎", "kana": "ヤマダ タロウ", "birth_date": "1975-04-02",
                  "phone": "090-1234-5678", "summary": "長期ひきこもり。"},
    )
    referral_id = submitted["ids"]["referral_id"]
    person_id = person_id_for("hokatsu", submitted["command_id"])
    triaged = await a.ok("fukushi", "triage_referral", referral_id=referral_id,
                         outcome="complex", triaged_on=days_ago(39))
    case_id = triaged["ids"]["case_id"]
    await a.ok("fukushi", "record_application", case_id=case_id, applied_on=days_ago(35),
               with_consent=True,
               consent={"agencies": ["fukushi", "hokatsu", "shakyo"], "purposes": ["支援調整"],
                        "method": "written", "given_on": days_ago(35),
                        "obtained_by_staff": "相談員A", "form_ref": "同意書-001"})
    items = {name: codes[0] for name, codes in NATIONAL_ASSESSMENT_ITEMS.items()}
    await a.ok("fukushi", "record_intake_assessment", case_id=case_id,
               assessed_on=days_ago(30), national_items=items,
               personal={"situation": "滞納三か月。"})
    await a.ok("fukushi", "draft_plan", case_id=case_id, drafted_on=days_ago(25),
               roles=[{"agency_id": "shakyo", "role": "家計改善"}],
               monitoring_on=days_ago(-30),
               personal={"long_term_goal": "自立", "short_term_goals": ["家計"],
                         "direction": "見守る"})

    async def plan_id() -> str | None:
        reply = await _view(a, "fukushi", case_id)
        plans = reply.get("result", {}).get("plans", []) if reply["ok"] else []
        return plans[0]["plan_id"] if plans else None

    async def approved() -> bool:
        reply = await _view(a, "fukushi", case_id)
        plans = reply.get("result", {}).get("plans", []) if reply["ok"] else []
        return bool(plans and plans[0]["approved_on"])

    await eventually(lambda: _truthy(plan_id()), timeout=30)
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    for asks, decisions in (
        (["approve_plan", "assign_lead"],
         [{"decision": "approve_plan", "reason": "適切"},
          {"decision": "assign_lead", "reason": "見守り", "lead_agency": "hokatsu"}]),
        (["close"], [{"decision": "close", "reason": "見通しがついた"}]),
    ):
        meeting = await a.ok("fukushi", "schedule_meeting", kind="support_plan",
                             scheduled_for=soon, members=["hokatsu", "shakyo"])
        meeting_id = meeting["ids"]["meeting_id"]
        extra = {"plan_id": await plan_id(), "plan_version": 1} if "approve_plan" in asks else {}
        await a.ok("fukushi", "table_case", meeting_id=meeting_id, case_id=case_id, asks=asks,
                   **extra)
        await a.ok("fukushi", "record_meeting_held", meeting_id=meeting_id,
                   held_on=today_jst().isoformat(), attendees=["fukushi", "hokatsu"])
        for decision in decisions:
            await a.ok("fukushi", "record_decision", meeting_id=meeting_id, item_id="item-1",
                       **decision)
        if "assign_lead" in asks:  # the decision reaches the case asynchronously
            await eventually(lambda: _truthy(approved()), timeout=30)
            await a.ok("hokatsu", "record_monitoring", case_id=case_id,
                       recorded_on=today_jst().isoformat(), personal={"progress": "安定"})

    async def closed_for(agency: str) -> bool:
        reply = await _view(a, agency, case_id)
        return reply["ok"] and "closed" in str(reply["result"])

    await eventually(lambda: closed_for("hokatsu"), timeout=30)
    assert "山田" in str((await _view(a, "hokatsu", case_id))["result"])
    outsider = await _view(a, "police", case_id)
    assert not outsider["ok"] and "山田" not in str(outsider)

    # Feeds: the lead reads its own feed through its own consumer; the police has none of it.
    feed = await open_feed(a.nc["hokatsu"], deployment.topology, "hokatsu")
    msgs = await feed.fetch(50, timeout=5)
    assert any(case_id in m.subject for m in msgs)
    assert all(m.subject.startswith(f"{deployment.topology.prefix}.feed.hokatsu.") for m in msgs)
    for m in msgs:
        await m.ack_sync()
    police_feed = await open_feed(a.nc["police"], deployment.topology, "police")
    with pytest.raises((TimeoutError, nats.errors.TimeoutError)):
        await police_feed.fetch(1, timeout=1)

    # Erasure by the operator, with the operator's own credentials (not the admin's).
    ops = await deployment.connect("operator", "ops")
    msg = await ops.request(deployment.topology.command_subject("operator", "erase_person_data"),
                            json.dumps({"command_id": "sec-erase", "person_id": person_id,
                                        "reason": "本人の申出"}).encode(), timeout=10)
    assert json.loads(msg.data)["ok"], msg.data

    async def erased() -> bool:
        reply = await _view(a, "hokatsu", case_id)
        return reply["ok"] and "山田" not in str(reply["result"])

    await eventually(erased, timeout=30)


async def _truthy(value: Any) -> bool:
    return bool(await value)
