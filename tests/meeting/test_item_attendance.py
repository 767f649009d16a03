"""Issue 15, finding 4: attendance is per agenda item. An agency attending a meeting joins
only the cases it attended for; attending the meeting links it to no other case tabled
there. Proved on the meeting decider, the casefile decider, then end to end over NATS."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from contracts.case import MemberJoined
from contracts.commands_meeting import RecordMeetingHeld
from contracts.meeting import ItemAttendance, MeetingHeld, MeetingKind
from eventstore.errors import InvalidInput
from services.casefile import decisions
from services.casefile import domain as casefile
from services.meeting import domain
from services.meeting.state import Item, Meeting
from tests.casefile.world import World, settle
from tests.meeting.support import Driver, soon, today_jst

HELD_ON = date(2026, 6, 1)
MEETING = Meeting(
    "m1", status="scheduled", kind=MeetingKind.support_plan,
    scheduled_for=datetime(2026, 6, 1, 1, tzinfo=UTC), planned_on=date(2026, 5, 20),
    convened_by="shakyo", members=frozenset({"shakyo", "hokatsu", "fudosan"}),
    items=(Item("item-1", "c1", ()), Item("item-2", "c2", ()),
           Item("item-3", "c3", (), moved_to="m9")),
)


def _held(**over) -> RecordMeetingHeld:
    body = {"command_id": "h", "meeting_id": "m1", "held_on": HELD_ON.isoformat(),
            "attendees": ["shakyo", "hokatsu", "fudosan"],
            "item_attendees": [{"item_id": "item-1", "agencies": ["shakyo", "hokatsu"]},
                               {"item_id": "item-2", "agencies": ["shakyo", "fudosan"]}],
            **over}
    return RecordMeetingHeld.model_validate(body)


def test_the_meeting_records_who_attended_for_each_item_with_its_case():
    [held] = domain.held(_held(), MEETING, "shakyo", HELD_ON)
    assert isinstance(held, MeetingHeld)
    assert held.item_attendance == (
        ItemAttendance(item_id="item-1", case_id="c1", agencies=("shakyo", "hokatsu")),
        ItemAttendance(item_id="item-2", case_id="c2", agencies=("shakyo", "fudosan")))
    assert held.attended_for("c1") == ("shakyo", "hokatsu")


@pytest.mark.parametrize(("items", "fragment"), [
    ([{"item_id": "item-9", "agencies": ["shakyo"]}], "item-9 is not on the agenda"),
    ([{"item_id": "item-3", "agencies": ["shakyo"]}], "item-3 is not on the agenda"),
    ([{"item_id": "item-1", "agencies": ["kikan"]}], "kikan did not attend"),
    ([{"item_id": "item-1", "agencies": []}, {"item_id": "item-1", "agencies": []}],
     "listed twice"),
])
def test_item_attendance_names_items_on_the_agenda_and_agencies_that_attended(items, fragment):
    with pytest.raises(InvalidInput, match=fragment):
        domain.held(_held(item_attendees=items), MEETING, "shakyo", HELD_ON)


def test_an_agency_joins_only_the_case_it_attended_for():
    [held] = domain.held(_held(), MEETING, "shakyo", HELD_ON)
    assert isinstance(held, MeetingHeld)
    c1 = casefile.CaseState("c1", opened=True, members=frozenset({"shakyo"}))
    c2 = casefile.CaseState("c2", opened=True, members=frozenset({"shakyo"}))
    assert [(e.agency_id, e.case_id) for e in decisions.decide_attendance(c1, held)
            if isinstance(e, MemberJoined)] == [("hokatsu", "c1")]
    assert [(e.agency_id, e.case_id) for e in decisions.decide_attendance(c2, held)
            if isinstance(e, MemberJoined)] == [("fudosan", "c2")]


def test_an_older_meeting_held_event_without_item_attendance_joins_nobody():
    old = MeetingHeld.model_validate({"meeting_id": "m1", "held_on": "2026-06-01",
                                      "attendees": ["shakyo", "hokatsu"]})
    state = casefile.CaseState("c1", opened=True, members=frozenset({"shakyo"}))
    assert old.item_attendance is None and decisions.decide_attendance(state, old) == []


@pytest.fixture
async def both(nc, store, topology, services):
    world = await World(nc, store, topology).setup(services)
    rt = await services("casefile")  # World started the meeting service
    return world, Driver(nc, topology, store, rt["meeting"]), rt["casefile"]


async def test_attending_a_meeting_for_one_case_does_not_join_the_other_cases(
    both, nc, topology
):
    world, drv, casefile_rt = both
    await world.triaged_case("c1", "p1")
    await world.triaged_case("c2", "p2")
    for case_id in ("c1", "c2"):
        await world.consent(case_id, agencies=("hokatsu", "shakyo", "hellowork"),
                            consent_id=f"k-{case_id}", person_id=f"p{case_id[-1]}")
    meeting = await drv.ok("shakyo", "schedule_meeting", kind="support_plan",
                           scheduled_for=soon(), members=["hokatsu", "hellowork"])
    meeting_id = meeting["ids"]["meeting_id"]
    for case_id in (world.id("c1"), world.id("c2")):
        await drv.ok("shakyo", "table_case", meeting_id=meeting_id, case_id=case_id,
                     asks=["evaluate"])
    await drv.ok("shakyo", "record_meeting_held", meeting_id=meeting_id,
                 held_on=today_jst().isoformat(), attendees=["shakyo", "hokatsu", "hellowork"],
                 item_attendees=[{"item_id": "item-1", "agencies": ["hellowork"]},
                                 {"item_id": "item-2", "agencies": []}])
    await settle(nc, topology, casefile_rt)

    joined = {case_id: [e.event.agency_id for e in (await world.store.load("case", case_id))
                        .envelopes if isinstance(e.event, MemberJoined)]
              for case_id in (world.id("c1"), world.id("c2"))}
    assert joined == {world.id("c1"): ["hokatsu", "shakyo", "hellowork"],
                      world.id("c2"): ["hokatsu", "shakyo"]}
    mine = await drv.ask("hellowork", "my_cases")
    assert [c["case_id"] for c in mine] == [world.id("c1")]
