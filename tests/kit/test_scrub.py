"""Erased bytes leave nats-server's files and the databases (eventstore.scrub, KeyRing.destroy).

nats-server keeps a record removed by a limit or a purge in its block file (only its index
forgets it); these tests read the stream's files to prove what is really gone."""

from __future__ import annotations

import asyncio
import base64
import uuid
from pathlib import Path

import pytest
from nats.js.api import StorageType, StreamConfig
from sqlalchemy import select

from eventstore.crypto import KeyRing
from eventstore.db import kit_metadata, make_engine, outbox
from eventstore.scrub import (
    Copy,
    erase_subject,
    outbox_stash,
    publish_copies,
    rewrite_stream,
    scrub_database,
)


def stream_files(nats_server, stream: str) -> bytes:
    root = Path(nats_server.store_dir)
    return b"".join(p.read_bytes() for p in root.rglob(f"streams/{stream}/**/*")
                    if p.is_file())


@pytest.fixture
async def feedlike(nc):
    """A stream like the feed: one message per subject."""
    name = f"S{uuid.uuid4().hex[:10]}"
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=name, subjects=[f"{name}.>"],
                                     storage=StorageType.FILE, max_msgs_per_subject=1))
    return name


async def test_a_view_replaced_under_the_subject_limit_stays_in_the_file_until_rewritten(
    nc, nats_server, feedlike
):
    js = nc.jetstream()
    await js.publish(f"{feedlike}.a.c1.case", "full view 山田花子".encode())
    await js.publish(f"{feedlike}.a.c1.case", b"redacted view")
    await js.publish(f"{feedlike}.a.c2.case", b"other case")
    assert "山田花子".encode() in stream_files(nats_server, feedlike)  # why rewriting exists

    held: list[Copy] = []

    async def stash(copies: list[Copy]) -> None:
        held.extend(copies)

    kept, dropped = await rewrite_stream(js, feedlike, f"{feedlike}.>",
                                         lambda s: s.endswith("c2.case"), stash)
    await publish_copies(js, feedlike, held)
    assert (kept, dropped) == (1, 1)
    files = stream_files(nats_server, feedlike)
    assert "山田花子".encode() not in files and b"other case" not in files
    last = await js.get_last_msg(feedlike, f"{feedlike}.a.c1.case")
    assert last.data == b"redacted view"


async def test_erasing_a_subject_overwrites_its_records(nc, nats_server, feedlike):
    js = nc.jetstream()
    for i in range(3):
        await js.publish(f"{feedlike}.chunk.{i}", f"診断書の本文{i}".encode())
    assert await erase_subject(js, feedlike, f"{feedlike}.chunk.*") == 3
    assert "診断書".encode() not in stream_files(nats_server, feedlike)


def test_a_copy_never_overtakes_a_view_committed_while_the_stream_was_rewritten(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'p.sqlite'}")
    kit_metadata.create_all(engine)
    with engine.begin() as conn:  # the projection committed a newer view of c1 meanwhile
        conn.execute(outbox.insert(), {"owner": "casefile", "subject": "f.a.c1.case",
                                       "msg_id": "feed-a-c1-9", "data": b"newer"})
    copies = [Copy("f.a.c1.case", b"older", "feed-a-c1-5~rwX", {}),
              Copy("f.a.c2.case", b"current", "feed-a-c2-7~rwX", {})]
    asyncio.run(outbox_stash(engine, "casefile")(copies))
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.subject, outbox.c.data)
                            .order_by(outbox.c.id)).all()
    assert [(s, bytes(d)) for s, d in rows] == [("f.a.c1.case", b"newer"),
                                                ("f.a.c2.case", b"current")]


def test_a_sqlite_database_keeps_no_deleted_text_after_scrubbing(tmp_path):
    path = tmp_path / "p.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    kit_metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(outbox.insert(), {"owner": "x", "subject": "s", "msg_id": "m",
                                       "data": "鰐淵葵の住所".encode()})
    with engine.begin() as conn:
        conn.execute(outbox.delete())

    def files() -> bytes:
        return b"".join(p.read_bytes() for p in tmp_path.iterdir())

    assert "鰐淵葵".encode() in files()  # still in the WAL before the checkpoint
    scrub_database(engine, ["tsunagu_outbox"])
    assert "鰐淵葵".encode() not in files()


async def test_a_destroyed_key_leaves_no_bytes_in_the_bucket_files(
    nc, nats_server, topology
):
    ring = await KeyRing.open(nc, topology)
    key = await ring.get_or_create("person-x")
    await ring.destroy("person-x")
    files = stream_files(nats_server, f"KV_{topology.key_bucket}")
    assert key not in files and base64.b64encode(key) not in files
    assert await KeyRing(ring.kv).get("person-x") is None


async def test_scrubbing_waits_for_an_open_snapshot_and_then_leaves_no_old_row(
    db_url, tmp_path
):
    """An open transaction may still see the old row versions: PostgreSQL's VACUUM FULL
    copies them into the new file, SQLite cannot truncate the WAL under a reader. The scrub
    waits (and tries again) until the transaction ends, then nothing of the row is left."""
    engine = make_engine(db_url)
    kit_metadata.create_all(engine)
    secret = f"鰐淵葵の住所{uuid.uuid4().hex[:6]}".encode()
    with engine.begin() as conn:
        conn.execute(outbox.insert(), {"owner": "x", "subject": "s", "msg_id": "m",
                                       "data": secret})
    reader = engine.connect()
    if engine.dialect.name == "sqlite":
        reader.exec_driver_sql("BEGIN")  # pysqlite would not begin for a SELECT
    else:
        reader.begin()
        reader.exec_driver_sql("SELECT txid_current()")
    reader.execute(select(outbox.c.id)).all()  # holds its snapshot
    with engine.begin() as conn:
        conn.execute(outbox.delete())
    scrub = asyncio.create_task(asyncio.to_thread(scrub_database, engine, ["tsunagu_outbox"]))
    await asyncio.sleep(1.0)
    assert not scrub.done()  # still waiting for the reader
    reader.rollback()
    reader.close()
    await asyncio.wait_for(scrub, 30)
    assert secret not in await asyncio.to_thread(_stored_bytes, engine, db_url, tmp_path)
    engine.dispose()


def _stored_bytes(engine, db_url: str, tmp_path: Path) -> bytes:
    if engine.dialect.name == "sqlite":
        return b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    from tests.casefile.test_erasure_on_disk import postgres_files

    return b"".join(postgres_files(db_url).values())
