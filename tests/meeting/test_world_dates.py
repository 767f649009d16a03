"""World dates in the meeting's deciders (pure): a meeting is judged by when it was
scheduled and held in the world, not by when it was recorded."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from contracts.commands_meeting import RecordMeetingHeld, ScheduleMeeting
from contracts.meeting import MeetingKind
from eventstore.errors import InvalidInput
from services.meeting import domain
from services.meeting.recurrence import JST, local_date
from services.meeting.state import Meeting, evolve

NOW = datetime(2026, 10, 15, 12, 0, tzinfo=JST)
TODAY = local_date(NOW)


def scheduled(world: datetime, when: datetime) -> Meeting:
    """The meeting as folded from its MeetingScheduled, dated ``world`` in the world."""
    cmd = ScheduleMeeting(command_id="s1", kind=MeetingKind.support_plan, scheduled_for=when,
                          members=("hokatsu",))
    [event] = domain.schedule(cmd, Meeting("m1"), "coord", world)
    return evolve(Meeting("m1"), event, local_date(world))


def held_cmd(on: date) -> RecordMeetingHeld:
    return RecordMeetingHeld(command_id="h1", meeting_id="m1", held_on=on,
                             attendees=("coord", "hokatsu"))


def test_a_meeting_may_be_recorded_as_held_after_the_fact():
    meeting_day = datetime(2026, 9, 16, 14, 0, tzinfo=JST)
    m = scheduled(meeting_day - timedelta(days=20), meeting_day)
    [event] = domain.held(held_cmd(meeting_day.date()), m, "coord", TODAY)
    assert event.held_on == date(2026, 9, 16)


def test_an_ad_hoc_meeting_never_scheduled_beforehand_is_recorded_with_its_own_date():
    # Scheduled in the world at the moment it took place (occurred_at = scheduled_for).
    meeting_day = datetime(2026, 9, 30, 10, 0, tzinfo=JST)
    m = scheduled(meeting_day, meeting_day)
    assert m.planned_on == date(2026, 9, 30)
    [event] = domain.held(held_cmd(date(2026, 9, 30)), m, "coord", TODAY)
    assert event.held_on == date(2026, 9, 30)


def test_a_meeting_for_a_past_date_cannot_be_scheduled_as_of_now():
    with pytest.raises(InvalidInput, match="scheduled_for") as err:
        scheduled(NOW, NOW - timedelta(days=3))
    assert err.value.code == "in_past"


def test_a_meeting_is_not_held_before_it_was_scheduled_in_the_world():
    m = scheduled(datetime(2026, 9, 20, 9, 0, tzinfo=JST),
                  datetime(2026, 9, 25, 14, 0, tzinfo=JST))
    with pytest.raises(InvalidInput, match="before the meeting was scheduled"):
        domain.held(held_cmd(date(2026, 9, 19)), m, "coord", TODAY)


def test_a_meeting_is_not_recorded_as_held_in_the_future():
    m = scheduled(NOW, NOW + timedelta(days=2))
    with pytest.raises(InvalidInput, match="in the future"):
        domain.held(held_cmd(TODAY + timedelta(days=2)), m, "coord", TODAY)
