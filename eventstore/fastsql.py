"""Prebuilt statements run on the DBAPI cursor of the batch's own connection.

A projection runs a handful of fixed statements per event. SQLAlchemy's ``conn.execute`` of a
cached statement still costs ≈ 35–40 µs of Python per call (execution context, parameter
construction, result setup), several times what SQLite takes to run it (bench/README.md). Here
a statement is compiled once per (dialect, statement, parameter names) to its SQL string, its
parameter order and SQLAlchemy's own bind and result processors (dates on SQLite, JSON), and
then handed straight to the driver: same connection, same transaction, same types.

Anything unusual (expanding IN lists, RETURNING, callable column defaults) is run by
SQLAlchemy as before, so a statement is never run differently, only faster.

    from eventstore.fastsql import run, first
    run(conn, insert(table), {"id": "c1", "on": date(2026, 4, 1)})
    row = first(conn, select(table.c.on).where(table.c.id == bindparam("id")), {"id": "c1"})
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, exc
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import Compiled

_Proc = Callable[[Any], Any] | None
Row = tuple[Any, ...]


@dataclass(frozen=True)
class _Plan:
    sql: str
    #: Parameter names in positional order (qmark/format), or None for named styles.
    order: tuple[str, ...] | None
    names: tuple[str, ...]
    binds: dict[str, _Proc]
    #: Values of binds the caller does not pass (literal values, scalar column defaults).
    fixed: dict[str, Any]
    results: tuple[_Proc, ...]


#: None marks a statement this module leaves to SQLAlchemy.
_PLANS: dict[tuple[Any, ...], _Plan | None] = {}


def _plan(conn: Connection, stmt: Executable, keys: tuple[str, ...]) -> _Plan | None:
    dialect = conn.dialect
    compiled: Compiled = stmt.compile(  # type: ignore[attr-defined]
        dialect=dialect, column_keys=list(keys))
    c: Any = compiled
    unusual = ("returning", "update_prefetch", "literal_execute_params", "post_compile_params")
    if any(getattr(c, attr, None) for attr in unusual):
        return None
    if any(b.expanding or b.callable is not None for b in c.binds.values()):
        return None
    fixed: dict[str, Any] = {}
    for col in getattr(c, "insert_prefetch", ()) or ():
        default = col.default
        if default is None or not default.is_scalar:
            return None
        fixed[col.key] = default.arg
    for name, bind in c.binds.items():
        if name not in keys and name not in fixed:
            if bind.required:
                return None  # SQLAlchemy names the missing parameter
            fixed[name] = bind.value
    order = tuple(c.positiontup) if c.positiontup is not None else None
    names = order if order is not None else tuple(c.binds)
    results = tuple(
        col.type._cached_result_processor(dialect, None) for col in c._result_columns
    ) if c._result_columns else ()
    return _Plan(c.string, order, names, dict(c._bind_processors), fixed, results)


def _lookup(conn: Connection, stmt: Executable, keys: tuple[str, ...]) -> _Plan | None:
    cache_key = (conn.dialect.name, stmt, keys)
    try:
        return _PLANS[cache_key]
    except KeyError:
        plan = _PLANS[cache_key] = _plan(conn, stmt, keys)
        return plan


def _params(plan: _Plan, values: Mapping[str, Any]) -> Any:
    out = []
    for name in plan.names:
        v = values[name] if name in values else plan.fixed[name]
        proc = plan.binds.get(name)
        out.append(proc(v) if proc is not None else v)  # None too, as SQLAlchemy does (JSON)
    return tuple(out) if plan.order is not None else dict(zip(plan.names, out, strict=True))


def _cursor(conn: Connection, plan: _Plan, params: Any, many: bool = False) -> Any:
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cur = dbapi.cursor()
    try:
        if many:
            cur.executemany(plan.sql, params)
        else:
            cur.execute(plan.sql, params)
    except conn.dialect.loaded_dbapi.Error as e:
        cur.close()
        # The same exception class SQLAlchemy raises (IntegrityError, …), parameters hidden.
        raise exc.DBAPIError.instance(plan.sql, None, e, conn.dialect.loaded_dbapi.Error,
                                      hide_parameters=True, dialect=conn.dialect) from e
    return cur


def run(conn: Connection, stmt: Executable, values: Mapping[str, Any]) -> None:
    """Execute a DML statement with one set of parameters (``conn.execute(stmt, values)``)."""
    plan = _lookup(conn, stmt, tuple(values))
    if plan is None:
        conn.execute(stmt, dict(values))
        return
    _cursor(conn, plan, _params(plan, values)).close()


def run_many(conn: Connection, stmt: Executable, rows: Sequence[Mapping[str, Any]]) -> None:
    """Execute a DML statement once per row (executemany); every row has the same keys."""
    if not rows:
        return
    plan = _lookup(conn, stmt, tuple(rows[0]))
    if plan is None:
        conn.execute(stmt, [dict(r) for r in rows])
        return
    _cursor(conn, plan, [_params(plan, r) for r in rows], many=True).close()


def _row(plan: _Plan, raw: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(p(v) if p is not None else v
                 for p, v in zip(plan.results, raw, strict=True))


def first(conn: Connection, stmt: Executable, values: Mapping[str, Any]) -> Row | None:
    """The first row of a SELECT (``conn.execute(stmt, values).first()``), as a tuple."""
    plan = _lookup(conn, stmt, tuple(values))
    if plan is None:
        row = conn.execute(stmt, dict(values)).first()
        return tuple(row) if row is not None else None
    cur = _cursor(conn, plan, _params(plan, values))
    try:
        raw = cur.fetchone()
    finally:
        cur.close()
    return None if raw is None else _row(plan, raw)


def all_rows(conn: Connection, stmt: Executable, values: Mapping[str, Any]) -> list[Row]:
    """Every row of a SELECT, as tuples."""
    plan = _lookup(conn, stmt, tuple(values))
    if plan is None:
        return [tuple(r) for r in conn.execute(stmt, dict(values))]
    cur = _cursor(conn, plan, _params(plan, values))
    try:
        raw = cur.fetchall()
    finally:
        cur.close()
    return [_row(plan, r) for r in raw]


def scalar(conn: Connection, stmt: Executable, values: Mapping[str, Any]) -> Any:
    """The first column of the first row, or None."""
    row = first(conn, stmt, values)
    return None if row is None else row[0]
