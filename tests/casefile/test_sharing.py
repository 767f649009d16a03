"""Each agency's feed and view contain exactly what consent allows: personal data only
while a valid consent covers it as a member, or as a bound member of a 支援会議 on the case.
Runs on SQLite and PostgreSQL (``service_db``)."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import create_engine, select
from structlog.testing import capture_logs

from contracts.meeting import Decision, MeetingKind
from services.casefile import tables
from tests.casefile.world import (
    NAME,
    World,
    assessment_payload,
    contains_secret,
    feed,
    plan_payload,
    raw_feed,
    settle,
)
from tests.helpers import ask


@pytest.fixture
async def casefile(service_db, services):
    return (await services("casefile"))["casefile"]


@pytest.fixture
async def world(nc, store, topology, services) -> World:
    return await World(nc, store, topology).setup(services)


def db_rows(url: str) -> dict[str, list[dict]]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return {t.name: [dict(r) for r in conn.execute(select(t)).mappings()]
                    for t in tables.metadata.sorted_tables}
    finally:
        engine.dispose()


def latest_views(messages: list[dict]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for m in messages:
        if "view" in m:
            out[m["view"]["case_id"]] = m["view"]
    return out


async def _approved_case(world: World, casefile, nc, topology) -> str:
    await world.triaged_case()
    await world.consent(agencies=("hokatsu", "shakyo"))
    assert (await world.send("shakyo", "invite_case_member", {
        "command_id": "inv", "case_id": world.id("c1"), "agency_id": "hellowork",
        "joined_on": "2026-05-02"}))["ok"]
    assert (await world.send("shakyo", "record_intake_assessment", assessment_payload("a")))["ok"]
    reply = await world.send("shakyo", "draft_plan", plan_payload("p"))
    assert reply["ok"], reply
    plan_id = (await world.store.load("case", world.id("c1"))).envelopes[-1].event.plan_id
    await world.meeting("m1", ("shakyo", "hokatsu"))
    await world.table("m1", plan_id=plan_id, version=1)
    await world.decide("m1", Decision.approve_plan, "d1", plan_id=plan_id, plan_version=1)
    await settle(nc, topology, casefile)
    return plan_id


async def test_each_agency_sees_exactly_what_consent_allows_in_feeds_views_rows_and_logs(
    world, casefile, nc, topology, service_db, caplog
):
    caplog.set_level(logging.DEBUG)
    with capture_logs() as logs:
        await _approved_case(world, casefile, nc, topology)
        covered = latest_views(await feed(nc, topology, "hokatsu"))[world.id("c1")]
        member_only = await feed(nc, topology, "hellowork")
        outsider = await feed(nc, topology, "hospital")
        view = await ask(nc, topology, "hellowork", "case_view", {"case_id": world.id("c1")})
        not_mine = await ask(nc, topology, "hospital", "case_view", {"case_id": world.id("c1")})
        timeline = await ask(nc, topology, "hellowork", "case_timeline",
                             {"case_id": world.id("c1")})

    # Covered by consent: the full view, personal data included.
    assert covered["redacted"] is False and covered["subject"]["personal"]["name"] == NAME
    assert covered["plans"][0]["personal"]["long_term_goal"]
    # A member the consent does not cover: case id, stage, its own role and tasks. Nothing else.
    assert member_only, "a member gets a feed"
    assert all(not contains_secret(json.dumps(m, ensure_ascii=False)) for m in member_only)
    last = latest_views(member_only)[world.id("c1")]
    assert set(last) == {"case_id", "stage", "my_roles", "my_tasks", "redacted"}
    assert last["stage"] == "support" and last["my_roles"][0]["role"] == "就労支援"
    assert last["my_tasks"][0]["task"] == "plan_role_period_ends"
    assert view["result"] == last | {"my_tasks": view["result"]["my_tasks"]}
    assert not contains_secret(json.dumps(view, ensure_ascii=False))
    # Not a member, not bound: no feed, no view (and no hint the case exists).
    assert outsider == []
    assert not_mine["error"]["code"] == "not_found"
    assert timeline["error"]["code"] == "forbidden"
    # Projection rows: personal data only in the personal columns, nowhere else.
    for name, rows in db_rows(service_db).items():
        for row in rows:
            clear = {k: v for k, v in row.items() if k not in ("personal", "event")}
            assert not contains_secret(repr(clear)), (name, clear)
    # Logs: never any personal data.
    assert not contains_secret(repr(logs)) and not contains_secret(caplog.text)


async def test_withdrawal_stops_sharing_from_that_moment(world, casefile, nc, topology):
    await _approved_case(world, casefile, nc, topology)
    before = await feed(nc, topology, "hokatsu")
    assert latest_views(before)[world.id("c1")]["redacted"] is False
    await world.withdraw()
    await settle(nc, topology, casefile)
    assert (await world.send("shakyo", "record_monitoring", {
        "command_id": "mon", "case_id": world.id("c1"), "recorded_on": "2026-11-01",
        "personal": {"progress": "撤回後の経過"}}))["ok"]
    await settle(nc, topology, casefile)
    after = await feed(nc, topology, "hokatsu")  # the same durable: only what is new
    assert len(after) == 1  # the feed keeps the current view: the withdrawal's was replaced
    assert all(m["view"]["redacted"] for m in after)
    assert not any(contains_secret(json.dumps(m, ensure_ascii=False)) or "撤回後" in
                   json.dumps(m, ensure_ascii=False) for m in after)
    view = await ask(nc, topology, "shakyo", "case_view", {"case_id": world.id("c1")})
    assert view["result"]["redacted"] is True


async def test_late_consent_gives_the_newly_covered_agency_the_current_state(
    world, casefile, nc, topology
):
    await _approved_case(world, casefile, nc, topology)
    assert latest_views(await feed(nc, topology, "hellowork"))[world.id("c1")]["redacted"] is True
    await world.consent(agencies=("hokatsu", "shakyo", "hellowork"), consent_id="k2")
    await settle(nc, topology, casefile)
    now = latest_views(await feed(nc, topology, "hellowork"))[world.id("c1")]
    assert now["redacted"] is False
    assert now["subject"]["personal"]["name"] == NAME
    assert now["stage"] == "support" and now["plans"][0]["approved_on"] == "2026-06-01"


async def test_bound_members_of_a_confidential_meeting_see_personal_data_without_consent(
    world, casefile, nc, topology
):
    await world.triaged_case()  # no consent at all
    assert (await world.send("shakyo", "record_intake_assessment", assessment_payload("a")))["ok"]
    await world.meeting("s1", ("shakyo", "hospital"), kind=MeetingKind.confidential)
    await world.table("s1", asks=("share_information",))
    await world.acknowledge("s1", "hospital")
    await world.held("s1", ("hospital",), items=())  # attending joins hospital to no case
    minutes = await world.send("shakyo", "record_minutes", {
        "command_id": "min1", "meeting_id": "s1", "text": "議事録:本人の病歴"})
    assert minutes["ok"], minutes
    await settle(nc, topology, casefile)

    bound = latest_views(await feed(nc, topology, "hospital"))[world.id("c1")]
    assert bound["redacted"] is False and bound["access"] == "confidential_meeting"
    assert bound["subject"]["personal"]["name"] == NAME
    assert bound["assessments"][0]["personal"]["situation"]
    for agency in ("shakyo", "hokatsu"):  # not acknowledged / not in the meeting, no consent
        msgs = await feed(nc, topology, agency)
        assert all(m["view"]["redacted"] for m in msgs if "view" in m), agency
    mine = (await ask(nc, topology, "hospital", "my_cases"))["result"]
    assert [(c["case_id"], c["name"]) for c in mine] == [(world.id("c1"), NAME)]
    # 支援会議 material itself never goes into any feed.
    assert not any("病歴" in m.decode() for m in await raw_feed(nc, topology))
