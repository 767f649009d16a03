"""What a casefile delivery discloses: the names of the personal fields in a view and the
basis it was given on, as a ``Disclosure`` for the kit's log (never the values).

The basis is the one the view was given on (``views.view_of`` → ``contracts.visibility``):
a consent (its id) or a bound seat at a 支援会議 on the case (meeting, acknowledgement).
"""

from __future__ import annotations

from typing import Any

from eventstore.disclosure import Disclosure
from services.casefile.views import CaseData

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


def of_view(data: CaseData, agency: str, view: dict[str, Any], channel: str,
            fields: list[str] | None = None) -> Disclosure | None:
    """The record of giving ``view`` to ``agency`` (None for a redacted view: nothing
    personal in it). ``fields`` narrows what was actually delivered (e.g. a list's name)."""
    delivered = personal_fields(view) if fields is None else fields
    if view.get("redacted", True) or not delivered:
        return None
    return Disclosure.new(
        agency=agency, person_id=data.case["person_id"], case_id=data.case["case_id"],
        fields=delivered, basis=view["basis"], channel=channel,
    )
