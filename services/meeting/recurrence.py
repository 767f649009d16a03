"""定例: when the monthly regular meeting falls (pure date arithmetic, Japan time)."""

from __future__ import annotations

import calendar
from datetime import date, datetime, time

from contracts.jst import JST
from contracts.meeting import RecurrenceRule
from eventstore.errors import InvalidInput

#: Japan has no daylight saving time, so a fixed offset is exact (and needs no tz database).
WEEKDAYS_JA = "月火水木金土日"


def local_date(moment: datetime) -> date:
    """The Japanese calendar day of an aware timestamp."""
    return moment.astimezone(JST).date()


def check_rule(rule: RecurrenceRule) -> None:
    by_day = rule.day_of_month is not None
    by_week = rule.week is not None or rule.weekday is not None
    if by_day == by_week:
        raise InvalidInput(
            "rule: give either day_of_month, or week and weekday (第N X曜日), not both or neither",
            details={"field": "rule"},
        )
    if by_week and (rule.week is None or rule.weekday is None):
        raise InvalidInput(
            "rule: week and weekday go together (e.g. week 3, weekday 3 = 第3木曜日)",
            details={"field": "rule"},
        )


def describe(rule: RecurrenceRule) -> str:
    at = f"{rule.hour:02d}:{rule.minute:02d}"
    if rule.day_of_month is not None:
        return f"毎月{rule.day_of_month}日 {at}"
    return f"毎月第{rule.week}{WEEKDAYS_JA[rule.weekday or 0]}曜日 {at}"


def day_in_month(rule: RecurrenceRule, year: int, month: int) -> date:
    if rule.day_of_month is not None:
        return date(year, month, rule.day_of_month)
    assert rule.week is not None and rule.weekday is not None
    first_weekday, _ = calendar.monthrange(year, month)
    offset = (rule.weekday - first_weekday) % 7
    return date(year, month, 1 + offset + 7 * (rule.week - 1))


def occurrence(rule: RecurrenceRule, year: int, month: int) -> datetime:
    day = day_in_month(rule, year, month)
    return datetime.combine(day, time(rule.hour, rule.minute), tzinfo=JST)


def next_occurrence(rule: RecurrenceRule, after: datetime) -> datetime:
    """The first occurrence strictly after ``after``."""
    local = after.astimezone(JST)
    year, month = local.year, local.month
    while True:
        candidate = occurrence(rule, year, month)
        if candidate > after:
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def occurrence_id(series_id: str, when: datetime) -> str:
    """One meeting per series and month: ``<series>-YYYYMM``."""
    local = when.astimezone(JST)
    return f"{series_id}-{local.year:04d}{local.month:02d}"
