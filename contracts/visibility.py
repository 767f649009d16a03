"""Who may see a person's data: the one rule, shared by every service (pure, no I/O).

Personal data of a case goes to an agency only

- while a valid consent covers it, judged on ``today`` (never on an asked-for earlier
  date: a withdrawal cannot be stepped around by asking "as of" yesterday), and the agency
  takes part (a member of the case; for a meeting's agenda item, a member of the meeting); or
- as a bound member of a 支援会議 (Art. 106-6) on that case: a ``Seat``.

The answer is the **basis** of the disclosure (recorded with it by the audit log), or None.
Every view, feed, query and meeting material asks this function; none judges it again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal

from contracts.consent import active_consents

BasisKind = Literal["consent", "support_meeting"]


@dataclass(frozen=True, order=True)
class Seat:
    """A bound seat: ``agency_id`` acknowledged the duty of confidentiality (守秘義務) of the
    支援会議 ``meeting_id``, which has the case on its agenda and is not cancelled.

    >>> Seat("s1", "hospital", date(2026, 5, 1)).agency_id
    'hospital'
    """

    meeting_id: str
    agency_id: str
    acknowledged_at: date | None = None


@dataclass(frozen=True)
class Basis:
    """Why an agency may see a person's data: a consent that covers it, or its seat at a
    支援会議 on the case. Small and free of personal data, so it can be logged and stored.

    >>> Basis(kind="consent", consent_id="k1").as_dict()
    {'kind': 'consent', 'consent_id': 'k1', 'meeting_id': None, 'acknowledged_at': None}
    >>> Basis(kind="support_meeting", meeting_id="s1",
    ...       acknowledged_at=date(2026, 5, 1)).as_dict()["acknowledged_at"]
    '2026-05-01'
    """

    kind: BasisKind
    consent_id: str | None = None
    meeting_id: str | None = None
    acknowledged_at: date | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"kind": self.kind, "consent_id": self.consent_id, "meeting_id": self.meeting_id,
                "acknowledged_at": (self.acknowledged_at.isoformat()
                                    if self.acknowledged_at else None)}


def disclosure_basis(
    agency_id: str, *, consent: Iterable[object], today: date, takes_part: bool,
    seats: Iterable[Seat] = (),
) -> Basis | None:
    """The basis on which ``agency_id`` may see the case's personal data today, or None.

    ``consent``: the case's consent events (any order); ``today``: the municipality's date
    now; ``takes_part``: the agency is a member of the case (or, for an agenda item's
    material, of the meeting); ``seats``: bound seats at 支援会議 on the case.

    >>> from contracts.consent import ConsentRecorded
    >>> k = ConsentRecorded(case_id="c1", consent_id="k1", person_id="p1",
    ...     agencies=("hokatsu",), purposes=("共有",), method="written",
    ...     obtained_by="shakyo", given_on=date(2026, 5, 1))
    >>> disclosure_basis("hokatsu", consent=[k], today=date(2026, 6, 1), takes_part=True)
    Basis(kind='consent', consent_id='k1', meeting_id=None, acknowledged_at=None)
    >>> disclosure_basis("hellowork", consent=[k], today=date(2026, 6, 1), takes_part=True)
    """
    if takes_part:
        covering = [c for c in active_consents(consent, today) if agency_id in c.agencies]
        if covering:
            latest = max(covering, key=lambda c: (c.given_on, c.consent_id))
            return Basis(kind="consent", consent_id=latest.consent_id)
    mine = sorted((s for s in seats if s.agency_id == agency_id), key=lambda s: s.meeting_id)
    if mine:
        return Basis(kind="support_meeting", meeting_id=mine[0].meeting_id,
                     acknowledged_at=mine[0].acknowledged_at)
    return None
