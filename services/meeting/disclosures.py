"""What a meeting's item material and minutes disclose, as records for the kit's disclosure
log: one per case they are about, with the basis each row was shown on (``queries`` judges
it with ``contracts.visibility``: a consent at a 重層的支援会議, the acknowledged seat at a
支援会議), field names only. The meeting knows cases, not persons: the log finds the person
through the case (``tsunagu.ops.disclosures``). Material or minutes of the whole meeting
are about no one person and carry no basis: not recorded as a person's disclosure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from eventstore.db import in_thread
from eventstore.disclosure import Disclosure, DisclosureLog
from eventstore.service import Runtime


def _records(agency: str, channel: str, rows: list[tuple[dict[str, Any], set[str]]],
             ) -> list[Disclosure]:
    per_case: dict[str, tuple[dict[str, Any], set[str]]] = {}
    for row, fields in rows:
        case_id, basis = row.get("case_id"), row.get("basis")
        if not case_id or not basis or not fields:
            continue
        per_case.setdefault(case_id, (basis, set()))[1].update(fields)
    return [Disclosure.new(agency=agency, person_id=None, case_id=case_id,
                           fields=sorted(fields), basis=basis, channel=channel)
            for case_id, (basis, fields) in sorted(per_case.items())]


def of_materials(agency: str, rows: list[dict[str, Any]]) -> list[Disclosure]:
    return _records(agency, "query.meeting_materials", [
        (m, {f"material.{k}" for k in ("title", "text", "attachment") if m.get(k)})
        for m in rows])


def of_minutes(agency: str, result: dict[str, Any]) -> list[Disclosure]:
    return _records(agency, "query.meeting_minutes", [
        (item, {"minutes.item_text"} if item.get("text") else set())
        for item in result.get("items") or []])


async def answered(runtime: Runtime, agency: str, meeting_id: str,
                   read: Callable[[Connection, str, str], Any],
                   record: Callable[[str, Any], list[Disclosure]]) -> Any:
    """``read``'s answer, recorded before it leaves: if the log does not acknowledge, the
    query answers ``disclosure_not_recorded`` instead."""
    def both() -> tuple[Any, list[Disclosure]]:
        with runtime.engine.connect() as conn:
            result = read(conn, agency, meeting_id)
        return result, record(agency, result)

    result, records = await in_thread(both)
    await DisclosureLog(runtime.broker.connection, runtime.topology).record(*records)
    return result
