"""Scheduling over real NATS: ad hoc meetings, 定例 that recurs, invitations, cancel, reschedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contracts.meeting import MeetingScheduled
from services.meeting.recurrence import JST
from tests.helpers import retire_agency
from tests.meeting.support import COORD, HOKATSU, KIKAN, OUTSIDER, SHAKYO, soon, today_jst


async def test_an_ad_hoc_meeting_shows_to_its_invited_agencies_and_no_one_else(drv):
    meeting_id = await drv.schedule(members=(HOKATSU, KIKAN), title="Aさん世帯の支援方針")
    for agency in (COORD, HOKATSU, KIKAN):
        listed = await drv.ask(agency, "meetings")
        assert [m["meeting_id"] for m in listed] == [meeting_id]
        assert listed[0]["title"] == "Aさん世帯の支援方針" and not listed[0]["regular"]
    assert await drv.ask(OUTSIDER, "meetings") == []
    await drv.ask_refused(OUTSIDER, "meeting_agenda", "forbidden", meeting_id=meeting_id)


async def test_a_meeting_in_the_past_cannot_be_scheduled_as_new(drv):
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    error = await drv.refused(COORD, "schedule_meeting", "in_past", kind="support_plan",
                              scheduled_for=yesterday, members=[HOKATSU])
    assert "scheduled_for" in error["message"] and "past" in error["message"]


async def test_only_the_coordination_convenes_meetings(drv):
    error = await drv.refused(HOKATSU, "schedule_meeting", "forbidden", kind="support_plan",
                              scheduled_for=soon(), members=[KIKAN])
    assert "can_triage" in error["message"]


async def test_a_retired_or_unknown_agency_cannot_send_a_meeting_command(drv):
    meeting_id = await drv.schedule()
    await retire_agency(drv.store, HOKATSU)
    for agency in (HOKATSU, "nobody"):
        error = await drv.refused(agency, "acknowledge_confidentiality", "forbidden",
                                  meeting_id=meeting_id)
        assert "not an active entry" in error["message"]
        assert error["details"] == {"agency_id": agency}


async def test_a_member_that_is_not_in_the_directory_cannot_be_invited(drv):
    error = await drv.refused(COORD, "schedule_meeting", "unknown_agency", kind="support_plan",
                              scheduled_for=soon(), members=[HOKATSU, "nobody"])
    assert "members" in error["message"] and "nobody" in error["message"]
    meeting_id = await drv.schedule()
    await drv.refused(COORD, "invite_member", "unknown_agency", meeting_id=meeting_id,
                      agency_id="nobody")


async def test_a_timestamp_without_a_timezone_is_refused_naming_the_field(drv):
    naive = (datetime.now() + timedelta(days=2)).replace(microsecond=0).isoformat()
    error = await drv.refused(COORD, "schedule_meeting", "invalid", kind="support_plan",
                              scheduled_for=naive, members=[HOKATSU])
    assert "scheduled_for" in error["message"]


async def test_a_retried_schedule_gets_the_original_reply_and_one_meeting(drv):
    when = soon()  # a retry sends the same body (another one is refused: command_id_reused)
    first = await drv.ok(COORD, "schedule_meeting", command_id="sched-1", kind="support_plan",
                         scheduled_for=when, members=[HOKATSU])
    again = await drv.send(COORD, "schedule_meeting", command_id="sched-1", kind="support_plan",
                           scheduled_for=when, members=[HOKATSU])
    assert again["ok"] and again["replayed"] and again["events"] == first["events"]
    assert len(await drv.ask(HOKATSU, "meetings")) == 1


async def test_a_meeting_is_rescheduled_but_never_into_the_past(drv):
    meeting_id = await drv.schedule()
    later = (datetime.now(UTC) + timedelta(days=10)).replace(microsecond=0)
    await drv.ok(COORD, "reschedule_meeting", meeting_id=meeting_id,
                 scheduled_for=later.isoformat(), reason="会場の都合")
    listed = await drv.ask(HOKATSU, "meetings")
    assert datetime.fromisoformat(listed[0]["scheduled_for"]) == later
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    await drv.refused(COORD, "reschedule_meeting", "in_past", meeting_id=meeting_id,
                      scheduled_for=past)


async def test_only_the_convener_cancels_and_a_cancelled_meeting_takes_no_more_changes(drv):
    meeting_id = await drv.schedule()
    await drv.refused(HOKATSU, "cancel_meeting", "forbidden", meeting_id=meeting_id,
                      reason="都合")
    await drv.ok(COORD, "cancel_meeting", meeting_id=meeting_id, reason="本人入院のため")
    assert await drv.ask(HOKATSU, "meetings") == []
    listed = await drv.ask(HOKATSU, "meetings", include_past=True)
    assert listed[0]["status"] == "cancelled"
    await drv.refused(COORD, "cancel_meeting", "meeting_cancelled", meeting_id=meeting_id,
                      reason="again")
    await drv.refused(COORD, "reschedule_meeting", "meeting_cancelled", meeting_id=meeting_id,
                      scheduled_for=soon(5))
    await drv.refused(COORD, "invite_member", "meeting_cancelled", meeting_id=meeting_id,
                      agency_id=KIKAN)
    await drv.refused(COORD, "table_case", "meeting_cancelled", meeting_id=meeting_id,
                      case_id="case-x", asks=["evaluate"])


async def test_an_unknown_meeting_is_refused_naming_it(drv):
    error = await drv.refused(COORD, "cancel_meeting", "not_found", meeting_id="mtg-nope",
                              reason="x")
    assert "mtg-nope" in error["message"]
    await drv.ask_refused(COORD, "meeting_agenda", "not_found", meeting_id="mtg-nope")


async def test_outside_professionals_are_members_of_that_meeting_only(drv):
    lawyer = {"member_id": "ext-lawyer", "profession": "弁護士", "name": "佐藤"}
    first = await drv.schedule(external_members=[lawyer])
    await drv.ok(COORD, "invite_member", meeting_id=first,
                 external={"member_id": "ext-doc", "profession": "医師"})
    await drv.refused(COORD, "invite_member", "already_member", meeting_id=first,
                      external={"member_id": "ext-doc", "profession": "医師"})
    agenda = await drv.ask(HOKATSU, "meeting_agenda", meeting_id=first)
    professions = sorted(m["profession"] for m in agenda["members"] if m["external_id"])
    assert professions == ["医師", "弁護士"]
    second = await drv.schedule()
    agenda2 = await drv.ask(HOKATSU, "meeting_agenda", meeting_id=second)
    assert [m for m in agenda2["members"] if m["external_id"]] == []


async def test_attendees_are_chosen_per_meeting_by_invitation(drv):
    meeting_id = await drv.schedule(members=(HOKATSU,))
    assert await drv.ask(SHAKYO, "meetings") == []
    await drv.ok(COORD, "invite_member", meeting_id=meeting_id, agency_id=SHAKYO)
    assert [m["meeting_id"] for m in await drv.ask(SHAKYO, "meetings")] == [meeting_id]
    await drv.refused(COORD, "invite_member", "already_member", meeting_id=meeting_id,
                      agency_id=SHAKYO)
    await drv.refused(COORD, "invite_member", "invalid", meeting_id=meeting_id)


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


async def test_the_monthly_regular_meeting_recurs_when_it_is_held(drv):
    rule = {"week": 3, "weekday": 3, "hour": 14}  # 毎月第3木曜日 14:00
    reply = await drv.ok(COORD, "start_meeting_series", kind="support_plan", rule=rule,
                         members=[HOKATSU, KIKAN], title="重層的支援会議(定例)")
    series_id = reply["ids"]["meeting_series_id"]
    first_id = reply["ids"]["meeting_id"]
    [first] = await drv.ask(KIKAN, "meetings")
    assert first["meeting_id"] == first_id and first["regular"] and first["series_id"] == series_id
    when = datetime.fromisoformat(first["scheduled_for"]).astimezone(JST)
    assert when.weekday() == 3 and 15 <= when.day <= 21 and when.hour == 14
    assert when > datetime.now(UTC)

    held = await drv.hold(first_id)
    assert [e["type"] for e in held["events"]] == ["MeetingHeld", "MeetingScheduled"]
    upcoming = await drv.ask(KIKAN, "meetings")
    assert len(upcoming) == 1 and upcoming[0]["meeting_id"] != first_id
    nxt = datetime.fromisoformat(upcoming[0]["scheduled_for"]).astimezone(JST)
    assert (nxt.year, nxt.month) == _next_month(when.year, when.month)
    assert nxt.weekday() == 3 and 15 <= nxt.day <= 21 and nxt.hour == 14
    [scheduled] = await drv.events_of(upcoming[0]["meeting_id"])
    assert isinstance(scheduled, MeetingScheduled)
    assert scheduled.regular and scheduled.series_id == series_id
    assert set(scheduled.members) == {COORD, HOKATSU, KIKAN}


async def test_a_cancelled_regular_meeting_is_followed_by_the_next_one(drv):
    reply = await drv.ok(COORD, "start_meeting_series", kind="confidential",
                         rule={"day_of_month": 10, "hour": 10, "minute": 30}, members=[HOKATSU])
    first_id = reply["ids"]["meeting_id"]
    await drv.ok(COORD, "cancel_meeting", meeting_id=first_id, reason="祝日のため")
    [nxt] = await drv.ask(HOKATSU, "meetings")
    assert nxt["meeting_id"] != first_id and nxt["kind"] == "confidential"
    when = datetime.fromisoformat(nxt["scheduled_for"]).astimezone(JST)
    assert (when.day, when.hour, when.minute) == (10, 10, 30)


async def test_an_ended_series_schedules_no_more_meetings(drv):
    reply = await drv.ok(COORD, "start_meeting_series", kind="support_plan",
                         rule={"day_of_month": 5, "hour": 9}, members=[HOKATSU])
    series_id, first_id = reply["ids"]["meeting_series_id"], reply["ids"]["meeting_id"]
    await drv.refused(HOKATSU, "end_meeting_series", "forbidden", series_id=series_id,
                      reason="x")
    await drv.ok(COORD, "end_meeting_series", series_id=series_id, reason="要綱改正")
    await drv.refused(COORD, "end_meeting_series", "series_ended", series_id=series_id,
                      reason="again")
    await drv.hold(first_id)
    assert await drv.ask(HOKATSU, "meetings") == []


async def test_a_series_rule_must_use_exactly_one_form(drv):
    error = await drv.refused(COORD, "start_meeting_series", "invalid", kind="support_plan",
                              rule={"day_of_month": 5, "week": 1, "weekday": 2, "hour": 9})
    assert "rule" in error["message"]
    await drv.refused(COORD, "start_meeting_series", "invalid", kind="support_plan",
                      rule={"week": 1, "hour": 9})
    await drv.refused(COORD, "start_meeting_series", "invalid", kind="support_plan",
                      rule={"day_of_month": 31, "hour": 9})
    await drv.refused(COORD, "start_meeting_series", "in_past", kind="support_plan",
                      rule={"day_of_month": 5, "hour": 9},
                      first_on=(today_jst() - timedelta(days=1)).isoformat())


async def test_holding_a_regular_meeting_twice_by_retry_schedules_the_next_one_once(drv):
    reply = await drv.ok(COORD, "start_meeting_series", kind="support_plan",
                         rule={"day_of_month": 20, "hour": 13}, members=[HOKATSU])
    first_id = reply["ids"]["meeting_id"]
    held = {"command_id": "held-1", "meeting_id": first_id, "held_on": today_jst().isoformat(),
            "attendees": [COORD]}
    first = await drv.ok(COORD, "record_meeting_held", **held)
    before = await drv.last_seq()
    again = await drv.send(COORD, "record_meeting_held", **held)
    assert again["ok"] and again["replayed"] and again["events"] == first["events"]
    assert await drv.last_seq() == before
    assert len(await drv.ask(HOKATSU, "meetings")) == 1


async def test_a_retried_series_start_gets_the_original_reply_with_its_first_meeting(drv):
    start = {"command_id": "series-1", "kind": "support_plan",
             "rule": {"week": 2, "weekday": 1, "hour": 10}, "members": [HOKATSU]}
    first = await drv.ok(COORD, "start_meeting_series", **start)
    again = await drv.send(COORD, "start_meeting_series", **start)
    assert again["replayed"] and again["events"] == first["events"]
    assert again["ids"] == first["ids"] and len(first["events"]) == 2
