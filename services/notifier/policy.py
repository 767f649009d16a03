"""When to send (pure): retries with exponential backoff, quiet hours, the daily digest.

>>> [backoff(n).total_seconds() for n in (1, 2, 3)]
[10.0, 20.0, 40.0]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from contracts.jst import JST

#: Attempts before a delivery is dead-lettered (10 s doubling: about 6 hours of retries).
MAX_ATTEMPTS = 12
FIRST_RETRY_S = 10
MAX_RETRY_S = 6 * 3600


def backoff(attempts: int, first: float = FIRST_RETRY_S) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt: ``first`` (10 s),
    doubling, at most 6 hours."""
    return timedelta(seconds=min(first * 2 ** max(0, attempts - 1), MAX_RETRY_S))


def is_dead(attempts: int, bound: int = MAX_ATTEMPTS) -> bool:
    return attempts >= bound


@dataclass(frozen=True)
class MailPlan:
    delivery: str = "immediate"  # or "daily_digest"
    digest_hour: int = 8
    quiet_start: time | None = None
    quiet_end: time | None = None


def in_quiet_hours(moment: datetime, start: time, end: time) -> bool:
    """Whether ``moment`` (any zone) falls in [start, end) Japan time; may span midnight.

    >>> from datetime import timezone
    >>> in_quiet_hours(datetime(2026, 5, 1, 13, 0, tzinfo=timezone.utc), time(20), time(8))
    True
    """
    t = moment.astimezone(JST).time()
    return start <= t < end if start < end else (t >= start or t < end)


def _next_at(moment: datetime, at: time) -> datetime:
    """The first instant at or after ``moment`` whose Japan time is ``at``."""
    local = moment.astimezone(JST)
    candidate = datetime.combine(local.date(), at, tzinfo=JST)
    return candidate if candidate >= local else candidate + timedelta(days=1)


def mail_due(now: datetime, plan: MailPlan) -> datetime:
    """When a mail about something that happened at ``now`` is sent: at once, at the end
    of the quiet hours, or with the next daily digest.

    >>> from contracts.jst import JST
    >>> mail_due(datetime(2026, 5, 1, 22, 0, tzinfo=JST),
    ...          MailPlan(quiet_start=time(20), quiet_end=time(8))).isoformat()
    '2026-05-02T08:00:00+09:00'
    """
    if plan.delivery == "daily_digest":
        return _next_at(now, time(plan.digest_hour))
    if plan.quiet_start and plan.quiet_end and in_quiet_hours(now, plan.quiet_start,
                                                              plan.quiet_end):
        return _next_at(now, plan.quiet_end)
    return now


def digest_group(agency: str, due: datetime) -> str:
    """The mails sent together: an agency's digest of one day."""
    return f"digest:{agency}:{due.astimezone(JST).date().isoformat()}"
