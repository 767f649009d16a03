"""eventstore.fastsql runs prebuilt statements on the driver: the rows it writes and reads must
be exactly those SQLAlchemy would write and read, in the same transaction."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError

from eventstore import fastsql
from eventstore.db import make_engine, update_where, upsert

metadata = MetaData()
rows = Table(
    "fast_rows", metadata,
    Column("id", String(20), primary_key=True),
    Column("on", Date),
    Column("doc", JSON),
    Column("flag", Boolean, nullable=False, default=False),
)
_INSERT = insert(rows)
_READ = select(rows.c.on, rows.c.doc, rows.c.flag).where(rows.c.id == bindparam("id"))
_ALL = select(rows).order_by(rows.c.id)


def _both(db_url: str, write: Any) -> tuple[list[tuple], list[tuple]]:
    """The table after ``write(conn, run)`` with fastsql and with SQLAlchemy's execute."""
    out = []
    for fast in (True, False):
        engine = make_engine(db_url)
        metadata.drop_all(engine)
        metadata.create_all(engine)

        def run(conn: Any, stmt: Any, values: Any, fast: bool = fast) -> Any:
            return fastsql.run(conn, stmt, values) if fast else conn.execute(stmt, values)

        with engine.begin() as conn:
            write(conn, run)
        with engine.begin() as conn:
            out.append([tuple(r) for r in conn.execute(_ALL)])
        metadata.drop_all(engine)
        engine.dispose()
    return out[0], out[1]


def test_rows_written_by_fastsql_equal_those_written_by_sqlalchemy(db_url: str) -> None:
    def write(conn: Any, run: Any) -> None:
        run(conn, _INSERT, {"id": "a", "on": date(2026, 4, 1), "doc": {"k": [1, "二"]}})
        run(conn, _INSERT, {"id": "b", "on": None, "doc": None, "flag": True})
        run(conn, _INSERT, {"id": "c", "on": date(1999, 12, 31), "doc": []})

    fast, plain = _both(db_url, write)
    assert fast == plain
    assert fast[0] == ("a", date(2026, 4, 1), {"k": [1, "二"]}, False)  # column default applied


def test_fastsql_reads_convert_types_as_sqlalchemy_does(db_url: str) -> None:
    engine = make_engine(db_url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        fastsql.run(conn, _INSERT, {"id": "a", "on": date(2026, 4, 1), "doc": {"x": 1}})
        upsert(conn, rows, {"id": "a", "on": date(2026, 5, 2), "doc": {"x": 2}}, ["id"])
        update_where(conn, rows, {"id": "a"}, flag=True)
        # Read in the same transaction: the writes are visible before the commit.
        assert fastsql.first(conn, _READ, {"id": "a"}) == (date(2026, 5, 2), {"x": 2}, True)
        assert fastsql.scalar(conn, _READ, {"id": "missing"}) is None
        assert fastsql.all_rows(conn, _READ, {"id": "a"}) == [(date(2026, 5, 2), {"x": 2}, True)]
    metadata.drop_all(engine)
    engine.dispose()


def test_a_failing_fastsql_statement_raises_sqlalchemys_error_and_rolls_back(db_url: str) -> None:
    engine = make_engine(db_url)
    metadata.create_all(engine)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        fastsql.run(conn, _INSERT, {"id": "a", "on": None, "doc": None})
        fastsql.run(conn, _INSERT, {"id": "a", "on": None, "doc": None})
    with engine.begin() as conn:
        assert conn.execute(select(rows.c.id)).all() == []  # nothing of the batch stayed
    metadata.drop_all(engine)
    engine.dispose()


def test_run_many_writes_every_row(db_url: str) -> None:
    def write(conn: Any, run: Any) -> None:
        batch = [{"id": f"r{i}", "on": date(2026, 1, 1 + i), "doc": {"i": i}} for i in range(5)]
        if run.__defaults__[0]:  # fastsql
            fastsql.run_many(conn, _INSERT, batch)
        else:
            conn.execute(_INSERT, batch)

    fast, plain = _both(db_url, write)
    assert fast == plain
    assert len(fast) == 5
