"""Over NATS: a meeting held weeks ago is recorded after the fact by its agency; one held
beyond the backdating limit only through the migration subject."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import pytest

from eventstore.commands import request_patiently
from services.meeting.recurrence import JST
from tests.meeting.support import COORD, HOKATSU


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"backdate_days": 90})  # the default, not the tests'


def _ad_hoc(when: datetime) -> dict:
    # Never scheduled beforehand: scheduled in the world at the moment it took place.
    return {"command_id": uuid.uuid4().hex, "kind": "support_plan", "members": [HOKATSU],
            "scheduled_for": when.isoformat(), "occurred_at": when.isoformat()}


async def test_an_ad_hoc_meeting_weeks_ago_is_recorded_as_held_on_its_date(drv):
    when = datetime.now(JST).replace(hour=10, minute=0, second=0, microsecond=0) \
        - timedelta(days=20)
    reply = await drv.ok(COORD, "schedule_meeting", **_ad_hoc(when))
    meeting_id = reply["ids"]["meeting_id"]
    await drv.ok(COORD, "record_meeting_held", meeting_id=meeting_id,
                 held_on=when.date().isoformat(), attendees=[COORD, HOKATSU])
    history = await drv.store.load("meeting", meeting_id)
    assert [e.occurred_at.astimezone(JST).date() for e in history.envelopes] == [when.date()] * 2
    agenda = await drv.ask(COORD, "meeting_agenda", meeting_id=meeting_id)
    assert agenda["held_on"] == when.date().isoformat(), agenda


async def test_a_meeting_beyond_the_limit_comes_in_only_through_migration(drv, nc, topology):
    when = datetime(2025, 6, 18, 14, 0, tzinfo=JST)
    payload = _ad_hoc(when)
    await drv.refused(COORD, "schedule_meeting", "too_far_back", **payload)
    reply = await send_migrate(nc, topology, "schedule_meeting", payload)
    assert reply["ok"], reply
    held = {"command_id": uuid.uuid4().hex, "meeting_id": reply["ids"]["meeting_id"],
            "held_on": "2025-06-18", "attendees": [COORD, HOKATSU]}
    await drv.refused(COORD, "record_meeting_held", "too_far_back", **held)
    assert (await send_migrate(nc, topology, "record_meeting_held", held))["ok"]
    again = await send_migrate(nc, topology, "record_meeting_held", held)
    assert again["ok"] and again["replayed"]


async def send_migrate(nc, topology, command: str, payload: dict) -> dict:
    msg = await request_patiently(nc, topology.migrate_subject(COORD, command),
                                  json.dumps(payload).encode())
    return json.loads(msg.data)

