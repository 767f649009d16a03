"""What a meeting's material and minutes disclose, as records for the kit's disclosure log:
one per case they are about (the meeting knows cases, not persons: the log finds the person
through the case, see ``tsunagu.ops.disclosures``), field names only.

Basis: the agency's membership of the meeting (for a 支援会議, its acknowledgement of the
duty of confidentiality under Art. 106-6).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from eventstore.disclosure import Disclosure
from services.meeting.projection import meetings, members


def _basis(conn: Connection, agency: str, meeting_id: str) -> dict[str, Any]:
    kind = conn.execute(select(meetings.c.kind)
                        .where(meetings.c.meeting_id == meeting_id)).scalar()
    acknowledged = conn.execute(select(members.c.acknowledged).where(
        members.c.meeting_id == meeting_id, members.c.agency_id == agency)).scalar()
    return {"kind": "meeting", "meeting_id": meeting_id, "meeting_kind": kind,
            "acknowledged": bool(acknowledged)}


def _records(conn: Connection, agency: str, meeting_id: str, channel: str,
             per_case: dict[str | None, set[str]]) -> list[Disclosure]:
    basis = _basis(conn, agency, meeting_id)
    return [Disclosure.new(agency=agency, person_id=None, case_id=case_id,
                           fields=sorted(fields), basis=basis, channel=channel)
            for case_id, fields in sorted(per_case.items(), key=lambda kv: kv[0] or "")
            if fields]


def of_materials(conn: Connection, agency: str, meeting_id: str,
                 rows: list[dict[str, Any]]) -> list[Disclosure]:
    per_case: dict[str | None, set[str]] = {}
    for m in rows:
        fields = {f"material.{k}" for k in ("title", "text", "attachment") if m.get(k)}
        per_case.setdefault(m.get("case_id"), set()).update(fields)
    return _records(conn, agency, meeting_id, "query.meeting_materials", per_case)


def of_minutes(conn: Connection, agency: str, meeting_id: str,
               result: dict[str, Any]) -> list[Disclosure]:
    per_case: dict[str | None, set[str]] = {}
    if result.get("text"):
        per_case[None] = {"minutes.text"}
    for item in result.get("items") or []:
        if item.get("text"):
            per_case.setdefault(item.get("case_id"), set()).add("minutes.item_text")
    return _records(conn, agency, meeting_id, "query.meeting_minutes", per_case)
