"""World time (contracts/worldtime.py): pure rules of how a command may date its fact."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from contracts.commands_meeting import RecordMeetingHeld
from contracts.worldtime import DatingPolicy, dating_problem, local_date, world_time

NOW = datetime(2026, 10, 15, 3, 0, tzinfo=UTC)  # 12:00 in Japan


def held(on: date, occurred_at: datetime | None = None) -> RecordMeetingHeld:
    return RecordMeetingHeld(command_id="c1", meeting_id="m1", held_on=on, attendees=("a",),
                             occurred_at=occurred_at)


def test_a_fact_dated_in_the_future_is_refused():
    problem = dating_problem(held(local_date(NOW) + timedelta(days=1)), NOW, "agency",
                             DatingPolicy())
    assert problem is not None and problem.code == "in_future" and problem.field == "held_on"
    later = held(local_date(NOW), occurred_at=NOW + timedelta(hours=1))
    problem = dating_problem(later, NOW, "migration", DatingPolicy())
    assert problem is not None and problem.code == "in_future"
    assert problem.field == "occurred_at"


def test_a_clock_running_a_little_fast_is_not_the_future():
    cmd = held(local_date(NOW), occurred_at=NOW + timedelta(minutes=4))
    assert dating_problem(cmd, NOW, "agency", DatingPolicy()) is None


def test_an_agency_may_date_a_record_at_most_90_days_back():
    edge = held(local_date(NOW) - timedelta(days=90))
    assert dating_problem(edge, NOW, "agency", DatingPolicy()) is None
    beyond = held(local_date(NOW) - timedelta(days=91))
    problem = dating_problem(beyond, NOW, "agency", DatingPolicy())
    assert problem is not None and problem.code == "too_far_back"
    assert "90 days" in problem.message and "ledger" in problem.message


def test_the_migration_role_may_date_a_record_without_the_limit():
    old = held(date(2025, 4, 10), occurred_at=datetime(2025, 4, 10, 5, tzinfo=UTC))
    assert dating_problem(old, NOW, "migration", DatingPolicy()) is None
    assert dating_problem(old, NOW, "reaction", DatingPolicy()) is None
    assert dating_problem(old, NOW, "agency", DatingPolicy()) is not None


def test_an_old_occurred_at_is_held_to_the_limit_too():
    cmd = held(local_date(NOW), occurred_at=NOW - timedelta(days=120))
    problem = dating_problem(cmd, NOW, "agency", DatingPolicy())
    assert problem is not None and problem.field == "occurred_at"


def test_the_backdating_limit_is_configurable():
    cmd = held(local_date(NOW) - timedelta(days=20))
    assert dating_problem(cmd, NOW, "agency", DatingPolicy(agency_days=30)) is None
    assert dating_problem(cmd, NOW, "agency", DatingPolicy(agency_days=10)) is not None


def test_the_world_time_is_occurred_at_else_the_commands_own_past_date_else_now():
    at = datetime(2026, 9, 1, 5, tzinfo=UTC)
    assert world_time(held(date(2026, 8, 30), occurred_at=at), NOW) == at
    own = world_time(held(date(2026, 9, 3)), NOW)
    assert local_date(own) == date(2026, 9, 3)
    assert world_time(held(local_date(NOW)), NOW) == NOW
