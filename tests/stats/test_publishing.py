"""Publishing StatsReportPublished on demand and at month end; late events flag corrections;
every refusal says why and appends nothing."""

from __future__ import annotations

from datetime import date

from contracts.stats import StatsReportPublished
from services.stats.domain import figures_sha256, last_day_of_previous_month
from services.stats.publishing import PUBLISH_EVERY_ENV, publish_month_end, today_jst
from tests.helpers import ask, eventually, send
from tests.stats.small import enrolled_person, last_seq, start_intake


async def published(store, topology) -> list[StatsReportPublished]:
    stored = await store.read(f"{topology.prefix}.events.stats.*.*")
    return [s.envelope.event for s in stored if isinstance(s.envelope.event, StatsReportPublished)]


async def start(nc, topology, store, services):
    runtime = (await services("stats"))["stats"]
    await start_intake(services, store)
    return runtime


def publish(as_of: str, command_id: str = "pub-1") -> dict:
    return {"command_id": command_id, "as_of": as_of}


async def test_publishing_on_demand_stores_the_report_the_query_gives(
    nc, topology, store, services, service_db
):
    await start(nc, topology, store, services)
    await enrolled_person(store, 1, date(2025, 6, 1), birth=date(1970, 1, 1))
    reply = await send(nc, topology, "shakyo", "publish_stats_report", publish("2025-11-30"))
    assert reply["ok"], reply
    (event,) = await published(store, topology)
    assert event.as_of == date(2025, 11, 30)
    assert event.corrects == ()
    query = await ask(nc, topology, "shakyo", "stats_report", {"as_of": "2025-11-30"})
    assert figures_sha256(event.report) == figures_sha256(query["result"])
    assert event.report["report_id"] == event.report_id == reply["ids"]["stats_id"]

    # The same command again gets the original reply; the same figures again are refused.
    again = await send(nc, topology, "shakyo", "publish_stats_report", publish("2025-11-30"))
    assert again["ok"] and again["replayed"]
    before = await last_seq(nc, topology)
    other = await send(nc, topology, "shakyo", "publish_stats_report",
                       publish("2025-11-30", "pub-2"))
    assert other["error"]["code"] == "already_published"
    assert event.report_id in other["error"]["message"]
    assert await last_seq(nc, topology) == before


async def test_publishing_is_refused_for_an_unknown_agency_or_a_future_date(
    nc, topology, store, services, service_db
):
    await start(nc, topology, store, services)
    before = await last_seq(nc, topology)
    unknown = await send(nc, topology, "nobody", "publish_stats_report", publish("2025-11-30"))
    assert unknown["error"]["code"] == "forbidden"
    assert "'nobody'" in unknown["error"]["message"]
    assert unknown["error"]["details"] == {"agency_id": "nobody"}
    future = await send(nc, topology, "shakyo", "publish_stats_report",
                        publish("2099-01-01", "pub-f"))
    assert future["error"]["code"] == "invalid"
    assert "as_of" in future["error"]["message"] and "future" in future["error"]["message"]
    bad = await send(nc, topology, "shakyo", "publish_stats_report",
                     publish("2025-13-01", "pub-b"))
    assert bad["error"]["code"] == "invalid"
    assert bad["error"]["details"][0]["field"] == "as_of"
    assert await last_seq(nc, topology) == before
    assert await published(store, topology) == []


async def test_a_late_event_about_a_published_month_flags_the_next_report_as_a_correction(
    nc, topology, store, services, service_db
):
    runtime = await start(nc, topology, store, services)
    await enrolled_person(store, 1, date(2025, 6, 1), birth=date(1970, 1, 1))
    october = await publish_month_end(runtime, today=date(2025, 11, 1))
    assert october is not None

    # Recorded in November, about 15 October: October's published figures are now wrong.
    two = await enrolled_person(store, 2, date(2025, 10, 15), birth=date(1990, 1, 1))
    await runtime.runners["stats"].wait_for(two.seq)
    november = await publish_month_end(runtime, today=date(2025, 12, 1))
    assert november is not None
    reports = {e.report_id: e for e in await published(store, topology)}
    assert reports[november].corrects == (october,)
    (correction,) = reports[november].report["corrections"]
    assert correction["as_of"] == "2025-10-31"
    query = await ask(nc, topology, "shakyo", "stats_report", {"as_of": "2025-10-31"})
    assert correction["figures_sha256"] == figures_sha256(query["result"])
    assert query["result"]["programs"][0]["persons"]["total"]["current"] == 2

    # A later report does not flag the same correction again.
    again = await send(nc, topology, "shakyo", "publish_stats_report", publish("2025-12-05"))
    assert again["ok"], again
    latest = {e.report_id: e for e in await published(store, topology)}[again["ids"]["stats_id"]]
    assert latest.corrects == ()


async def test_the_month_end_report_is_published_once_by_the_timer(
    nc, topology, store, services, service_db, monkeypatch
):
    monkeypatch.setenv(PUBLISH_EVERY_ENV, "0.05")
    runtime = (await services("stats"))["stats"]
    due = last_day_of_previous_month(today_jst())

    async def one_report() -> bool:
        return len(await published(store, topology)) == 1

    await eventually(one_report)
    # Later ticks find it already published; another call agrees and appends nothing.
    before = await last_seq(nc, topology)
    report_id = await publish_month_end(runtime, today_jst())
    (event,) = await published(store, topology)
    assert event.as_of == due and report_id is None
    assert await last_seq(nc, topology) == before
