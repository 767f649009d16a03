"""What a meeting's item material and minutes disclose, as records for the kit's disclosure
log: one per case they are about, with the basis each row was shown on (``queries`` judges
it with ``contracts.visibility``: a consent at a 重層的支援会議, the acknowledged seat at a
支援会議), field names only. The meeting knows cases, not persons: the log finds the person
through the case (``tsunagu.ops.disclosures``). Material or minutes of the whole meeting
are about no one person and carry no basis: not recorded as a person's disclosure.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from eventstore.disclosure import Disclosure


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


def of_materials(conn: Connection, agency: str, meeting_id: str,
                 rows: list[dict[str, Any]]) -> list[Disclosure]:
    return _records(agency, "query.meeting_materials", [
        (m, {f"material.{k}" for k in ("title", "text", "attachment") if m.get(k)})
        for m in rows])


def of_minutes(conn: Connection, agency: str, meeting_id: str,
               result: dict[str, Any]) -> list[Disclosure]:
    return _records(agency, "query.meeting_minutes", [
        (item, {"minutes.item_text"} if item.get("text") else set())
        for item in result.get("items") or []])
