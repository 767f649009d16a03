"""`tsunagu case show ID --as AGENCY` prints exactly what that agency may see;
`tsunagu cases --as AGENCY` lists its cases; `tsunagu erase` is recorded."""

from __future__ import annotations

import asyncio
import json

import pytest
from typer.testing import CliRunner

from tests.casefile.world import NAME, PHONE, World, assessment_payload, settle
from tsunagu.cli import build


@pytest.fixture
async def casefile(services):
    return (await services("casefile"))["casefile"]


async def tsunagu(settings, *args: str, columns: int = 80):
    env = {"TSUNAGU_PREFIX": settings.prefix, "TSUNAGU_NATS_URL": settings.nats_url,
           "TSUNAGU_DATA_DIR": str(settings.data_dir), "COLUMNS": str(columns)}
    return await asyncio.to_thread(CliRunner().invoke, build(), list(args), env=env)


async def test_case_show_prints_what_the_agency_may_see_and_nothing_more(
    nc, store, topology, settings, casefile, services
):
    world = await World(nc, store, topology).setup(services)
    await world.triaged_case()
    await world.consent(agencies=("shakyo",))
    assert (await world.send("shakyo", "record_intake_assessment", assessment_payload("a")))["ok"]
    await settle(nc, topology, casefile)

    covered = await tsunagu(settings, "case", "show", world.id("c1"), "--as", "shakyo")
    assert covered.exit_code == 0, covered.output
    assert NAME in covered.output and PHONE in covered.output
    redacted = await tsunagu(settings, "case", "show", world.id("c1"), "--as", "hokatsu")
    assert redacted.exit_code == 0, redacted.output
    assert "redacted" in redacted.output and "アセスメント済" in redacted.output
    assert NAME not in redacted.output and PHONE not in redacted.output
    stranger = await tsunagu(settings, "case", "show", world.id("c1"), "--as", "hospital")
    assert stranger.exit_code == 1 and "not_found" in stranger.output
    listing = await tsunagu(settings, "cases", "--as", "hokatsu", "--json")
    assert listing.exit_code == 0 and json.dumps(world.id("c1")) in listing.output
    assert NAME not in listing.output

    unconfirmed = await tsunagu(settings, "erase", world.id("p1"), "--reason", "本人の申出")
    assert unconfirmed.exit_code == 2 and "--yes" in unconfirmed.output
    erased = await tsunagu(settings, "erase", world.id("p1"), "--reason", "本人の申出", "--yes")
    assert erased.exit_code == 0, erased.output
    assert "PersonDataErased" in erased.output
    again = await tsunagu(settings, "erase", world.id("p1"), "--reason", "again", "--yes")
    assert again.exit_code == 1 and "already erased" in again.output


async def test_cases_marks_a_past_monitoring_date_overdue_for_every_member(
    nc, store, topology, settings, casefile, services
):
    from contracts.meeting import Decision
    from tests.casefile.world import plan_payload

    world = await World(nc, store, topology).setup(services)
    await world.triaged_case()
    await world.consent(agencies=("hokatsu", "shakyo", "hellowork"))
    assert (await world.send("shakyo", "record_intake_assessment", assessment_payload("a")))["ok"]
    drafted = await world.send("shakyo", "draft_plan", plan_payload("p"))
    plan_id = (await world.store.load("case", world.id("c1"))).envelopes[-1].event.plan_id
    assert drafted["ok"]
    await world.meeting("m1", ("shakyo",))
    await world.table("m1", plan_id=plan_id, version=1)
    await world.decide("m1", Decision.approve_plan, "d1", plan_id=plan_id, plan_version=1)
    await settle(nc, topology, casefile)
    # The plan's monitoring date is 2026-08-01: past, and hellowork is not the lead.
    # The platform's case ids are long: a wider terminal keeps each date in one cell.
    listing = await tsunagu(settings, "cases", "--as", "hellowork", columns=120)
    assert listing.exit_code == 0, listing.output
    flat = "".join(listing.output.split()).replace("│", "")
    assert "2026-08-01（期限" in flat and "超過）" in flat  # folded within its cell
    assert "役割期間の終了" in flat
    assert "支援中" in listing.output
