"""Feed notices end to end, by commands, with the real services over NATS: each agency
learns from its own feed what concerns it, and nothing personal it may not see."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import TypeAdapter

from contracts.feed import FeedNotice
from contracts.jst import JST
from eventstore.service import build_app
from tests.helpers import eventually, register_agency, send

pytestmark = pytest.mark.timeout(120)
NAME = "山田 太郎"
REASON = "母の介護で本人が疲弊している"
FEED_MESSAGE: TypeAdapter[Any] = TypeAdapter(FeedNotice)


def today() -> date:
    return datetime.now(JST).date()


def days_ago(n: int) -> str:
    return (today() - timedelta(days=n)).isoformat()


class Flow:
    def __init__(self, nc, topology) -> None:
        self.nc, self.topology, self.n = nc, topology, 0

    async def ok(self, agency: str, command: str, **payload: Any) -> dict:
        self.n += 1
        reply = await send(self.nc, self.topology, agency, command,
                           {"command_id": f"notice-{self.n}", **payload})
        assert reply["ok"], (command, reply)
        return reply

    async def referral(self, by: str = "hokatsu") -> str:
        reply = await self.ok(by, "submit_referral", contact_route="phone",
                              concerns=["income"], occurred_at=f"{days_ago(20)}T10:00:00+09:00",
                              personal={"name": NAME, "phone": "090-1234-5678",
                                        "summary": "長期ひきこもり"})
        return str(reply["ids"]["referral_id"])


async def feed(nc, topology, agency: str) -> list[dict]:
    """Everything now in ``agency``'s feed, with the kind header beside the body."""
    js = nc.jetstream()
    sub = await js.pull_subscribe(
        f"{topology.prefix}.feed.{agency}.>", stream=topology.feed_stream,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE))
    out: list[dict] = []
    try:
        while True:
            msgs = await sub.fetch(100, timeout=0.5)
            for m in msgs:  # every message is one of the documented kinds, header and all
                body = json.loads(m.data)
                assert (m.headers or {}).get("Tsunagu-Kind") == body["kind"], m.subject
                FEED_MESSAGE.validate_python(body)
                out.append({"subject": m.subject, "header": body["kind"], **body})
    except TimeoutError:
        pass
    finally:
        await sub.unsubscribe()
    return out


async def notice(nc, topology, agency: str, kind: str, **match: Any) -> dict:
    found: list[dict] = []

    async def arrived() -> bool:
        found[:] = [m for m in await feed(nc, topology, agency) if m.get("kind") == kind
                    and all(m.get(k) == v for k, v in match.items())]
        return bool(found)

    await eventually(arrived, timeout=20)
    assert found[0]["header"] == kind
    return found[0]


@pytest.fixture
async def agencies(store):
    for agency, category, triage in [
        ("fukushi", "その他行政の担当部署", True), ("hokatsu", "地域包括支援センター", False),
        ("shakyo", "社会福祉協議会", False), ("hellowork", "ハローワーク", False),
        ("police", "警察", False),
    ]:
        await register_agency(store, agency, category=category, can_triage=triage)


async def test_a_returned_referral_reaches_the_referrers_feed_with_the_reason(
    nc, topology, agencies, services
):
    await services("referral", "casefile")
    flow = Flow(nc, topology)
    rid = await flow.referral()
    await flow.ok("fukushi", "triage_referral", referral_id=rid, outcome="returned",
                  reason="包括で継続対応が適当")
    got = await notice(nc, topology, "hokatsu", "referral_returned", referral_id=rid)
    assert got["reason"] == "包括で継続対応が適当" and got["triaged_by"] == "fukushi"
    assert got["subject"] == f"{topology.prefix}.feed.hokatsu.{rid}.referral_returned"
    await notice(nc, topology, "hokatsu", "referral_received", referral_id=rid)
    await notice(nc, topology, "fukushi", "referral_received", referral_id=rid)  # triages
    assert not [m for m in await feed(nc, topology, "shakyo") if m.get("referral_id") == rid]


async def test_an_ordinary_triage_reaches_the_referrer_and_the_assigned_agency(
    nc, topology, agencies, services
):
    await services("referral", "casefile")
    flow = Flow(nc, topology)
    rid = await flow.referral()
    await flow.ok("fukushi", "triage_referral", referral_id=rid, outcome="ordinary",
                  assigned_agency="shakyo")
    told = await notice(nc, topology, "hokatsu", "referral_triaged", referral_id=rid)
    assert told["outcome"] == "ordinary" and told["assigned_agency"] == "shakyo"
    handed = await notice(nc, topology, "shakyo", "referral_assigned", referral_id=rid)
    assert NAME not in json.dumps(handed, ensure_ascii=False)
    assert not [m for m in await feed(nc, topology, "police") if m.get("referral_id") == rid]


async def _case(flow: Flow, consent_for: list[str]) -> str:
    rid = await flow.referral()
    case_id = (await flow.ok("fukushi", "triage_referral", referral_id=rid, outcome="complex",
                             triaged_on=days_ago(19)))["ids"]["case_id"]
    await flow.ok("fukushi", "record_application", case_id=case_id, applied_on=days_ago(18),
                  with_consent=True,
                  consent={"agencies": consent_for, "purposes": ["支援調整"], "method": "written",
                           "given_on": days_ago(18), "obtained_by_staff": "相談員A",
                           "form_ref": "同意書-001"})
    return str(case_id)


async def _table(flow: Flow, case_id: str, members: list[str]) -> str:
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    mid = (await flow.ok("fukushi", "schedule_meeting", kind="support_plan",
                         scheduled_for=soon, members=members))["ids"]["meeting_id"]
    await flow.ok("fukushi", "table_case", meeting_id=mid, case_id=case_id, asks=["close"])
    return str(mid)


async def _close(flow: Flow, mid: str, members: list[str], reason: str) -> None:
    await flow.ok("fukushi", "record_meeting_held", meeting_id=mid, held_on=today().isoformat(),
                  attendees=["fukushi", *members])
    await flow.ok("fukushi", "record_decision", meeting_id=mid, item_id="item-1",
                  decision="close", reason=reason)


async def _decide(flow: Flow, case_id: str, members: list[str], reason: str) -> str:
    mid = await _table(flow, case_id, members)
    await _close(flow, mid, members, reason)
    return mid


async def test_invitations_and_decisions_reach_the_agencies_and_reasons_only_with_consent(
    nc, topology, agencies, services
):
    await services("referral", "casefile", "meeting")
    flow = Flow(nc, topology)
    case_id = await _case(flow, consent_for=["fukushi", "hokatsu"])
    mid = await _decide(flow, case_id, ["hokatsu", "hellowork"], REASON)
    invited = await notice(nc, topology, "hellowork", "meeting_invitation", meeting_id=mid)
    assert invited["convened_by"] == "fukushi" and "title" not in invited
    assert not [m for m in await feed(nc, topology, "police") if m.get("meeting_id") == mid]

    # fukushi (coordinator, member, covered by consent) gets the decision with its reason.
    decided = await notice(nc, topology, "fukushi", "case_decision", case_id=case_id)
    assert decided["decision"] == "close" and decided["reason"] == REASON
    # The convener hears the outcome: the case took it (ids, the case event and its date).
    applied = await notice(nc, topology, "fukushi", "decision_applied", case_id=case_id)
    assert (applied["decision_id"], applied["event_type"]) == (decided["decision_id"],
                                                               "CaseClosed")
    assert applied["on"] == today().isoformat() and "reason" not in applied


async def test_a_decision_not_applied_reaches_the_convener_and_uncovered_agencies_get_no_reason(
    nc, topology, agencies, services
):
    await services("referral", "casefile", "meeting")
    flow = Flow(nc, topology)
    case_id = await _case(flow, consent_for=["fukushi"])
    first = await _table(flow, case_id, ["hokatsu"])
    second = await _table(flow, case_id, ["hokatsu"])
    await _close(flow, first, ["hokatsu"], REASON)
    await notice(nc, topology, "fukushi", "case_decision", case_id=case_id)
    await _close(flow, second, ["hokatsu"], REASON)  # the case is closed by now
    missed = await notice(nc, topology, "fukushi", "decision_not_applied", meeting_id=second)
    assert missed["case_id"] == case_id and missed["reason"]
    assert missed["code"] == "already_closed"
    # hokatsu referred the person but is not covered by the consent: no reason, no name.
    told = await notice(nc, topology, "hokatsu", "decision_not_applied", meeting_id=second)
    assert told["decision_id"] == missed["decision_id"] and told["code"] == "already_closed"
    for m in await feed(nc, topology, "hokatsu"):
        if m.get("kind") in ("case_decision", "decision_not_applied"):
            assert "reason" not in m or m["reason"] is None, m
            assert REASON not in json.dumps(m, ensure_ascii=False)


async def _approved_plan(flow: Flow, case_id: str, store, monitoring_on: date,
                         role_ends: date) -> None:
    from contracts.case import NATIONAL_ASSESSMENT_ITEMS

    items = {name: codes[0] for name, codes in NATIONAL_ASSESSMENT_ITEMS.items()}
    await flow.ok("fukushi", "record_intake_assessment", case_id=case_id,
                  assessed_on=days_ago(15), national_items=items,
                  personal={"situation": "滞納三か月"})
    await flow.ok("fukushi", "draft_plan", case_id=case_id, drafted_on=days_ago(14),
                  roles=[{"agency_id": "shakyo", "role": "家計改善",
                          "period_to": role_ends.isoformat()}],
                  monitoring_on=monitoring_on.isoformat(),
                  personal={"long_term_goal": "自立", "short_term_goals": ["家計"],
                            "direction": "見守る"})
    plan_id = next(e for e in (await store.load("case", case_id)).envelopes
                   if e.type == "PlanDrafted").event.plan_id
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    mid = (await flow.ok("fukushi", "schedule_meeting", kind="support_plan",
                         scheduled_for=soon, members=["shakyo"]))["ids"]["meeting_id"]
    await flow.ok("fukushi", "table_case", meeting_id=mid, case_id=case_id,
                  asks=["approve_plan"], plan_id=plan_id, plan_version=1)
    await flow.ok("fukushi", "record_meeting_held", meeting_id=mid,
                  held_on=today().isoformat(), attendees=["fukushi", "shakyo"])
    await flow.ok("fukushi", "record_decision", meeting_id=mid, item_id="item-1",
                  decision="approve_plan", reason="適切")


async def test_a_monitoring_reminder_is_sent_on_its_day_once_even_across_a_restart(
    nc, topology, agencies, services, settings, store
):
    from services.casefile.app import build_spec

    due = today() + timedelta(days=30)
    clock = [datetime.combine(due - timedelta(days=1), datetime.min.time(), JST)]
    raw: list[str] = []  # every publish, before JetStream's duplicate window could hide one

    async def heard(msg) -> None:
        raw.append(msg.subject)

    await nc.subscribe(f"{topology.prefix}.feed.*.*.task_due.>", cb=heard)

    async def start_casefile():
        app, _ = build_app(build_spec(settings, clock=lambda: clock[0], reminder_every=0.1),
                           settings)
        await app.start()
        return app

    await services("referral", "meeting")
    casefile = await start_casefile()
    flow = Flow(nc, topology)
    case_id = await _case(flow, consent_for=["fukushi", "shakyo"])
    await _approved_plan(flow, case_id, store, due, due + timedelta(days=1))

    # shakyo joins (its plan role) right after the approval: the tasks are in by then.
    await notice(nc, topology, "fukushi", "case_joined", case_id=case_id, agency_id="shakyo")
    assert raw == []  # the day before: nothing due

    clock[0] = datetime.combine(due, datetime.min.time(), JST) + timedelta(hours=9)
    got = await notice(nc, topology, "fukushi", "task_due", case_id=case_id, task="monitoring")
    assert got["due_on"] == due.isoformat() and NAME not in json.dumps(got)
    await casefile.stop()

    casefile = await start_casefile()  # restarted, and the next day's reminder comes due
    clock[0] += timedelta(days=1)
    await notice(nc, topology, "shakyo", "task_due", case_id=case_id, task="plan_role_end")
    await nc.flush()
    assert sorted(s.split(".task_due.")[1].split(".")[0] for s in raw) == [
        "monitoring", "plan_role_end"]
    await casefile.stop()
