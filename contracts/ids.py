"""Derived ids: a new record's id follows from what made it (the sender and the command id,
or the record it belongs to), so a retried command lands on the same record.

One function derives them all. Each service keeps the scheme (namespace, separator, length)
its ids were first stored with: an id already stored must derive again from the same parts,
or its record would be orphaned (``tests/contracts/test_ids.py`` pins known ids).

    >>> derived_id(REFERRAL, "ref", "hokatsu", "cmd-1")
    'ref-f6d8d373b6c15439b75c1b8e'
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import NAMESPACE_URL, UUID, uuid5


@dataclass(frozen=True)
class IdScheme:
    namespace: UUID
    separator: str
    #: Hex digits of the uuid5 kept after the prefix.
    digits: int


#: Referrals, persons, consents, and the case a triage opens.
REFERRAL = IdScheme(uuid5(NAMESPACE_URL, "https://tsunagu/referral"), "|", 24)
#: Cases opened directly, assessments, plans, monitorings.
CASEFILE = IdScheme(NAMESPACE_URL, "/", 20)
#: Meetings, series, decisions, resource gaps, materials.
MEETING = IdScheme(UUID("6d1c1f0e-3a55-4c61-9a57-7473756e6167"), "/", 16)


def derived_id(scheme: IdScheme, prefix: str, *parts: str) -> str:
    """``<prefix>-<hex>``: the same parts give the same id; it fits the Id pattern. Parts
    from a command id include the sender, so two agencies' command ids never collide."""
    return f"{prefix}-{uuid5(scheme.namespace, scheme.separator.join(parts)).hex[:scheme.digits]}"
