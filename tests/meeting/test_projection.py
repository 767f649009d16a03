"""The meeting projection on SQLite and PostgreSQL: counts per month, history, rebuild."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from eventstore.commands import request_patiently
from eventstore.db import make_engine
from eventstore.projection import ProjectionRunner, RunnerOptions
from services.meeting import projection as tables
from services.meeting import queries
from services.meeting.projection import MeetingProjection
from tests.meeting.support import COORD, HOKATSU, today_jst

JST = timezone(timedelta(hours=9))
FAST = RunnerOptions(batch=50, fetch_timeout=0.2, backoff=(0.01, 0.02, 0.05))


@pytest.fixture
def engine(db_url: str):
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


async def _meeting(go, kind: str, on: date, cancelled: bool = False, tag: str = "",
                   case: tuple[str, str] | None = None) -> str:
    """A meeting held (or cancelled) on ``on``, sent as commands about the past."""
    when = datetime(on.year, on.month, on.day, 1, 0, tzinfo=UTC).isoformat()
    reply = await go(COORD, "schedule_meeting", f"s{tag}", occurred_at=when, kind=kind,
                     scheduled_for=when, members=[HOKATSU])
    meeting_id = str(reply["ids"]["meeting_id"])
    if cancelled:
        await go(COORD, "cancel_meeting", f"x{tag}", occurred_at=when, meeting_id=meeting_id,
                 reason="中止")
        return meeting_id
    if case is not None:  # tabled with its plan before the meeting is held
        await go(COORD, "table_case", f"t{tag}", occurred_at=when, meeting_id=meeting_id,
                 case_id=case[0], asks=["approve_plan"], plan_id=case[1], plan_version=1)
    if kind == "confidential":
        await go(COORD, "acknowledge_confidentiality", f"a{tag}", occurred_at=when,
                 meeting_id=meeting_id)
    await go(COORD, "record_meeting_held", f"h{tag}", occurred_at=when, meeting_id=meeting_id,
             held_on=on.isoformat(), attendees=[COORD])
    return meeting_id


def _sender(nc, topology):
    """``go(agency, command, command_id, **body)``: a command about the past (migration
    subject), its reply checked ok."""

    async def go(agency: str, command: str, command_id: str, **body) -> dict:
        msg = await request_patiently(nc, topology.migrate_subject(agency, command),
                                      json.dumps({"command_id": command_id, **body}).encode())
        reply = json.loads(msg.data)
        assert reply["ok"], reply
        return dict(reply)

    return go


async def _case_with_plan(go, on: date) -> tuple[str, str]:
    """A referral triaged into a case, with consent, an assessment and a drafted plan."""
    when = datetime(on.year, on.month, on.day, tzinfo=JST).isoformat()  # never in the future
    submitted = await go(HOKATSU, "submit_referral", "ref", occurred_at=when,
                         contact_route="phone", concerns=["income"],
                         personal={"summary": "概要", "phone": "090-0000-0000"})
    case_id = (await go(COORD, "triage_referral", "tri", occurred_at=when,
                        referral_id=submitted["ids"]["referral_id"], outcome="complex",
                        triaged_on=on.isoformat()))["ids"]["case_id"]
    await go(COORD, "record_application", "app", occurred_at=when, case_id=case_id,
             applied_on=on.isoformat(), with_consent=True, consent={
                 "agencies": [COORD, HOKATSU], "purposes": ["重層的支援会議での共有"],
                 "method": "written", "given_on": on.isoformat(),
                 "obtained_by_staff": "相談員A", "form_ref": "同意書-1"})
    await go(COORD, "record_intake_assessment", "as", occurred_at=when, case_id=case_id,
             assessed_on=on.isoformat(), national_items={
                 "household": "with_children", "route": "agency", "main_concern": "income",
                 "urgency": "medium"}, personal={"situation": "状況"})
    drafted = await go(COORD, "draft_plan", "plan", occurred_at=when, case_id=case_id,
                       drafted_on=on.isoformat(), roles=[{"agency_id": HOKATSU, "role": "見守り"}],
                       personal={"long_term_goal": "安定した生活", "short_term_goals": ["受診"],
                                 "direction": "多機関で支える"})
    return str(case_id), str(drafted["ids"]["plan_id"])


async def test_meetings_held_are_counted_per_kind_and_month_and_a_rebuild_agrees(
    nc, topology, store, keyring, engine, directory, services
):
    await services("referral", "casefile", "meeting")
    go = _sender(nc, topology)
    case = await _case_with_plan(go, date(2025, 5, 1))
    case_id = case[0]
    await _meeting(go, "support_plan", date(2025, 5, 15), tag="1")
    m2 = await _meeting(go, "support_plan", date(2025, 6, 19), tag="2", case=case)
    await _meeting(go, "confidential", date(2025, 6, 3), tag="3")
    await _meeting(go, "confidential", date(2025, 6, 24), tag="4")
    await _meeting(go, "support_plan", date(2025, 6, 30), cancelled=True, tag="5")
    when = datetime(2025, 6, 19, 1, 0, tzinfo=UTC).isoformat()
    decided = await go(COORD, "record_decision", "d", occurred_at=when, meeting_id=m2,
                       item_id="item-1", decision="approve_plan", reason="適切")
    minutes = await go(COORD, "record_minutes", "m", occurred_at=when, meeting_id=m2,
                       text="議事の要旨")
    last = minutes["events"][-1]["seq"]
    runner = ProjectionRunner(nc, topology, MeetingProjection(), engine, keyring=keyring,
                              options=FAST)
    await runner.start()
    await runner.wait_for(last)

    def snapshot() -> tuple:
        with engine.connect() as conn:
            return (
                queries.meeting_counts(conn),
                queries.case_decisions(conn, HOKATSU, case_id),
                queries.read_minutes(conn, HOKATSU, m2),
                [tuple(r) for r in conn.execute(select(tables.meetings)
                                                .order_by(tables.meetings.c.meeting_id))],
            )

    live = snapshot()
    assert live[0] == [
        {"month": "2025-05", "kind": "support_plan", "held": 1},
        {"month": "2025-06", "kind": "confidential", "held": 2},
        {"month": "2025-06", "kind": "support_plan", "held": 1},
    ]
    with engine.connect() as conn:
        assert queries.meeting_counts(conn, "2025-06", "2025-06") == live[0][1:]
    assert [d["decision_id"] for d in live[1]] == [decided["ids"]["decision_id"]]
    assert live[2]["text"] == "議事の要旨"

    await runner.rebuild()
    await runner.wait_for(last)
    await runner.stop()
    assert snapshot() == live


async def test_the_service_runs_on_either_database(service_db, directory, services, nc,
                                                   topology, store, keyring):
    from tests.meeting.support import Driver

    rt = await services("referral", "casefile", "meeting")
    drv = Driver(nc, topology, store, rt["meeting"])
    case_id, plan_id = await _case_with_plan(_sender(nc, topology), today_jst())
    meeting_id = await drv.schedule()
    await drv.ok(COORD, "table_case", meeting_id=meeting_id, case_id=case_id,
                 asks=["approve_plan"], plan_id=plan_id, plan_version=1)
    await drv.hold(meeting_id)
    await drv.ok(COORD, "record_decision", meeting_id=meeting_id, item_id="item-1",
                 decision="approve_plan", reason="適切")
    [decision] = await drv.ask(HOKATSU, "case_decisions", case_id=case_id)
    assert decision["plan_id"] == plan_id
    counts = await drv.ask(HOKATSU, "meeting_counts")
    assert [c["held"] for c in counts] == [1]
    assert rt["meeting"].engine.dialect.name == service_db.split(":")[0]
