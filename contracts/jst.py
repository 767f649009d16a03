"""Japan time, for what people read and for the calendar dates of the domain.

Data keeps UTC instants; a date in the domain (a meeting held on, a plan approved on) and
every time shown to a person is in Japan, with the zone named:

    >>> from datetime import UTC, datetime
    >>> show_jst(datetime(2025, 4, 30, 16, 0, tzinfo=UTC))
    '2025-05-01 01:00 JST'
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

#: Japan has had no daylight saving time since 1951: a fixed offset is exact.
JST = timezone(timedelta(hours=9), "JST")


def today_jst(now: datetime | None = None) -> date:
    """The calendar date in Japan now (or at ``now``)."""
    return (now or datetime.now(JST)).astimezone(JST).date()


def show_jst(moment: datetime | str) -> str:
    """An instant as a person in Japan reads it: ``YYYY-MM-DD HH:MM JST``."""
    when = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    if when.tzinfo is None:
        raise ValueError(f"{moment!r} has no time zone: data keeps zoned UTC instants")
    return when.astimezone(JST).strftime("%Y-%m-%d %H:%M JST")
