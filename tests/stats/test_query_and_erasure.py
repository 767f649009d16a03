"""The stats_report query's refusals, erasure keeping counts, world dates over record dates."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from services.stats import tables
from services.stats.projection import erased_facts_cleared
from tests.helpers import ask, send
from tests.stats.small import (
    COORDINATOR,
    at,
    cell,
    enrolled_person,
    last_seq,
    migrate,
    start_intake,
)


async def test_the_report_query_refuses_a_missing_or_malformed_date_naming_the_field(
    nc, topology, services
):
    await services("stats")
    before = await last_seq(nc, topology)
    for args, rule in (({}, "required"), ({"as_of": "30/11/2025"}, "YYYY-MM-DD"),
                       ({"as_of": "2019-04-30"}, "令和")):
        reply = await ask(nc, topology, "shakyo", "stats_report", args)
        assert reply["ok"] is False
        assert reply["error"]["code"] == "invalid"
        assert "as_of" in reply["error"]["message"] and rule in reply["error"]["message"]
    assert await last_seq(nc, topology) == before


async def test_erasing_a_person_keeps_their_counts_live_and_after_rebuild(
    nc, topology, store, services, service_db
):
    runtime = (await services("stats"))["stats"]
    runner = runtime.runners["stats"]
    await start_intake(services, store)
    one = await enrolled_person(store, 1, date(2025, 6, 15), birth=date(1965, 6, 15))
    two = await enrolled_person(store, 2, date(2025, 7, 1), birth=None)
    await runner.wait_for(two.seq)
    args = {"as_of": "2025-11-30"}
    before = (await ask(nc, topology, "shakyo", "stats_report", args))["result"]
    assert cell(before, "multi_agency", "60_64", "female") == (1, 0)
    assert cell(before, "multi_agency", "unknown", "female") == (1, 0)

    erased = await send(nc, topology, "operator", "erase_person_data", {
        "command_id": "erase-1", "person_id": one.person_id, "reason": "本人の申出"})
    assert erased["ok"], erased
    await runner.wait_for(erased["events"][-1]["seq"])
    with runtime.engine.connect() as conn:
        assert erased_facts_cleared(conn, one.person_id)
        assert conn.execute(select(tables.erased.c.person_id)).scalars().all() == [
            one.person_id]
    after = (await ask(nc, topology, "shakyo", "stats_report", args))["result"]
    assert cell(after, "multi_agency", "60_64", "female") == (1, 0)

    await runner.rebuild()
    rebuilt = (await ask(nc, topology, "shakyo", "stats_report", args))["result"]
    assert rebuilt["programs"] == before["programs"]


async def test_counts_follow_world_dates_not_when_events_were_recorded(
    nc, topology, store, services, service_db
):
    runtime = (await services("stats"))["stats"]
    await start_intake(services, store)
    # Recorded today (2026), about an enrollment that started in 2024 and ended in March 2025.
    one = await enrolled_person(store, 1, date(2024, 5, 1), birth=date(1990, 3, 3))
    ended = await migrate(nc, topology, COORDINATOR, "end_enrollment", {
        "command_id": "end-1", "occurred_at": at(date(2025, 3, 31)), "case_id": one.case_id,
        "enrollment_id": one.enrollment_id, "ended_on": "2025-03-31", "reason": "終結"})
    await runtime.runners["stats"].wait_for(ended["events"][-1]["seq"])
    report = (await ask(nc, topology, "shakyo", "stats_report", {"as_of": "2025-11-30"}))["result"]
    assert cell(report, "multi_agency", "30s", "female") == (0, 1)
