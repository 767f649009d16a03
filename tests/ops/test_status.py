"""`tsunagu status` against a real platform."""

from __future__ import annotations

import json

from nats.js.errors import NotFoundError

from eventstore.service import ServiceSpec, build_app
from tests.helpers import eventually, register_agency
from tests.ops.conftest import SERVICE, SeenProjection


async def test_status_shows_the_stream_each_consumer_its_lag_checkpoint_and_liveness(
    platform, cli, topology
):
    last = 0
    for i in range(5):
        last = await platform.agency(f"st{i}")
    await platform.settle(last)

    result = await cli("status", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["stream"]["name"] == topology.events_stream
    assert doc["stream"]["messages"] == 5
    assert doc["stream"]["last_seq"] == last
    assert doc["stream"]["replicas"] == 1
    [svc] = doc["services"]
    assert svc["name"] == SERVICE and svc["alive"] is True
    assert svc["projections"] == ["opsdemo_seen"]
    [proj] = doc["projections"]
    assert proj["service"] == SERVICE
    assert proj["checkpoint"] == last
    assert proj["consumer"] is True
    assert proj["pending"] == 0 and proj["redelivered"] == 0
    assert proj["dead_letters"] == 0
    assert proj["resyncs"] == 0


async def test_status_counts_dead_letters_per_projection_and_prints_a_table(platform, cli):
    platform.projection.poison.add("broken")
    seq = await platform.agency("bad1", "broken")
    await eventually(lambda: platform.runner.dead_lettered == 1, timeout=20)
    await platform.settle(seq)

    result = await cli("status")
    assert result.exit_code == 0, result.output
    assert "opsdemo_seen" in result.stdout
    assert "dead letters 1" in result.stdout
    doc = json.loads((await cli("status", "--json")).stdout)
    assert doc["projections"][0]["dead_letters"] == 1
    assert doc["dlq"]["messages"] == 1


async def test_a_consumer_whose_service_is_down_is_still_listed_with_its_lag(
    settings, nc, topology, store, cli
):
    app, _ = build_app(ServiceSpec(name=SERVICE, projections=[SeenProjection()]), settings)
    await app.start()
    js = nc.jetstream()

    async def consumer_exists() -> bool:
        try:
            await js.consumer_info(topology.events_stream, topology.durable("opsdemo_seen"))
            return True
        except NotFoundError:
            return False

    await eventually(consumer_exists)
    await app.stop()  # the durable consumer stays on the server
    await register_agency(store, "late")

    doc = json.loads((await cli("status", "--json", "--wait", "0.2")).stdout)
    assert doc["services"] == []
    [proj] = doc["projections"]
    assert proj["name"] == "opsdemo_seen" and proj["service"] is None
    assert proj["pending"] == 1


async def test_status_fails_clearly_when_nats_cannot_be_reached(cli):
    result = await cli("status", "--nats-url", "nats://127.0.0.1:1")
    assert result.exit_code == 1
    assert "cannot reach NATS" in result.output
