"""What a casefile delivery discloses: the names of the personal fields in a view and the
basis it was given on, as a ``Disclosure`` for the kit's log (never the values).

The basis comes with the view's access (``views.view_of``): a consent (its id) or a bound
membership of a 支援会議 on the case (the meeting and the acknowledgement).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, bindparam, select

from contracts.consent import active_consents
from eventstore.disclosure import Disclosure
from services.casefile import tables as t
from services.casefile.views import CaseData

_BOUND_MEETINGS = (
    select(t.meeting_members.c.meeting_id)
    .join(t.meeting_cases, t.meeting_cases.c.meeting_id == t.meeting_members.c.meeting_id)
    .join(t.meetings, t.meetings.c.meeting_id == t.meeting_members.c.meeting_id)
    .where(t.meeting_cases.c.case_id == bindparam("case_id"),
           t.meeting_members.c.agency_id == bindparam("agency_id"),
           t.meetings.c.kind == "confidential", t.meetings.c.cancelled.is_(False),
           t.meeting_members.c.acknowledged.is_(True))
    .order_by(t.meeting_members.c.meeting_id)
)
#: Sections of a full view whose items carry a personal block, and the field prefix used.
_SECTIONS = (("plans", "plan"), ("assessments", "assessment"), ("monitoring", "monitoring"))


def personal_fields(view: dict[str, Any]) -> list[str]:
    """The personal fields a full view carries (``subject.name``, ``plan.long_term_goal``…)."""
    if view.get("redacted", True):
        return []
    out: set[str] = set()
    personal = (view.get("subject") or {}).get("personal") or {}
    out |= {f"subject.{k}" for k, v in personal.items() if v not in (None, "", [])}
    for section, prefix in _SECTIONS:
        for item in view.get(section) or []:
            out |= {f"{prefix}.{k}" for k, v in (item.get("personal") or {}).items()
                    if v not in (None, "", [])}
            if item.get("attachment"):
                out.add(f"{prefix}.attachment")
    return sorted(out)


def basis_of(conn: Connection, data: CaseData, agency: str, view: dict[str, Any],
             on: date) -> dict[str, Any]:
    """Why ``agency`` was given the full ``view``: the consent covering it, or the 支援会議
    it is a bound (acknowledged) member of."""
    if view.get("access") == "consent":
        ids = sorted(c.consent_id for c in active_consents(data.consent, on)
                     if agency in c.agencies)
        return {"kind": "consent", "consent_id": ids[0] if ids else None}
    meetings = list(conn.execute(_BOUND_MEETINGS, {"case_id": data.case["case_id"],
                                                   "agency_id": agency}).scalars())
    return {"kind": "meeting", "meeting_id": meetings[0] if meetings else None,
            "acknowledged": True}


def of_view(conn: Connection, data: CaseData, agency: str, view: dict[str, Any], on: date,
            channel: str, fields: list[str] | None = None) -> Disclosure | None:
    """The record of giving ``view`` to ``agency`` (None for a redacted view: nothing
    personal in it). ``fields`` narrows what was actually delivered (e.g. a list's name)."""
    delivered = personal_fields(view) if fields is None else fields
    if view.get("redacted", True) or not delivered:
        return None
    return Disclosure.new(
        agency=agency, person_id=data.case["person_id"], case_id=data.case["case_id"],
        fields=delivered, basis=basis_of(conn, data, agency, view, on), channel=channel,
    )
