"""Seed 004's tables come out of the stats service cell for cell, from a realistic history
sent through the real nats-server — in order, shuffled, and after a rebuild."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from nats.aio.client import Client

from contracts.envelope import Envelope
from eventstore.codec import encode
from eventstore.crypto import KeyRing
from eventstore.topology import Topology
from services.stats.domain import figures_sha256
from services.stats.render import to_csv, to_markdown, to_table
from services.stats.xlsx import to_xlsx
from tests.helpers import ask
from tests.stats.checks import check_csv, check_json, check_table, check_xlsx
from tests.stats.history import Truth, build_history


async def publish_all(nc: Client, topology: Topology, envelopes: list[Envelope]) -> int:
    """Append fast: asynchronous publishes, acknowledgements awaited together. Direct on
    purpose: the projection is tested in a shuffled order no command sequence produces."""
    js = nc.jetstream()
    futures = [
        await js.publish_async(
            topology.event_subject(e.aggregate, e.aggregate_id, e.type), encode(e),
            headers={"Nats-Msg-Id": str(e.event_id)},
        )
        for e in envelopes
    ]
    acks = await asyncio.gather(*futures)
    return max(a.seq for a in acks)


async def seed_report(nc, topology, services, *, shuffle: bool) -> tuple[dict, Truth, Any]:
    runtime = (await services("stats"))["stats"]
    history = await build_history(await KeyRing.open(nc, topology))
    envelopes = list(history.envelopes)
    if shuffle:
        random.Random(11).shuffle(envelopes)
    last = await publish_all(nc, topology, envelopes)
    runner = runtime.runners["stats"]
    await runner.wait_for(last, timeout=60)
    reply = await ask(nc, topology, "shakyo", "stats_report", {"as_of": "2025-11-30"})
    assert reply["ok"], reply
    return reply["result"], history.truth, runner


async def test_the_report_as_of_2025_11_30_reproduces_seed_004_in_every_format(
    nc, topology, services, service_db
):
    report, truth, runner = await seed_report(nc, topology, services, shuffle=False)
    check_json(report, truth)
    check_table(to_table(report), truth)
    check_csv(to_csv(report), truth)
    check_xlsx(to_xlsx(report), truth)
    assert "| 65歳以上 | 23 (23) | 23 (14) | 0 (0) |" in to_markdown(report)

    # Rebuilding the projection from the stream gives the same report.
    await runner.rebuild()
    again = await ask(nc, topology, "shakyo", "stats_report", {"as_of": "2025-11-30"})
    assert figures_sha256(again["result"]) == figures_sha256(report)


async def test_the_same_history_arriving_shuffled_gives_the_same_report(
    nc, topology, services, service_db
):
    report, truth, _ = await seed_report(nc, topology, services, shuffle=True)
    check_json(report, truth)
