"""連携した機関 through meetings follows per-item attendance (issue 15, finding 4): an agency
attending for one agenda item is linked to that case only; meetings recorded before
attendance was per item keep linking every attendee to every tabled case, as counted then."""

from __future__ import annotations

from datetime import date

from contracts.common import Program
from services.stats import domain as d

HELD = date(2025, 10, 1)
TABLED = (d.Tabled("m1", "c1", Program.multi_agency), d.Tabled("m1", "c2", Program.multi_agency),
          d.Tabled("m0", "c1", Program.multi_agency), d.Tabled("m0", "c2", Program.multi_agency))
MEETINGS = (d.Meeting("m1", "support_plan", HELD), d.Meeting("m0", "support_plan", HELD))


def _links(s: d.Snapshot) -> set[tuple[str, str]]:
    return {(link.case_id, link.agency_id) for link in d.all_links(s)}


def test_an_agency_attending_for_one_item_is_linked_to_that_case_only():
    s = d.Snapshot(meetings=MEETINGS[:1], tabled=TABLED[:2],
                   item_attendees=(("m1", "c1", "fudosan"), ("m1", "c2", "hokatsu")))
    assert _links(s) == {("c1", "fudosan"), ("c2", "hokatsu")}


def test_a_meeting_recorded_before_per_item_attendance_links_as_it_did():
    s = d.Snapshot(meetings=MEETINGS[1:], tabled=TABLED[2:], attendees=(("m0", "fudosan"),))
    assert _links(s) == {("c1", "fudosan"), ("c2", "fudosan")}
