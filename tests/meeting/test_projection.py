"""The meeting projection on SQLite and PostgreSQL: counts per month, history, rebuild."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from contracts.base import Actor
from contracts.meeting import (
    Ask,
    CaseTabled,
    Decision,
    DecisionRecorded,
    MeetingCancelled,
    MeetingHeld,
    MeetingKind,
    MeetingScheduled,
    MinutesPersonal,
    MinutesRecorded,
)
from eventstore.codec import new_envelope
from eventstore.db import make_engine
from eventstore.projection import ProjectionRunner, RunnerOptions
from services.meeting import projection as tables
from services.meeting import queries
from services.meeting.projection import MeetingProjection
from tests.meeting.support import COORD, HOKATSU, give_consent, open_case

FAST = RunnerOptions(batch=50, fetch_timeout=0.2, backoff=(0.01, 0.02, 0.05))


@pytest.fixture
def engine(db_url: str):
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def _held(meeting_id: str, kind: MeetingKind, on: date, cancelled: bool = False) -> list:
    scheduled = MeetingScheduled(
        meeting_id=meeting_id, kind=kind, regular=False,
        scheduled_for=datetime(on.year, on.month, on.day, 1, 0, tzinfo=UTC),
        convened_by=COORD, members=(COORD, HOKATSU),
    )
    if cancelled:
        return [scheduled, MeetingCancelled(meeting_id=meeting_id, reason="中止")]
    return [scheduled, MeetingHeld(meeting_id=meeting_id, held_on=on, attendees=(COORD,))]


async def _append_all(store, keyring, events) -> int:
    seq = 0
    for event in events:
        sealed = await keyring.seal_event(event)
        [seq] = await store.append([new_envelope(sealed, Actor(agency_id=COORD))])
    return seq


async def test_meetings_held_are_counted_per_kind_and_month_and_a_rebuild_agrees(
    nc, topology, store, keyring, engine
):
    events = [
        *_held("m1", MeetingKind.support_plan, date(2025, 5, 15)),
        *_held("m2", MeetingKind.support_plan, date(2025, 6, 19)),
        *_held("m3", MeetingKind.confidential, date(2025, 6, 3)),
        *_held("m4", MeetingKind.confidential, date(2025, 6, 24)),
        *_held("m5", MeetingKind.support_plan, date(2025, 6, 30), cancelled=True),
        CaseTabled(meeting_id="m2", item_id="item-1", case_id="case-1",
                   asks=(Ask.approve_plan,), plan_id="plan-1", plan_version=1),
        DecisionRecorded(meeting_id="m2", decision_id="d-1", item_id="item-1", case_id="case-1",
                         decision=Decision.approve_plan, reason="適切",
                         decided_on=date(2025, 6, 19), plan_id="plan-1", plan_version=1),
        MinutesRecorded(meeting_id="m2", recorded_by=COORD,
                        personal=MinutesPersonal(text="議事の要旨")),
    ]
    last = await _append_all(store, keyring, events)
    runner = ProjectionRunner(nc, topology, MeetingProjection(), engine, keyring=keyring,
                              options=FAST)
    await runner.start()
    await runner.wait_for(last)

    def snapshot() -> tuple:
        with engine.connect() as conn:
            return (
                queries.meeting_counts(conn),
                queries.case_decisions(conn, HOKATSU, "case-1"),
                queries.read_minutes(conn, HOKATSU, "m2"),
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
    assert [d["decision_id"] for d in live[1]] == ["d-1"]
    assert live[2]["text"] == "議事の要旨"

    await runner.rebuild()
    await runner.wait_for(last)
    await runner.stop()
    assert snapshot() == live


async def test_the_service_runs_on_either_database(service_db, directory, services, nc,
                                                   topology, store, keyring):
    from tests.meeting.support import Driver

    rt = await services("meeting")
    drv = Driver(nc, topology, store, rt["meeting"])
    await open_case(store, keyring, "case-1")
    await give_consent(store, "case-1")
    meeting_id = await drv.schedule()
    await drv.ok(COORD, "table_case", meeting_id=meeting_id, case_id="case-1",
                 asks=["approve_plan"], plan_id="plan-1", plan_version=1)
    await drv.hold(meeting_id)
    await drv.ok(COORD, "record_decision", meeting_id=meeting_id, item_id="item-1",
                 decision="approve_plan", reason="適切")
    [decision] = await drv.ask(HOKATSU, "case_decisions", case_id="case-1")
    assert decision["plan_id"] == "plan-1"
    counts = await drv.ask(HOKATSU, "meeting_counts")
    assert [c["held"] for c in counts] == [1]
    assert rt["meeting"].engine.dialect.name == service_db.split(":")[0]
