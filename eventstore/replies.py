"""What a command's reply names: every record it created, by kind.

Events declare the fields naming records they create (``DomainEvent.creates``), so one
function serves every command. Example::

    reply_ids(stored)  # {"case_id": "case-…", "case_ids": ["case-…"],
                       #  "enrollment_id": "…", "enrollment_ids": ["…"], "referral_id": "…"}
"""

from __future__ import annotations

from functools import cache

from contracts.catalog import event_types
from contracts.envelope import Envelope


@cache
def _aggregates() -> frozenset[str]:
    return frozenset(cls.aggregate for cls in event_types().values())


def reply_ids(stored: list[tuple[int, Envelope]]) -> dict[str, str | list[str]]:
    """Every created id by kind (``creates`` of each event): ``<kind>_ids`` lists them all,
    ``<kind>_id`` names it when there is exactly one. Then, as before, ``<aggregate>_id``
    for the first record of each aggregate the command touched, and its id field (e.g.
    ``case_id`` for consent events), unless a created id already took the key. An aggregate
    keyed by another aggregate's id (consent, by its case) is named by that id only."""
    created: dict[str, list[str]] = {}
    for _, env in stored:
        for name in type(env.event).creates:
            value = getattr(env.event, name, None)
            if value is not None and str(value) not in created.setdefault(name, []):
                created[name].append(str(value))
    ids: dict[str, str | list[str]] = {}
    for name, values in created.items():
        ids[f"{name.removesuffix('_id')}_ids"] = values
        if len(values) == 1:
            ids[name] = values[0]
    for _, env in stored:
        key, id_field = f"{env.aggregate}_id", env.event.id_field
        own = getattr(env.event, key, None)
        if own is not None or id_field.removesuffix("_id") not in _aggregates() - {env.aggregate}:
            ids.setdefault(key, str(own or env.aggregate_id))
        ids.setdefault(id_field, env.aggregate_id)
    return ids
