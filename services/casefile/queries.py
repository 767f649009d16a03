"""Queries (``<prefix>.query.<agency>.<name>``): each answers for the asking agency only."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine

from contracts.jst import JST
from eventstore.db import in_thread
from eventstore.disclosure import Disclosure, DisclosureLog
from eventstore.errors import Forbidden, InvalidInput, NotFound
from eventstore.service import Runtime
from services.casefile import disclosures, paging, views


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


def _load_view(engine: Engine, case_id: str, agency: str,
               on: date) -> tuple[views.CaseData, dict[str, Any]]:
    with engine.connect() as conn:
        data = views.load_case(conn, case_id)
    view = views.view_of(data, agency, on, _today()) if data else None
    if data is None or view is None:
        # Same answer whether the case exists or not: existence is not disclosed.
        raise NotFound(f"case {case_id!r} is not among the cases of agency {agency!r}",
                       details={"case_id": case_id})
    return data, view


def view_of(engine: Engine, case_id: str, agency: str, on: date,
            channel: str = "query.case_view") -> tuple[dict[str, Any], Disclosure | None]:
    """The agency's view and the record of disclosing it (None when redacted). ``on`` dates
    the tasks; consent is judged today whatever ``on`` says (a withdrawal is not stepped
    around by asking about yesterday)."""
    data, view = _load_view(engine, case_id, agency, on)
    return view, disclosures.of_view(data, agency, view, channel)


async def _recorded(rt: Runtime, records: list[Disclosure | None]) -> None:
    """Recorded before the answer leaves: if the log does not ack, the query fails."""
    await DisclosureLog(rt.broker.connection, rt.topology).record(
        *[r for r in records if r is not None])


def _section(args: dict[str, Any]) -> tuple[str, int] | None:
    """``section`` and ``offset`` of a paged read (None: the whole view)."""
    section, offset = args.get("section"), args.get("offset", 0)
    if section is None:
        return None
    if section not in paging.SECTIONS:
        raise InvalidInput(f"section: must be one of {', '.join(paging.SECTIONS)}",
                           details={"field": "section"})
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidInput("offset: must be a whole number ≥ 0", details={"field": "offset"})
    return section, offset


def _budget(rt: Runtime) -> int:
    """Bytes a reply may take: the connection's max payload less room for the envelope."""
    return rt.broker.connection.max_payload - 64 * 1024


def paged_view_of(engine: Engine, case_id: str, agency: str, on: date, budget: int,
                  part: tuple[str, int] | None) -> tuple[dict[str, Any], Disclosure | None]:
    """The view cut to fit ``budget`` (``more`` says how to read the rest), or one page of
    a section; with the record of what was actually given."""
    data, view = _load_view(engine, case_id, agency, on)
    if part is None:
        answer = paging.fit(view, budget)
        return answer, disclosures.of_view(data, agency, answer, "query.case_view")
    if view["redacted"]:
        raise Forbidden(f"agency {agency!r} sees case {case_id!r} redacted: no {part[0]} "
                        "to page through", details={"case_id": case_id})
    answer = paging.page(view, *part, budget)
    given = {"redacted": False, "basis": view["basis"], part[0]: answer["items"]}
    return answer, disclosures.of_view(data, agency, given, "query.case_view")


async def case_view(rt: Runtime, agency: str, args: dict[str, Any]) -> dict[str, Any]:
    view, record = await in_thread(paged_view_of, rt.engine, _case_id(args), agency,
                                   _on(args), _budget(rt), _section(args))
    await _recorded(rt, [record])
    return view


def _my_cases(engine: Engine, agency: str, on: date) -> tuple[list[dict[str, Any]],
                                                               list[Disclosure | None]]:
    with engine.connect() as conn:
        rows = views.my_cases(conn, agency, on, _today())
        records = []
        for row in rows:
            if row["name"] is None:
                continue  # redacted, or nothing personal in the row
            data = views.load_case(conn, row["case_id"])
            view = views.view_of(data, agency, on, _today()) if data else None
            if data is not None and view is not None:
                records.append(disclosures.of_view(data, agency, view, "query.my_cases",
                                                   ["subject.name"]))
        return rows, records


async def my_cases(rt: Runtime, agency: str, args: dict[str, Any]) -> list[dict[str, Any]]:
    rows, records = await in_thread(_my_cases, rt.engine, agency, _on(args))
    await _recorded(rt, records)
    return rows


async def case_timeline(rt: Runtime, agency: str, args: dict[str, Any]) -> list[dict[str, Any]]:
    case_id, on = _case_id(args), _on(args)

    def run() -> tuple[list[dict[str, Any]], Disclosure | None]:
        view, record = view_of(rt.engine, case_id, agency, on, "query.case_timeline")
        if view["redacted"]:
            raise Forbidden(
                f"agency {agency!r} sees case {case_id!r} redacted (no valid consent covers it "
                "and it is not a bound member of a 支援会議 on it): no timeline",
                details={"case_id": case_id},
            )
        with rt.engine.connect() as conn:
            rows = views.timeline(conn, case_id)
        # The summaries quote reasons written about the person.
        fields = ["timeline.summary"] if rows else []
        return rows, record and record.model_copy(update={"fields": tuple(fields)})

    rows, record = await in_thread(run)
    await _recorded(rt, [record if record and record.fields else None])
    return rows


QUERIES = {"case_view": case_view, "my_cases": my_cases, "case_timeline": case_timeline}
