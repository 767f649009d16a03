"""World time: when a command says its fact happened, and how far back it may say so.

Every command may carry ``occurred_at`` (when it happened in the world); many also carry a
date of their own (``held_on``, ``opened_on`` …). That is the command's *world time*; the
envelope keeps it as ``occurred_at`` while ``recorded_at`` is always the real time of storing.
Deciders compare world dates with world dates; this module is the one place that says how
far a world time may stand from the real clock:

- never in the future (beyond ``CLOCK_SKEW``, for agency clocks running a little fast);
- not further back than the role's backdating limit (``DatingPolicy``): an agency on its
  ordinary subject at most ``agency_days`` (default 90, ``TSUNAGU_BACKDATE_DAYS``); the
  migration role (ledger import, the demo, on ``<prefix>.migrate.…``) and the platform's own
  reactions to facts already accepted without a limit.

Pure: no clock is read here, the caller passes ``now``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from contracts.jst import JST

#: How far an agency's clock may run ahead of ours before its "now" counts as the future.
CLOCK_SKEW = timedelta(minutes=5)

Role = Literal["agency", "migration", "reaction"]
ROLES: tuple[Role, ...] = ("agency", "migration", "reaction")

#: The command's own date of the fact, by command type (others: only ``occurred_at``).
WORLD_DATE_FIELDS: Mapping[str, str] = {
    "triage_referral": "triaged_on",
    "record_application": "applied_on",
    "record_consent": "given_on",
    "withdraw_consent": "withdrawn_on",
    "record_consent_refusal": "refused_on",
    "open_case": "opened_on",
    "record_intake_assessment": "assessed_on",
    "draft_plan": "drafted_on",
    "record_monitoring": "recorded_on",
    "start_enrollment": "started_on",
    "end_enrollment": "ended_on",
    "invite_case_member": "joined_on",
    "reopen_case": "reopened_on",
    "record_meeting_held": "held_on",
}


@dataclass(frozen=True)
class DatingPolicy:
    """How many days back each role may date a record (None: no limit).

    >>> DatingPolicy(agency_days=30).limit("agency")
    30
    >>> DatingPolicy().limit("migration") is None
    True
    """

    agency_days: int = 90

    def limit(self, role: Role) -> int | None:
        table: dict[Role, int | None] = {
            "agency": self.agency_days, "migration": None, "reaction": None,
        }
        return table[role]


@dataclass(frozen=True)
class DatingProblem:
    code: Literal["in_future", "too_far_back"]
    field: str
    message: str


def local_date(when: datetime) -> date:
    return when.astimezone(JST).date()


def world_date_of(command: Any) -> tuple[str, date] | None:
    """The command's own date of its fact, with the field's name (None if it has none)."""
    name = WORLD_DATE_FIELDS.get(getattr(command, "type", ""), "")
    value = getattr(command, name, None) if name else None
    return (name, value) if isinstance(value, date) else None


def world_time(command: Any, now: datetime) -> datetime:
    """When the command's fact happened: ``occurred_at``, else the end of its own date when
    that is a past day (so facts of that day recorded earlier still come before it), else
    ``now``."""
    occurred: datetime | None = getattr(command, "occurred_at", None)
    if occurred is not None:
        return occurred
    own = world_date_of(command)
    if own is not None and own[1] < local_date(now):
        return datetime.combine(own[1], time(23, 59), tzinfo=JST)
    return now


def dating_problem(
    command: Any, now: datetime, role: Role, policy: DatingPolicy
) -> DatingProblem | None:
    """Why the command's world time is not acceptable from ``role`` (None: it is)."""
    dates: list[tuple[str, date]] = []
    occurred: datetime | None = getattr(command, "occurred_at", None)
    if occurred is not None:
        if occurred > now + CLOCK_SKEW:
            return DatingProblem("in_future", "occurred_at",
                                 f"occurred_at: {occurred.isoformat()} is in the future")
        dates.append(("occurred_at", local_date(occurred)))
    own = world_date_of(command)
    if own is not None:
        if own[1] > local_date(now + CLOCK_SKEW):
            return DatingProblem("in_future", own[0], f"{own[0]}: {own[1]} is in the future")
        dates.append(own)
    days = policy.limit(role)
    if days is None:
        return None
    floor = local_date(now) - timedelta(days=days)
    for name, day in dates:
        if day < floor:
            return DatingProblem(
                "too_far_back", name,
                f"{name}: {day} is more than {days} days back (earliest {floor}); older "
                "records come in through the ledger migration (tsunagu ledger import)",
            )
    return None
