"""Per-agency credentials on a real nats-server: what agency A may and may not do."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js.api import ConsumerConfig

from eventstore.service import ServiceSpec, build_app
from eventstore.settings import Settings
from eventstore.store import EventStore
from tests.deploy.conftest import Connect, Probe, Secured
from tests.helpers import register_agency
from tests.kit.test_commands import RenameAgency, rename
from tsunagu.deploy.client import agency_jetstream, open_feed

VIOLATION = "permissions violation"


async def refused(probe: Probe, action: Callable[[], Awaitable[Any]], subject: str) -> None:
    """The server answers ``action`` with a permissions violation naming ``subject``
    (the request itself would only time out, so we do not wait for that)."""
    task = asyncio.ensure_future(action())
    try:
        err = await probe.wait_for(f'"{subject}"')
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
    assert VIOLATION in err.lower()


def event_count(admin_js: Any, stream: str) -> Awaitable[int]:
    async def count() -> int:
        return int((await admin_js.stream_info(stream)).state.messages)

    return count()


@pytest.fixture
async def admin(connect: Connect):
    nc, _ = await connect("admin", "deploy")
    return nc


@pytest.fixture
async def kit_service(provisioned: Secured, admin, tmp_path: Path):
    """The kit's toy command service, running with the *service* credentials."""
    store = EventStore(admin, provisioned.topology)
    for agency in ("A", "B", "R", "Q"):
        if not (await store.load("agency", agency)).events:
            await register_agency(store, agency)
    settings = Settings(
        nats_url=provisioned.url, prefix=provisioned.topology.prefix, data_dir=tmp_path,
        nats_nkey_seed=provisioned.creds["service:kittest"],
    )
    spec = ServiceSpec(name="kittest", commands={"kit_test_rename": (RenameAgency, rename)})
    app, runtime = build_app(spec, settings)
    async with app:
        yield runtime


async def send(nc: Any, subject: str, payload: dict) -> dict:
    msg = await nc.request(subject, json.dumps(payload).encode(), timeout=5)
    return json.loads(msg.data)


async def test_agency_a_may_not_send_a_command_as_agency_b(
    connect: Connect, provisioned: Secured, kit_service, admin
):
    topo = provisioned.topology
    js = admin.jetstream()
    before = await event_count(js, topo.events_stream)
    nc, probe = await connect("agency", "A")
    subject = topo.command_subject("B", "kit_test_rename")
    body = json.dumps({"command_id": "as-b", "agency_id": "B", "name": "hijacked"}).encode()
    await refused(probe, lambda: nc.request(subject, body, timeout=5), subject)
    assert await event_count(js, topo.events_stream) == before
    assert (await EventStore(admin, topo).load("agency", "B")).envelopes[-1].event.name == "B"


async def test_agency_a_may_not_subscribe_to_agency_b_feed_or_the_event_subjects(
    connect: Connect, provisioned: Secured
):
    topo = provisioned.topology
    nc, probe = await connect("agency", "A")
    for subject in (f"{topo.prefix}.feed.B.>", topo.events_subjects, f"{topo.prefix}.>",
                    "_INBOX.>", "_INBOX.agency.B.>"):
        await refused(probe, lambda s=subject: nc.subscribe(s), subject)
        assert "subscription to" in (await probe.wait_for(f'"{subject}"'))


async def test_agency_a_may_not_read_the_event_stream(connect: Connect, provisioned: Secured):
    topo = provisioned.topology
    s = topo.events_stream
    nc, probe = await connect("agency", "A")
    js = nc.jetstream(timeout=5)
    attempts: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
        (f"$JS.API.STREAM.INFO.{s}", lambda: js.stream_info(s)),
        (f"$JS.API.STREAM.MSG.GET.{s}", lambda: js.get_msg(s, 1)),
        (f"$JS.API.DIRECT.GET.{s}", lambda: js.get_msg(s, 1, direct=True)),
        (f"$JS.API.CONSUMER.CREATE.{s}.spy.{topo.events_subjects}",
         lambda: js.add_consumer(
             s, ConsumerConfig(name="spy", filter_subject=topo.events_subjects))),
        (f"$JS.API.CONSUMER.DURABLE.CREATE.{s}.spy",
         lambda: js.add_consumer(s, ConsumerConfig(durable_name="spy"))),
        (f"$JS.API.CONSUMER.CREATE.{s}", lambda: js.add_consumer(s, ConsumerConfig())),
        (f"{topo.prefix}.events.agency.A.AgencyUpdated",
         lambda: js.publish(f"{topo.prefix}.events.agency.A.AgencyUpdated", b"{}")),
    ]
    for subject, action in attempts:
        await refused(probe, action, subject)


@pytest.mark.parametrize("which", ["key_bucket", "command_bucket"])
async def test_agency_a_may_not_read_the_key_store_or_command_receipts(
    connect: Connect, provisioned: Secured, which: str
):
    topo = provisioned.topology
    bucket = getattr(topo, which)
    nc, probe = await connect("agency", "A")
    js = nc.jetstream(timeout=5)
    await refused(probe, lambda: js.key_value(bucket), f"$JS.API.STREAM.INFO.KV_{bucket}")
    await refused(probe, lambda: js.get_msg(f"KV_{bucket}", 1, direct=True),
                  f"$JS.API.DIRECT.GET.KV_{bucket}")
    await refused(probe, lambda: nc.subscribe(f"$KV.{bucket}.>"), f"$KV.{bucket}.>")


async def test_agency_a_may_not_create_change_or_delete_any_feed_consumer(
    connect: Connect, provisioned: Secured
):
    """The platform creates ``feed-A``; the agency only pulls, acks and reads its info."""
    topo = provisioned.topology
    feed = topo.feed_stream
    b_feed = f"{topo.prefix}.feed.B.>"
    nc, probe = await connect("agency", "A")
    js = nc.jetstream(timeout=5)
    for name, filter_ in (("feed-A", b_feed), ("feed-B", b_feed),
                          ("feed-A", f"{topo.prefix}.feed.A.>")):
        await refused(
            probe,
            lambda n=name, f=filter_: js.add_consumer(
                feed, ConsumerConfig(name=n, filter_subject=f)),
            f"$JS.API.CONSUMER.CREATE.{feed}.{name}.{filter_}",
        )
    await refused(
        probe,
        lambda: js.add_consumer(feed, ConsumerConfig(durable_name="feed-A", filter_subject=b_feed)),
        f"$JS.API.CONSUMER.DURABLE.CREATE.{feed}.feed-A",
    )
    await refused(probe, lambda: js.delete_consumer(feed, "feed-A"),
                  f"$JS.API.CONSUMER.DELETE.{feed}.feed-A")
    # Nor pulling from B's consumer.
    next_b = f"$JS.API.CONSUMER.MSG.NEXT.{feed}.feed-B"
    await refused(probe, lambda: nc.request(next_b, b"1"), next_b)


async def test_agency_a_commands_work_and_its_feed_consumer_gets_only_its_feed(
    connect: Connect, provisioned: Secured, kit_service, admin
):
    topo = provisioned.topology
    ajs = admin.jetstream()
    for agency, case in (("A", "c1"), ("B", "c2"), ("A", "c3")):
        await ajs.publish(topo.feed_subject(agency, case, "opened"), case.encode())

    nc, probe = await connect("agency", "A")
    reply = await send(nc, topo.command_subject("A", "kit_test_rename"),
                       {"command_id": "a-own", "agency_id": "A", "name": "A renamed"})
    assert reply["ok"], reply
    psub = await open_feed(nc, topo, "A")
    msgs = await psub.fetch(10, timeout=2)
    assert [m.data for m in msgs] == [b"c1", b"c3"]
    for m in msgs:
        await m.ack_sync()
    info = await agency_jetstream(nc, topo).consumer_info(topo.feed_stream, "feed-A")
    assert info.num_ack_pending == 0
    assert probe.errors == []


async def test_a_revoked_agency_is_disconnected_and_refused_afterwards(
    connect: Connect, provisioned: Secured, kit_service, admin
):
    topo = provisioned.topology
    nc, _ = await connect("agency", "R", allow_reconnect=False)
    ok = await send(nc, topo.command_subject("R", "kit_test_rename"),
                    {"command_id": "r-1", "agency_id": "R", "name": "R before"})
    assert ok["ok"]

    provisioned.auth.revoke("agency", "R")
    provisioned.cluster.reload()

    async def closed() -> None:
        while not nc.is_closed:  # noqa: ASYNC110 (nats.py exposes no closed event)
            await asyncio.sleep(0.05)

    await asyncio.wait_for(closed(), 10)
    with pytest.raises((nats.errors.Error, OSError)):
        await nats.connect(provisioned.url, nkeys_seed=str(provisioned.creds["agency:R"]),
                           allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2)
    # Everyone else is unaffected by the reload.
    a, _ = await connect("agency", "A")
    again = await send(a, topo.command_subject("A", "kit_test_rename"),
                       {"command_id": "a-after", "agency_id": "A", "name": "A after"})
    assert again["ok"]


async def test_rotating_an_agency_s_key_refuses_the_old_seed_and_accepts_the_new(
    connect: Connect, provisioned: Secured, kit_service, admin
):
    topo = provisioned.topology
    old, _ = await connect("agency", "Q", allow_reconnect=False)
    new_creds = provisioned.creds_dir / "agency-Q-rotated.nk"
    provisioned.auth.issue("agency", "Q", new_creds)
    provisioned.cluster.reload()

    async def closed() -> None:
        while not old.is_closed:  # noqa: ASYNC110 (nats.py exposes no closed event)
            await asyncio.sleep(0.05)

    await asyncio.wait_for(closed(), 10)
    with pytest.raises((nats.errors.Error, OSError)):
        await nats.connect(provisioned.url, nkeys_seed=str(provisioned.creds["agency:Q"]),
                           allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2)
    provisioned.creds["agency:Q"] = new_creds
    q, _ = await connect("agency", "Q")
    reply = await send(q, topo.command_subject("Q", "kit_test_rename"),
                       {"command_id": "q-rotated", "agency_id": "Q", "name": "Q rotated"})
    assert reply["ok"], reply


async def test_the_operator_user_reads_state_but_not_events_keys_or_commands(
    connect: Connect, provisioned: Secured
):
    topo = provisioned.topology
    nc, probe = await connect("operator", "ops")
    js = nc.jetstream(timeout=5)
    assert (await js.stream_info(topo.events_stream)).config.name == topo.events_stream
    await refused(probe, lambda: js.get_msg(topo.events_stream, 1, direct=True),
                  f"$JS.API.DIRECT.GET.{topo.events_stream}")
    await refused(probe, lambda: js.key_value(topo.key_bucket),
                  f"$JS.API.STREAM.INFO.KV_{topo.key_bucket}")
    subject = topo.command_subject("A", "kit_test_rename")
    await refused(probe, lambda: nc.request(subject, b"{}"), subject)
    await refused(probe, lambda: js.delete_stream(topo.events_stream),
                  f"$JS.API.STREAM.DELETE.{topo.events_stream}")
    # No event at all, not even an audit record of its own acts (the service that settles
    # a dead letter records its discard), and no deleting a letter or an event.
    for forged in (topo.event_subject("agency", "x", "AgencyRegistered"),
                   topo.event_subject("audit", "a1", "PersonalDataRevealed"),
                   topo.event_subject("audit", "a2", "DeadLetterDiscarded")):
        await refused(probe, lambda s=forged: nc.request(s, b"{}", timeout=1), forged)
    for stream in (topo.events_stream, topo.dlq_stream):
        await refused(probe, lambda s=stream: js.delete_msg(s, 1),
                      f"$JS.API.STREAM.MSG.DELETE.{stream}")


async def test_a_projection_runs_with_only_the_service_credentials(
    connect: Connect, provisioned: Secured, admin, tmp_path: Path
):
    from eventstore.db import make_engine
    from eventstore.projection import ProjectionRunner, RunnerOptions
    from tests.kit.fakes import CountingProjection

    topo = provisioned.topology
    store = EventStore(admin, topo)
    await register_agency(store, "P1")
    last = await last_seq(store)
    nc, probe = await connect("service", "kittest")
    engine = make_engine(f"sqlite:///{tmp_path / 'p.sqlite'}")
    # catchup_threshold=0: the ordered-consumer catch-up path runs too, not only the durable.
    runner = ProjectionRunner(nc, topo, CountingProjection(), engine,
                              options=RunnerOptions(fetch_timeout=0.2, catchup_threshold=0))
    await runner.start()
    try:
        await runner.wait_for(last)
        await register_agency(store, "P2")
        more = await last_seq(store)
        await runner.wait_for(more)
    finally:
        await runner.stop()
        engine.dispose()
    assert probe.errors == []


async def test_the_operator_reads_the_disclosure_log_and_knows_itself_but_nobody_can_forge_it(
    connect: Connect, provisioned: Secured, admin
):
    from eventstore.disclosure import Disclosure, DisclosureLog
    from tsunagu.ops import disclosures

    topo = provisioned.topology
    d = Disclosure.new(agency="A", person_id="p1", case_id="c1", fields=["subject.name"],
                       basis={"kind": "consent", "consent_id": "k1"}, channel="feed")
    await DisclosureLog(admin, topo).record(d)
    nc, probe = await connect("operator", "ops")
    assert [r.record_id for r in await disclosures.read(nc, topo, person_id="p1")] == [
        d.record_id]
    who = await disclosures.operator_identity(nc)
    assert who.startswith("U") and who != disclosures.UNAUTHENTICATED  # its nkey
    # Reveals and discards are recorded under that identity, not a typed-in name.
    from tsunagu.ops.audit import attested_operator

    assert await attested_operator(nc, "mallory") == who
    assert probe.errors == []
    # Neither an operator nor an agency can write (forge) a record: only services record.
    forged = d.model_copy(update={"record_id": "forged"})
    await refused(probe, lambda: nc.publish(forged.subject(topo), forged.to_bytes()),
                  forged.subject(topo))
    agency, probe_a = await connect("agency", "A")
    await refused(probe_a, lambda: agency.publish(forged.subject(topo), forged.to_bytes()),
                  forged.subject(topo))


async def test_an_operator_query_names_the_operator_by_its_credentials_and_agencies_cannot_ask(
    connect: Connect, provisioned: Secured, tmp_path: Path
):
    topo = provisioned.topology

    async def whoami(rt: Any, operator: str, args: dict) -> str:
        return operator

    settings = Settings(nats_url=provisioned.url, prefix=topo.prefix, data_dir=tmp_path,
                        nats_nkey_seed=provisioned.creds["service:kittest"])
    spec = ServiceSpec(name="kittoy", operator_queries={"person_record": whoami})
    app, _runtime = build_app(spec, settings)
    subject = f"{topo.prefix}.admin.kittoy.person_record"
    async with app:
        nc, probe = await connect("operator", "ops")
        # Its replies can only reach the private inbox its credentials may read.
        assert (await send(nc, subject, {})) == {"ok": True, "result": "ops"}
        agency, probe_a = await connect("agency", "A")
        await refused(probe_a, lambda: agency.request(subject, b"{}"), subject)
    assert probe.errors == []


async def last_seq(store: EventStore) -> int:
    return int((await store.js.stream_info(store.topology.events_stream)).state.last_seq)
