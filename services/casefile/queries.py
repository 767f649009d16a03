"""Queries (``<prefix>.query.<agency>.<name>``): each answers for the asking agency only."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from eventstore.db import in_thread
from eventstore.errors import Forbidden, InvalidInput, NotFound
from eventstore.service import Runtime
from services.casefile import views

JST = ZoneInfo("Asia/Tokyo")


def _today() -> date:
    return datetime.now(JST).date()


def _case_id(args: dict[str, Any]) -> str:
    case_id = args.get("case_id")
    if not isinstance(case_id, str) or not case_id:
        raise InvalidInput("case_id: required (a case id string)", details={"field": "case_id"})
    return case_id


def _on(args: dict[str, Any]) -> date:
    raw = args.get("on")
    if raw is None:
        return _today()
    try:
        return date.fromisoformat(str(raw))
    except ValueError as exc:
        raise InvalidInput("on: must be a date YYYY-MM-DD", details={"field": "on"}) from exc


def view_of(engine: Engine, case_id: str, agency: str, on: date) -> dict[str, Any]:
    """``on`` dates the tasks; consent is judged today whatever ``on`` says (a withdrawal
    is not stepped around by asking about yesterday)."""
    with engine.connect() as conn:
        view = views.case_view(conn, case_id, agency, on, _today())
    if view is None:
        # Same answer whether the case exists or not: existence is not disclosed.
        raise NotFound(f"case {case_id!r} is not among the cases of agency {agency!r}",
                       details={"case_id": case_id})
    return view


async def case_view(rt: Runtime, agency: str, args: dict[str, Any]) -> dict[str, Any]:
    return await in_thread(view_of, rt.engine, _case_id(args), agency, _on(args))


async def my_cases(rt: Runtime, agency: str, args: dict[str, Any]) -> list[dict[str, Any]]:
    def run() -> list[dict[str, Any]]:
        with rt.engine.connect() as conn:
            return views.my_cases(conn, agency, _on(args), _today())

    return await in_thread(run)


async def case_timeline(rt: Runtime, agency: str, args: dict[str, Any]) -> list[dict[str, Any]]:
    case_id, on = _case_id(args), _on(args)

    def run() -> list[dict[str, Any]]:
        view = view_of(rt.engine, case_id, agency, on)
        if view["redacted"]:
            raise Forbidden(
                f"agency {agency!r} sees case {case_id!r} redacted (no valid consent covers it "
                "and it is not a bound member of a 支援会議 on it): no timeline",
                details={"case_id": case_id},
            )
        with rt.engine.connect() as conn:
            return views.timeline(conn, case_id)

    return await in_thread(run)


QUERIES = {"case_view": case_view, "my_cases": my_cases, "case_timeline": case_timeline}
