"""A case view that always fits in one message (issue #14, finding 6).

A case's lists grow with its history (thirty full intake assessments pass the 1 MB a NATS
message may carry). ``fit`` keeps a view whole while it fits the byte budget and otherwise
keeps each long list's first items and says, under ``more``, how many there are and which
``case_view`` arguments read the rest; ``page`` answers those arguments. The budget is in
UTF-8 bytes of the JSON the responder sends (``ensure_ascii=False``). Pure: no I/O.

    >>> view = {"case_id": "c1", "redacted": False, "assessments": [{"t": "状" * 200}] * 3}
    >>> small = fit(view, budget=1500)
    >>> len(small["assessments"]), small["more"]["assessments"]["read_with"]
    (2, {'case_id': 'c1', 'section': 'assessments', 'offset': 2})
    >>> page(view, "assessments", offset=2, budget=1500)["next_offset"] is None
    True
"""

from __future__ import annotations

import json
from typing import Any

from contracts.queries import CASE_VIEW_SECTIONS

#: The lists that grow with a case's history, smallest items first: a trimmed view keeps
#: as much of the small ones as it can. Named once, in the query's contract.
SECTIONS = CASE_VIEW_SECTIONS


def size(value: Any) -> int:
    """Bytes ``value`` takes in the reply."""
    return len(json.dumps(value, ensure_ascii=False, default=str).encode())


def read_with(case_id: str, section: str, offset: int) -> dict[str, Any]:
    """The ``case_view`` arguments that read ``section`` from ``offset`` on."""
    return {"case_id": case_id, "section": section, "offset": offset}


def _prefix(items: list[Any], room: int) -> int:
    """How many of ``items``, from the first, fit in ``room`` bytes (list commas included)."""
    n, used = 0, 0
    for item in items:
        used += size(item) + 1
        if used > room:
            break
        n += 1
    return n


def _more(view: dict[str, Any], section: str, total: int, returned: int) -> dict[str, Any]:
    return {"total": total, "returned": returned,
            "read_with": read_with(view["case_id"], section, returned)}


def fit(view: dict[str, Any], budget: int) -> dict[str, Any]:
    """``view`` unchanged if it fits ``budget`` bytes, else with each long list cut to the
    items that fit and ``more[section] = {total, returned, read_with}`` for each cut list."""
    if size(view) <= budget:
        return view
    out = {k: ([] if k in SECTIONS else v) for k, v in view.items()}
    out["more"] = {}
    room = budget - size(out)
    for section in SECTIONS:
        items = list(view.get(section) or [])
        n = _prefix(items, max(room, 0))
        if n < len(items):  # the ``more`` entry takes room too
            entry_size = size({section: _more(view, section, len(items), n)})
            n = _prefix(items, max(room - entry_size, 0))
            out["more"][section] = _more(view, section, len(items), n)
            room -= size({section: out["more"][section]})
        out[section] = items[:n]
        room -= size(items[:n]) - 2
    return out


def page(view: dict[str, Any], section: str, offset: int, budget: int) -> dict[str, Any]:
    """The items of ``section`` from ``offset`` that fit ``budget`` (at least one, so that
    reading page by page always ends), and where the next page starts (None: the last)."""
    items = list(view.get(section) or [])
    head = {"case_id": view["case_id"], "redacted": view["redacted"], "section": section,
            "offset": offset, "total": len(items)}
    rest = items[offset:]
    n = max(_prefix(rest, budget - size(head) - 64), min(1, len(rest)))
    nxt = offset + n if offset + n < len(items) else None
    return {**head, "items": rest[:n], "next_offset": nxt}
