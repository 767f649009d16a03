"""The projection runner against a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json

import nats.aio.msg
import nats.errors
import pytest
from sqlalchemy import Engine

from eventstore.db import kit_metadata, make_engine, read_checkpoint, write_checkpoint
from eventstore.projection import ProjectionRunner, RunnerOptions
from eventstore.reader import BatchReader
from eventstore.store import EventStore
from tests.kit.fakes import CountingProjection, agency_event

FAST = RunnerOptions(
    batch=50, fetch_timeout=0.2, backoff=(0.01, 0.02, 0.05), catchup_idle=0.5
)


async def publish_agencies(store: EventStore, ids: list[str]) -> int:
    seqs = []
    for agency_id in ids:
        seqs += await store.append([agency_event(agency_id, f"name-{agency_id}")])
    return seqs[-1]


def rows(engine: Engine, projection: CountingProjection) -> list[tuple]:
    with engine.begin() as conn:
        return projection.rows(conn)


@pytest.fixture
def engine(db_url: str):
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


async def test_a_running_projection_applies_every_event_once(nc, topology, store, engine):
    projection = CountingProjection()
    runner = ProjectionRunner(nc, topology, projection, engine, options=FAST)
    await runner.start()
    last = await publish_agencies(store, [f"a{i}" for i in range(30)])
    await runner.wait_for(last)
    await runner.stop()
    assert len(rows(engine, projection)) == 30
    assert all(r[1] == 1 for r in rows(engine, projection))


async def test_rebuild_gives_exactly_the_rows_the_live_projection_had(nc, topology, store, engine):
    projection = CountingProjection()
    runner = ProjectionRunner(nc, topology, projection, engine, options=FAST)
    await runner.start()
    for i in range(20):
        await store.append([agency_event(f"r{i % 7}", f"v{i}", updated=i >= 7)])
    last = await runner.stream_last_seq()
    await runner.wait_for(last)
    live = rows(engine, projection)

    rate = await runner.rebuild()
    await runner.wait_for(last)
    await runner.stop()
    assert rows(engine, projection) == live
    assert rate > 0
    with engine.begin() as conn:
        assert read_checkpoint(conn, projection.name) == last


async def test_a_rebuild_skips_undecoded_the_event_types_a_projection_does_not_use(
    nc, topology, store, engine
):
    class RegisteredOnly(CountingProjection):
        event_types = frozenset({"AgencyRegistered"})

        def apply(self, conn, env, ctx):
            assert env.type == "AgencyRegistered", "a skipped type reached apply"
            super().apply(conn, env, ctx)

    projection = RegisteredOnly()
    for i in range(12):
        await store.append([agency_event(f"s{i % 4}", f"v{i}", updated=i >= 4)])
    last = await store_last(store)
    runner = ProjectionRunner(nc, topology, projection, engine, options=FAST)
    await runner.rebuild()
    await runner.stop()
    assert len(rows(engine, projection)) == 4
    assert (runner.applied, runner.skipped) == (4, 8)  # every event counted, once
    with engine.begin() as conn:
        assert read_checkpoint(conn, projection.name) == last


async def test_a_rebuild_decodes_effect_only_types_only_after_their_mark(
    nc, topology, store, engine
):
    seen: list[tuple[int, str]] = []

    class UpdatesAfterTheMark(CountingProjection):
        event_types = frozenset({"AgencyRegistered"})
        effect_types = frozenset({"AgencyUpdated"})  # e.g. notices, sent once, ever
        effect_mark = "test.effects"

        def apply(self, conn, env, ctx):
            seen.append((ctx.seq, env.type))
            super().apply(conn, env, ctx)

    for i in range(12):
        await store.append([agency_event(f"e{i % 4}", f"v{i}", updated=i >= 4)])
    projection = UpdatesAfterTheMark()
    runner = ProjectionRunner(nc, topology, projection, engine, options=FAST)
    await asyncio.to_thread(kit_metadata.create_all, engine)
    with engine.begin() as conn:  # the side effects of events up to 9 were done before
        write_checkpoint(conn, "test.effects", 9)
    await runner.rebuild()
    await runner.stop()
    updates = [seq for seq, kind in seen if kind == "AgencyUpdated"]
    assert updates == [10, 11, 12]  # 5–9 skipped undecoded: at or below the mark
    assert (runner.applied, runner.skipped) == (7, 5)
    with engine.begin() as conn:
        assert read_checkpoint(conn, projection.name) == 12


async def store_last(store: EventStore) -> int:
    info = await store.js.stream_info(store.topology.events_stream)
    return int(info.state.last_seq)


async def test_a_crash_after_commit_before_ack_has_no_double_effect(
    nc, topology, store, engine, monkeypatch
):
    # First life: commits every batch but never acknowledges (it "dies" before the ack).
    projection = CountingProjection()
    acks: list[int] = []

    async def no_ack(self: nats.aio.msg.Msg) -> None:
        acks.append(1)

    monkeypatch.setattr(nats.aio.msg.Msg, "ack", no_ack)
    first = ProjectionRunner(nc, topology, projection, engine, options=FAST)
    await first.start()
    last = await publish_agencies(store, [f"c{i}" for i in range(15)])
    await first.wait_for(last)
    await first.stop()
    monkeypatch.undo()
    assert acks, "the first runner should have tried to ack"

    # Second life keeps the old consumer (its ack floor is 0, so everything is redelivered):
    # only the database checkpoint stands between a redelivery and a double count.
    second = ProjectionRunner(nc, topology, projection, engine, options=FAST)

    async def keep_consumer(self: ProjectionRunner):
        return await self.js.pull_subscribe_bind(
            durable=self.durable, stream=topology.events_stream
        )

    monkeypatch.setattr(ProjectionRunner, "_durable", keep_consumer)
    calls_before = projection.calls
    await second.start()
    more = await publish_agencies(store, ["c-late"])
    await second.wait_for(more)
    await second.stop()
    assert projection.calls == calls_before + 1  # redelivered messages were skipped
    assert all(r[1] == 1 for r in rows(engine, projection))
    assert len(rows(engine, projection)) == 16


async def test_poison_messages_go_to_the_dead_letter_stream_and_the_rest_is_projected(
    nc, topology, store, engine
):
    projection = CountingProjection(fail_on_names={"always-fails"})
    runner = ProjectionRunner(nc, topology, projection, engine, options=FAST)
    await runner.start()
    js = nc.jetstream()
    await publish_agencies(store, ["p1"])
    await js.publish(topology.event_subject("agency", "p2", "AgencyRegistered"), b"{not json")
    bad_type = json.loads(agency_event("p3").model_dump_json())
    bad_type["event"]["type"] = "NoSuchEvent"
    await js.publish(
        topology.event_subject("agency", "p3", "NoSuchEvent"), json.dumps(bad_type).encode()
    )
    await store.append([agency_event("p4", "always-fails")])
    last = await publish_agencies(store, ["p5", "p6"])
    await runner.wait_for(last, timeout=15)
    await runner.stop()

    assert [r[0] for r in rows(engine, projection)] == ["p1", "p5", "p6"]
    info = await js.stream_info(topology.dlq_stream)
    assert info.state.messages == 3
    errors = []
    for seq in range(1, 4):
        msg = await js.get_msg(topology.dlq_stream, seq)
        assert msg.headers["Tsunagu-Projection"] == "counting"
        errors.append(msg.headers["Tsunagu-Error"])
    assert "not JSON" in errors[0]
    assert "unknown event type 'NoSuchEvent'" in errors[1]
    assert "cannot apply always-fails" in errors[2]
    assert runner.dead_lettered == 3


async def test_the_projection_resumes_after_the_server_is_killed_and_restarted(
    nats_server, nc, topology, store, engine
):
    projection = CountingProjection()
    runner = ProjectionRunner(nc, topology, projection, engine, options=FAST)
    await runner.start()
    await publish_agencies(store, [f"k{i}" for i in range(10)])
    nats_server.restart()  # SIGKILL, then the same port and store dir
    # Wait until this client is back and JetStream answers: a publish buffered while the
    # client still thought it was connected would otherwise race its own retry.
    for _ in range(200):
        try:
            await nc.jetstream().stream_info(topology.events_stream)
            break
        except Exception:
            await asyncio.sleep(0.1)
    last = 0
    for i in range(10, 20):
        # The same envelope on every attempt: a retry after a lost ack is de-duplicated
        # by its Msg-Id instead of storing a second event.
        env = agency_event(f"k{i}")
        for attempt in range(50):
            try:
                last = (await store.append([env]))[0]
                break
            except Exception:
                await asyncio.sleep(0.1 * (attempt + 1))
    await runner.wait_for(last, timeout=30)
    await runner.stop()
    stored = [s.envelope.aggregate_id for s in await store.read(topology.events_subjects)]
    assert sorted(stored) == sorted(f"k{i}" for i in range(20)), stored  # nothing stored twice
    assert len(rows(engine, projection)) == 20
    assert all(r[1] == 1 for r in rows(engine, projection)), rows(engine, projection)


async def test_a_batch_that_holds_the_same_message_twice_applies_it_once(
    nc, topology, store, engine
):
    projection = CountingProjection()
    runner = ProjectionRunner(nc, topology, projection, engine, options=FAST)
    await runner.start()  # creates the tables
    await runner.stop()
    seqs = [(await store.append([agency_event(f"d{i}")]))[0] for i in range(2)]
    items = []
    for seq in seqs:
        msg = await nc.jetstream().get_msg(topology.events_stream, seq)
        items.append(runner._item_from_raw(seq, msg.subject or "", msg.data or b""))
    # As a fetch that spans a server restart can return it: old deliveries and new ones.
    await runner.process([items[0], items[1], items[0], items[1]])
    assert rows(engine, projection) == [("d0", 1, "Agency"), ("d1", 1, "Agency")]
    assert runner.checkpoint == seqs[-1]


async def test_a_delivery_lost_in_transit_is_applied_after_resuming_from_the_checkpoint(
    nc, topology, store, engine
):
    projection = CountingProjection()
    runner = ProjectionRunner(nc, topology, projection, engine, options=FAST)
    await runner.start()
    await runner.wait_for(await publish_agencies(store, ["l-first"]))
    js = nc.jetstream()
    # A second subscriber on the runner's own durable consumer: what the server sends it
    # never reaches the runner, as when the server dies with a batch on the wire. Without a
    # resume, the runner's next AckAll would acknowledge that message unapplied.
    thief = await js.pull_subscribe_bind(durable=runner.durable, stream=topology.events_stream)
    async with runner._paused:  # the runner holds l-1 and has no pull request waiting
        await publish_agencies(store, ["l-1"])
        await asyncio.sleep(FAST.fetch_timeout * 3)
        taking = asyncio.create_task(thief.fetch(1, timeout=5))
        await asyncio.sleep(0.1)
        await publish_agencies(store, ["l-2"])
        stolen = await taking
    await thief.unsubscribe()
    await runner.wait_for(await publish_agencies(store, ["l-3"]), timeout=30)
    await runner.stop()
    ids = ["l-first", "l-1", "l-2", "l-3"]

    assert [m.metadata.sequence.stream for m in stolen] == [3]  # l-2 never reached it
    assert runner.resyncs >= 1
    assert sorted(r[0] for r in rows(engine, projection)) == sorted(ids)
    assert all(r[1] == 1 for r in rows(engine, projection))


async def test_a_rebuild_that_loses_deliveries_on_the_way_reads_them_again(
    nc, topology, store, engine, monkeypatch
):
    projection = CountingProjection()
    runner = ProjectionRunner(nc, topology, projection, engine, options=FAST)
    ids = [f"g{i}" for i in range(150)]
    seqs = [(await store.append([agency_event(i)]))[0] for i in ids]
    # Catch-up has no acks, so nothing would resend a message that never arrived (the
    # connection dropped while it was on the wire): one in the middle, and the last one.
    lose = {seqs[70], seqs[-1]}
    on_msg = BatchReader._on_msg

    async def losing(self: BatchReader, msg: nats.aio.msg.Msg) -> None:
        if not (msg.headers or {}).get("Status") and msg.metadata.sequence.stream in lose:
            lose.discard(msg.metadata.sequence.stream)
            return
        await on_msg(self, msg)

    monkeypatch.setattr(BatchReader, "_on_msg", losing)
    await runner.rebuild()

    assert not lose  # both were lost once
    assert runner.resyncs == 2
    assert sorted(r[0] for r in rows(engine, projection)) == sorted(ids)
    assert all(r[1] == 1 for r in rows(engine, projection))
    assert runner.checkpoint == seqs[-1]


async def test_a_large_backlog_is_caught_up_in_batches_without_acks(
    nc, topology, store, engine
):
    projection = CountingProjection()
    ids = [f"b{i}" for i in range(3000)]
    js = nc.jetstream()
    futures = [
        await js.publish_async(
            topology.event_subject("agency", i, "AgencyRegistered"),
            agency_event(i).model_dump_json().encode(),
        )
        for i in ids
    ]
    await asyncio.gather(*futures)
    runner = ProjectionRunner(
        nc, topology, projection, engine, options=RunnerOptions(catchup_threshold=100)
    )
    await runner.start()
    await runner.wait_for(3000, timeout=60)
    await runner.stop()
    assert len(rows(engine, projection)) == 3000


async def test_catch_up_over_several_aggregates_applies_each_of_theirs_once_and_skips_the_rest(
    nc, topology, store, engine
):
    # Several filter subjects make nats-server slow to deliver, so such a catch-up reads
    # every event and skips, undecoded, those of other aggregates (garbage here: never a
    # dead letter of this projection).
    projection = CountingProjection(aggregates=("agency", "person"))
    js = nc.jetstream()
    ids = [f"m{i}" for i in range(300)]
    for n, agency_id in enumerate(ids):
        await store.append([agency_event(agency_id, f"v{n}", updated=n >= 150)])
        if n % 3 == 0:
            await js.publish(topology.event_subject("case", f"c{n}", "CaseOpened"), b"not json")
    runner = ProjectionRunner(nc, topology, projection, engine, options=FAST)
    assert runner.catchup_filters == [topology.events_subjects]
    await runner.rebuild()
    assert runner.checkpoint == await runner.stream_last_seq() == 400
    assert runner.applied == 300 and runner.dead_lettered == 0
    assert [r[0] for r in rows(engine, projection)] == sorted(ids)
    assert all(r[1] == 1 for r in rows(engine, projection))


def test_a_failing_statement_never_shows_its_parameters(tmp_path):
    # Its message goes to logs and dead-letter headers; parameters may be personal data.
    from sqlalchemy import text

    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (name TEXT UNIQUE)"))
        conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": "山田花子"})
    with pytest.raises(Exception) as failure, engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": "山田花子"})
    assert "山田花子" not in str(failure.value)
    engine.dispose()


async def test_an_idle_consumer_whose_fetch_times_out_is_not_interrupted(
    nc, topology, store, engine
):
    """nats-py's fetch raises either its own TimeoutError or the built-in one (when the
    deadline runs out between its two pull requests): both mean "nothing yet"."""
    from structlog.testing import capture_logs

    runner = ProjectionRunner(nc, topology, CountingProjection(), engine, options=FAST)
    durable, timeouts = runner._durable, []

    async def durable_with_builtin_timeouts():  # type: ignore[no-untyped-def]
        psub = await durable()
        fetch = psub.fetch

        async def flaky_fetch(*args, **kwargs):  # type: ignore[no-untyped-def]
            if len(timeouts) < 3:
                timeouts.append(1)
                await asyncio.sleep(0.05)
                raise TimeoutError()
            return await fetch(*args, **kwargs)

        psub.fetch = flaky_fetch
        return psub

    runner._durable = durable_with_builtin_timeouts  # type: ignore[method-assign]
    with capture_logs() as logs:
        await runner.start()
        last = await publish_agencies(store, ["idle-1"])
        await runner.wait_for(last)
        await runner.stop()
    assert len(timeouts) == 3
    assert not [e for e in logs if "interrupted" in e.get("event", "")]


async def test_two_instances_catching_up_at_once_each_read_every_event(
    nc, topology, store, tmp_path
):
    """Two processes of one projection (a second `tsunagu run` by mistake, a bench beside a
    rebuild) catch up at the same time. Each must read the whole backlog or fail: one must
    not take over the other's catch-up consumer and report events it never read as done."""
    last = await publish_agencies(store, [f"c{i}" for i in range(400)])
    engines = [make_engine(f"sqlite:///{tmp_path / f'p{i}.sqlite'}") for i in (1, 2)]
    small = RunnerOptions(batch=5, fetch_timeout=0.2, backoff=(0.01, 0.02, 0.05),
                          catchup_idle=2.0, catchup_threshold=0)
    runners = [ProjectionRunner(nc, topology, CountingProjection(), e, options=small)
               for e in engines]
    try:
        await asyncio.gather(*(r.rebuild() for r in runners))
        for runner, eng in zip(runners, engines, strict=True):
            assert runner.checkpoint == last
            assert len(rows(eng, runner.projection)) == 400  # type: ignore[arg-type]
    finally:
        for eng in engines:
            eng.dispose()


async def test_two_instances_on_one_database_apply_each_event_once(nc, topology, store,
                                                                  db_url: str):
    """Two processes of one projection on the same database (a second `tsunagu run` by
    mistake) catch up side by side: each batch is applied by one of them, the other finds
    the checkpoint moved and skips it — never an event counted twice."""
    last = await publish_agencies(store, [f"d{i}" for i in range(300)])
    engines = [make_engine(db_url), make_engine(db_url)]
    small = RunnerOptions(batch=5, fetch_timeout=0.2, backoff=(0.01, 0.02, 0.05),
                          catchup_idle=2.0, catchup_threshold=0)
    projection = CountingProjection()
    projection.metadata.create_all(engines[0])  # deployed once, before either starts
    kit_metadata.create_all(engines[0])
    runners = [ProjectionRunner(nc, topology, projection, e, options=small) for e in engines]
    try:
        await asyncio.gather(*(r.start() for r in runners))
        await asyncio.gather(*(r.wait_for(last) for r in runners))
        assert {r[1] for r in rows(engines[0], projection)} == {1}
        assert len(rows(engines[0], projection)) == 300
    finally:
        for runner in runners:
            await runner.stop()
        for eng in engines:
            eng.dispose()
