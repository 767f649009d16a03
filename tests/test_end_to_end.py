"""One person through the whole program, across all four services, by commands only:
つなぐシート → triage (重層案件) → 利用申込書 with consent → intake assessment → plan →
重層的支援会議 approves it and names the lead → monitoring → a second meeting closes the case
→ the statistics count it. Each agency sees exactly what it may."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tests.helpers import ask, eventually, register_agency, send


def today_jst() -> date:
    return (datetime.now(UTC) + timedelta(hours=9)).date()


def days_ago(n: int) -> str:
    return (today_jst() - timedelta(days=n)).isoformat()


class Flow:
    def __init__(self, nc, topology) -> None:
        self.nc, self.topology, self.n = nc, topology, 0

    async def ok(self, agency: str, command: str, **payload: Any) -> dict:
        self.n += 1
        reply = await send(self.nc, self.topology, agency, command,
                           {"command_id": f"e2e-{self.n}", **payload})
        assert reply["ok"], (command, reply)
        return reply

    async def query(self, agency: str, name: str, **args: Any) -> dict:
        return await ask(self.nc, self.topology, agency, name, args)


@pytest.mark.timeout(120)
async def test_a_person_goes_through_the_whole_program_and_is_counted(
    nc, topology, store, services
):
    from contracts.case import NATIONAL_ASSESSMENT_ITEMS

    for agency, category, triage in [
        ("fukushi", "その他行政の担当部署", True),  # 福祉相談課: coordinator
        ("hokatsu", "地域包括支援センター", False),
        ("shakyo", "社会福祉協議会", False),
        ("hellowork", "ハローワーク", False),
        ("police", "警察", False),  # never involved: must see nothing
    ]:
        await register_agency(store, agency, category=category, can_triage=triage)
    rt = await services("referral", "casefile", "meeting", "stats")
    flow = Flow(nc, topology)

    # 1. つなぐシート from the 地域包括支援センター.
    submitted = await flow.ok(
        "hokatsu", "submit_referral",
        occurred_at=f"{days_ago(40)}T10:00:00+09:00",
        contact_route="phone", concerns=["income", "debt", "withdrawal"], sex="male",
        personal={"name": "山田 太郎", "kana": "ヤマダ タロウ", "birth_date": "1975-04-02",
                  "phone": "090-1234-5678", "summary": "80代の母と同居。長期ひきこもり。"},
    )
    referral_id = submitted["ids"]["referral_id"]

    # 2. Triage: 重層案件 opens a 多機関協働 case.
    triaged = await flow.ok("fukushi", "triage_referral", referral_id=referral_id,
                            outcome="complex", triaged_on=days_ago(39))
    case_id = triaged["ids"]["case_id"]

    # 3. Application with consent covering the agencies that will work on it.
    await flow.ok("fukushi", "record_application", case_id=case_id, applied_on=days_ago(35),
                  with_consent=True,
                  consent={"agencies": ["fukushi", "hokatsu", "shakyo", "hellowork"],
                           "purposes": ["支援調整"], "method": "written",
                           "given_on": days_ago(35), "obtained_by_staff": "相談員A",
                           "form_ref": "同意書-001"})

    # 4. Intake assessment and a plan.
    items = {name: codes[0] for name, codes in NATIONAL_ASSESSMENT_ITEMS.items()}
    await flow.ok("fukushi", "record_intake_assessment", case_id=case_id,
                  assessed_on=days_ago(30), national_items=items,
                  personal={"situation": "母の年金で生活。滞納三か月。"})
    plan = await flow.ok(
        "fukushi", "draft_plan", case_id=case_id, drafted_on=days_ago(25),
        roles=[{"agency_id": "shakyo", "role": "家計改善"},
               {"agency_id": "hellowork", "role": "就労準備"}],
        monitoring_on=days_ago(-30),
        personal={"long_term_goal": "自立した生活", "short_term_goals": ["家計の見直し"],
                  "direction": "多機関で見守る"},
    )
    plan_id = next(e for e in (await store.load("case", case_id)).envelopes
                   if e.type == "PlanDrafted").event.plan_id  # type: ignore[attr-defined]
    assert plan["ok"]

    # 5. 重層的支援会議 approves the plan and names the lead agency.
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    meeting = await flow.ok("fukushi", "schedule_meeting", kind="support_plan",
                            scheduled_for=soon, members=["hokatsu", "shakyo", "hellowork"])
    meeting_id = meeting["ids"]["meeting_id"]
    await flow.ok("fukushi", "table_case", meeting_id=meeting_id, case_id=case_id,
                  asks=["approve_plan", "assign_lead"], plan_id=plan_id, plan_version=1)
    await flow.ok("fukushi", "record_meeting_held", meeting_id=meeting_id,
                  held_on=today_jst().isoformat(),
                  attendees=["fukushi", "hokatsu", "shakyo", "hellowork"])
    await flow.ok("fukushi", "record_decision", meeting_id=meeting_id, item_id="item-1",
                  decision="approve_plan", reason="目標と役割分担が適切")
    await flow.ok("fukushi", "record_decision", meeting_id=meeting_id, item_id="item-1",
                  decision="assign_lead", reason="日常の見守り", lead_agency="hokatsu")

    async def case_types() -> list[str]:
        return [e.type for e in (await store.load("case", case_id)).envelopes]

    await eventually(lambda: _has(case_types, "LeadAgencyAssigned"), timeout=20)
    assert "PlanApproved" in await case_types()

    # 6. Monitoring by the lead, then a second meeting decides closure (終結).
    await flow.ok("hokatsu", "record_monitoring", case_id=case_id,
                  recorded_on=today_jst().isoformat(), personal={"progress": "家計が安定"})
    closing = await flow.ok("fukushi", "schedule_meeting", kind="support_plan",
                            scheduled_for=soon, members=["hokatsu", "shakyo"])
    closing_id = closing["ids"]["meeting_id"]
    await flow.ok("fukushi", "table_case", meeting_id=closing_id, case_id=case_id,
                  asks=["close"])
    await flow.ok("fukushi", "record_meeting_held", meeting_id=closing_id,
                  held_on=today_jst().isoformat(), attendees=["fukushi", "hokatsu"])
    await flow.ok("fukushi", "record_decision", meeting_id=closing_id, item_id="item-1",
                  decision="close", reason="課題が整理され支援の見通しがついた")
    await eventually(lambda: _has(case_types, "CaseClosed"), timeout=20)
    assert "DecisionNotApplied" not in await case_types()

    # 7. Who sees what: members covered by consent see the person; the police see nothing.
    async def view(agency: str) -> dict:
        return await flow.query(agency, "case_view", case_id=case_id)

    await eventually(lambda: _closed_in_view(view), timeout=20)
    lead_view = await view("hokatsu")
    assert "山田" in str(lead_view["result"])
    outsider = await view("police")
    assert not outsider["ok"] and "山田" not in str(outsider)

    # 8. The statistics count the person once, in the right cell, with the plan and meetings.
    async def report() -> dict:
        reply = await flow.query("fukushi", "stats_report", as_of=today_jst().isoformat())
        assert reply["ok"], reply
        return reply["result"]

    await eventually(lambda: _counted(report), timeout=20)
    result = await report()
    multi = next(p for p in result["programs"] if p["program"] == "multi_agency")
    assert multi["persons"]["total"]["current"] == 1
    fifties = next(r for r in multi["persons"]["grid"] if r["age_band"] == "50s")
    assert fifties["male"]["current"] == 1
    assert multi["plans"]["current"] == 1
    linked = multi["linked_agencies"]["total"]["current"]
    assert linked == 4  # fukushi, hokatsu, shakyo, hellowork — never the police
    assert result["meetings"]["support_plan"]["current"] == 2
    assert result["cases_closed"]["current"] == 1
    assert rt  # all four services were running


async def _has(load, event_type: str) -> bool:
    return event_type in await load()


async def _closed_in_view(view) -> bool:
    reply = await view("hokatsu")
    return reply["ok"] and "closed" in str(reply["result"])


async def _counted(report) -> bool:
    result = await report()
    multi = next(p for p in result["programs"] if p["program"] == "multi_agency")
    return result["cases_closed"]["current"] == 1 and multi["plans"]["current"] == 1
