"""Projection databases: SQLAlchemy Core, run synchronously one batch per worker-thread hop.

Measured here (shared/perf/BASELINE.md): per-statement async SQLite reaches ~1,300
events/s, the same Core code run synchronously in one thread hop per batch ~40,000.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Update,
    bindparam,
    create_engine,
    event,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import ClauseElement

from eventstore import fastsql

T = TypeVar("T")

#: Kit tables live in every projection database, beside the projection's own tables.
kit_metadata = MetaData()

tracking = Table(
    "tsunagu_tracking",
    kit_metadata,
    Column("name", String(100), primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
)

#: Transactional outbox: side effects (feed messages) written in the projection's transaction
#: and published after commit, so a crash between the two loses nothing.
outbox = Table(
    "tsunagu_outbox",
    kit_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner", String(100), nullable=False, index=True),
    Column("subject", String(400), nullable=False),
    Column("msg_id", String(200), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("headers", JSON, nullable=True),
)


def make_engine(url: str, *, schema: str | None = None) -> Engine:
    """SQLite (WAL, synchronous=NORMAL, secure_delete) or PostgreSQL (psycopg 3) by URL.

    ``hide_parameters``: a failing statement's message goes to logs and dead letters, and its
    parameters may be personal data."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # Safe with the checkpoint in the same transaction: a lost tail of commits loses
            # its checkpoint too, and we resume from the database's checkpoint.
            cur.execute("PRAGMA synchronous=NORMAL")
            # Deleted and overwritten content is zeroed, not left in free space: erasure
            # must leave no personal data in the file (eventstore.scrub for the WAL).
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        return engine
    engine = create_engine(url, pool_pre_ping=True, pool_size=5, hide_parameters=True)
    if schema:

        @event.listens_for(engine, "connect")
        def _search_path(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute(f'SET search_path TO "{schema}"')
            cur.close()
            dbapi_conn.commit()

    return engine


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """One worker-thread hop (the whole batch transaction runs inside it)."""
    return await asyncio.to_thread(fn, *args)


#: Built upsert statements by (dialect, table, columns, keys). Building the statement and
#: its cache key for every event cost ~100 µs per call (bench/README.md); a built statement
#: executed with parameters costs a fraction of that.
_UPSERTS: dict[tuple[Any, ...], Any] = {}


def upsert(
    conn: Connection, table: Table, values: dict[str, Any], keys: list[str],
    *, overwrite: bool = True,
) -> None:
    """INSERT … ON CONFLICT DO UPDATE, for SQLite and PostgreSQL alike; with
    ``overwrite=False``, ON CONFLICT DO NOTHING (a row that exists is left as it is)."""
    if any(isinstance(v, ClauseElement) for v in values.values()):
        _upsert_expr(conn, table, values, keys)  # SQL expressions cannot be parameters
        return
    fastsql.run(conn, _upsert_stmt(conn, table, tuple(values), tuple(keys), overwrite), values)


def upsert_many(
    conn: Connection, table: Table, rows: list[dict[str, Any]], keys: list[str],
    *, overwrite: bool = True,
) -> None:
    """``upsert`` of many rows with the same columns in one executemany (rows in order, so a
    later row with the same key wins, as with one ``upsert`` each)."""
    if rows:
        stmt = _upsert_stmt(conn, table, tuple(rows[0]), tuple(keys), overwrite)
        fastsql.run_many(conn, stmt, rows)


def _upsert_stmt(conn: Connection, table: Table, columns: tuple[str, ...],
                 keys: tuple[str, ...], overwrite: bool) -> Any:
    cache_key = (conn.dialect.name, table, columns, keys, overwrite)
    stmt = _UPSERTS.get(cache_key)
    if stmt is None:
        ins = pg_insert(table) if conn.dialect.name == "postgresql" else sqlite_insert(table)
        rest = {k: ins.excluded[k] for k in columns if k not in keys} if overwrite else {}
        stmt = (
            ins.on_conflict_do_update(index_elements=list(keys), set_=rest)
            if rest
            else ins.on_conflict_do_nothing(index_elements=list(keys))
        )
        _UPSERTS[cache_key] = stmt
    return stmt


@functools.cache
def _update_by(table: Table, keys: tuple[str, ...]) -> Update:
    return update(table).where(*(table.c[k] == bindparam(f"key_{k}") for k in keys))


def update_where(conn: Connection, table: Table, where: dict[str, Any], **values: Any) -> None:
    """UPDATE table SET values WHERE each ``where`` column equals its value; the statement is
    built once per (table, key columns) and its SET columns come from the parameters."""
    params = {f"key_{k}": v for k, v in where.items()}
    params.update(values)
    fastsql.run(conn, _update_by(table, tuple(where)), params)


def _upsert_expr(conn: Connection, table: Table, values: dict[str, Any], keys: list[str]) -> None:
    ins = pg_insert(table) if conn.dialect.name == "postgresql" else sqlite_insert(table)
    stmt = ins.values(**values)
    rest = {k: stmt.excluded[k] for k in values if k not in keys}
    conn.execute(
        stmt.on_conflict_do_update(index_elements=keys, set_=rest)
        if rest
        else stmt.on_conflict_do_nothing(index_elements=keys)
    )


_CHECKPOINT = select(tracking.c.last_seq).where(tracking.c.name == bindparam("name"))


def read_checkpoint(conn: Connection, name: str) -> int:
    row = fastsql.first(conn, _CHECKPOINT, {"name": name})
    return int(row[0]) if row else 0


_CLAIM = (update(tracking).where(tracking.c.name == bindparam("n"))
          .values(last_seq=tracking.c.last_seq))


def claim_checkpoint(conn: Connection, name: str) -> int:
    """The checkpoint, its row locked until this transaction ends (an UPDATE to itself:
    a row lock on PostgreSQL, the write lock on SQLite). Another instance of the projection
    applying the same batch waits here, then reads the checkpoint it moved and skips what
    was applied — never applies it twice."""
    if conn.execute(_CLAIM, {"n": name}).rowcount == 0:
        ins = pg_insert(tracking) if conn.dialect.name == "postgresql" else sqlite_insert(tracking)
        conn.execute(ins.values(name=name, last_seq=0).on_conflict_do_nothing(
            index_elements=["name"]))
        conn.execute(_CLAIM, {"n": name})
    return read_checkpoint(conn, name)


def write_checkpoint(conn: Connection, name: str, seq: int) -> None:
    upsert(conn, tracking, {"name": name, "last_seq": seq}, ["name"])
