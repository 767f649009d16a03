"""`tsunagu rebuild SERVICE [--to-seq N]`."""

from __future__ import annotations

import json


async def test_rebuild_replays_the_projection_and_reports_the_rate(platform, cli):
    last = 0
    for i in range(30):
        last = await platform.agency(f"rb{i % 10}", f"rb{i}")  # registered, renamed twice
    await platform.settle(last)
    engine = platform.runtime.engine
    assert platform.projection.count(engine, "rb3") == 3

    result = await cli("rebuild", "opsdemo", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    assert doc["result"]["opsdemo_seen"]["checkpoint"] == last
    assert doc["result"]["opsdemo_seen"]["events_per_s"] > 0
    assert platform.projection.count(engine, "rb3") == 3  # same rows, not doubled

    plain = await cli("rebuild", "opsdemo")
    assert plain.exit_code == 0, plain.output
    assert f"opsdemo_seen: rebuilt to seq {last}" in plain.stdout
    assert "events/s" in plain.stdout


async def test_rebuild_to_a_sequence_stops_there(platform, cli):
    last = 0
    for i in range(10):
        last = await platform.agency(f"to{i}")
    await platform.settle(last)
    result = await cli("rebuild", "opsdemo", "--to-seq", "4", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["result"]["opsdemo_seen"]["checkpoint"] == 4


async def test_rebuild_of_a_service_that_is_not_running_fails_clearly(cli, topology):
    typo = await cli("rebuild", "statz", "--timeout", "2")
    assert typo.exit_code == 1
    from tsunagu.services import SERVICES

    names = ", ".join(SERVICES)  # every registered service, notifier included
    assert "notifier" in names
    assert f"no service 'statz': the services are {names}" in " ".join(typo.output.split())
    down = await cli("rebuild", "meeting", "--timeout", "2")
    assert down.exit_code == 1
    assert "service 'meeting' is not running" in down.output
