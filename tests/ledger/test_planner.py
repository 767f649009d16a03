"""Rows to commands (pure): which command each row becomes, who sends it, in what order,
and command ids that depend on the ledger's keys only."""

from __future__ import annotations

import random
from pathlib import Path

from tests.ledger import small
from tsunagu.ledger.load import load_ledger
from tsunagu.ledger.planner import Ref, Step, person_id_for


def steps_of(tmp_path: Path, data: dict | None = None) -> list[Step]:
    _, steps, errors = load_ledger(small.write(tmp_path / "l.xlsx", data))
    assert not errors, errors
    return steps


def test_a_case_starting_in_multi_agency_opens_through_a_referral_and_its_triage(
    tmp_path: Path,
) -> None:
    steps = [s for s in steps_of(tmp_path) if s.label == "相談者 A-1"]
    submit, triage = steps[0], steps[1]
    assert (submit.command, submit.agency) == ("submit_referral", "houkatsu-1")
    assert submit.payload["occurred_at"] == "2025-04-10T00:02:00+09:00"
    assert submit.payload["personal"]["birth_date"].isoformat() == "1970-05-01"
    assert (triage.command, triage.agency) == ("triage_referral", "shakyo")
    assert triage.payload["referral_id"] == Ref("referral", "A-1")
    assert triage.payload["triaged_on"].isoformat() == "2025-04-10"
    # The triage's reply gives the case and its 多機関協働 enrollment.
    assert triage.captures == (Ref("case", "A-1"),
                               Ref("enrollment", "A-1/multi_agency/2025-04-10"))
    assert [s.command for s in steps[2:]] == ["record_application",
                                              "record_intake_assessment"]
    assert steps[2].payload["consent"]["given_on"].isoformat() == "2025-04-12"


def test_outreach_and_participation_open_cases_and_later_uses_start_enrollments(
    tmp_path: Path,
) -> None:
    steps = steps_of(tmp_path)
    a2 = [s for s in steps if s.label.startswith(("相談者 A-2", "事業の利用 A-2"))]
    assert [s.command for s in a2[:3]] == ["open_case", "start_enrollment", "end_enrollment"]
    opened, started, ended = a2[:3]
    assert opened.payload["program"] == "outreach"
    assert opened.payload["subject"] == {"person_id": person_id_for("A-2")}
    assert opened.payload["age_band"] == "20s"
    assert started.payload["program"] == "participation"
    assert ended.payload["enrollment_id"] == Ref("enrollment", "A-2/outreach/2025-05-01")
    a3 = next(s for s in steps if s.label == "相談者 A-3")
    assert a3.payload["subject"] == {"agency_id": "npo-1"} and a3.payload["personal"] is None


def test_a_plan_is_drafted_tabled_at_its_meeting_and_approved_there(tmp_path: Path) -> None:
    steps = steps_of(tmp_path)
    names = [(s.command, s.label) for s in steps]
    order = [names.index(x) for x in [
        ("draft_plan", "プラン A-1 M-1"), ("schedule_meeting", "会議 M-1"),
        ("table_case", "会議 M-1 A-1"), ("record_meeting_held", "会議 M-1"),
        ("record_decision", "会議 M-1 A-1")]]
    assert order == sorted(order)
    table = next(s for s in steps if s.command == "table_case" and s.label == "会議 M-1 A-1")
    assert table.payload["asks"] == ["approve_plan"]
    assert table.payload["plan_id"] == Ref("plan", "A-1/M-1")
    decision = next(s for s in steps if s.command == "record_decision")
    assert decision.payload["decision"] == "approve_plan"


def test_every_attendee_of_a_confidential_meeting_acknowledges_for_itself(
    tmp_path: Path,
) -> None:
    acks = [s for s in steps_of(tmp_path) if s.command == "acknowledge_confidentiality"]
    assert sorted(s.agency for s in acks) == ["houkatsu-1", "shakyo"]
    assert all(s.payload["meeting_id"] == Ref("meeting", "C-1") for s in acks)


def test_steps_go_in_world_time_order(tmp_path: Path) -> None:
    steps = steps_of(tmp_path)
    assert [s.at for s in steps] == sorted(s.at for s in steps)


def test_command_ids_come_from_the_ledger_keys_not_the_row_order(tmp_path: Path) -> None:
    first = {s.payload["command_id"]: s.command for s in steps_of(tmp_path)}
    data = small.rows()
    for rows in data.values():
        random.Random(3).shuffle(rows)
    again = {s.payload["command_id"]: s.command for s in steps_of(tmp_path, data)}
    assert again == first
    assert len(first) == len(steps_of(tmp_path))  # no two steps share an id


def test_each_step_goes_in_the_lanes_of_its_case_and_its_meeting(tmp_path: Path) -> None:
    steps = steps_of(tmp_path)
    lanes = {(s.command, s.label): s.lanes for s in steps}
    assert lanes["submit_referral", "相談者 A-1"] == ("case:A-1",)
    assert lanes["invite_case_member", "連携機関 A-1 hw-1"] == ("case:A-1",)
    assert lanes["schedule_meeting", "会議 M-1"] == ("meeting:M-1",)
    assert lanes["table_case", "会議 M-1 A-1"] == ("meeting:M-1", "case:A-1")
    assert lanes["acknowledge_confidentiality", "会議 C-1 houkatsu-1"] == ("meeting:C-1",)
