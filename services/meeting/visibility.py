"""Who sees an agenda item's material and minutes: the shared rule
(``contracts.visibility.disclosure_basis``) applied per item's case, judged today. At a
重層的支援会議 a consent must cover the member for that case; at a 支援会議 the member's
acknowledged seat is the basis (never consent: the material was shared under Art. 106-6).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Connection, Row, select

from contracts.consent import ConsentRecorded, ConsentWithdrawn
from contracts.visibility import Basis, Seat, disclosure_basis
from services.meeting.projection import consents
from services.meeting.recurrence import local_date

CONFIDENTIAL = "confidential"


def world_today() -> date:
    """The municipality's date now (consent is judged by calendar day in Japan)."""
    return local_date(datetime.now(UTC))


def item_rule(conn: Connection, meeting: Row[Any], me: Row[Any] | None, agency: str,
              today: date) -> Callable[[str], Basis | None]:
    """The basis on which ``agency`` (a bound member, row ``me``) sees an item about a case."""
    seats = ((Seat(meeting.meeting_id, agency, me.acknowledged_on),)
             if me is not None and meeting.kind == CONFIDENTIAL and me.acknowledged else ())

    def rule(case_id: str) -> Basis | None:
        return item_basis(meeting.kind, agency, consents_of(conn, case_id), seats, today)

    return rule


def item_basis(kind: str, agency: str, consent: list[Any], seats: tuple[Seat, ...],
               today: date) -> Basis | None:
    """An item of a 支援会議 is seen under its duty of confidentiality (the seat), never by
    consent; an item of a 重層的支援会議 only by a consent covering the agency today.

    >>> item_basis("confidential", "a", [], (Seat("s1", "a"),), date(2026, 6, 1)).kind
    'support_meeting'
    """
    if kind == CONFIDENTIAL:
        return disclosure_basis(agency, consent=(), today=today, takes_part=False, seats=seats)
    return disclosure_basis(agency, consent=consent, today=today, takes_part=True)


_consent_adapter: TypeAdapter[Any] = TypeAdapter(ConsentRecorded | ConsentWithdrawn)


def consents_of(conn: Connection, case_id: str) -> list[Any]:
    """The case's consents and withdrawals, in the order they were stored."""
    rows = conn.execute(select(consents.c.event).where(consents.c.case_id == case_id)
                        .order_by(consents.c.seq)).scalars()
    return [_consent_adapter.validate_python(r) for r in rows]
