"""Who gets which feed notice (pure), and reminders on their day, once (a real database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import create_engine, func, select

from contracts.case import (
    CaseClosed,
    CaseReturnedToComprehensive,
    CaseSuspended,
    LeadAgencyAssigned,
    NotAppliedCode,
    PlanApproved,
)
from contracts.feed import (
    PERSONAL_KINDS,
    CaseDecision,
    DecisionApplied,
    DecisionNotApplied,
    MeetingInvitation,
    ReferralAssigned,
    ReferralReceived,
    ReferralReturned,
    ReferralTriaged,
    TaskDue,
    notice_subject,
)
from contracts.jst import JST
from eventstore.db import kit_metadata, outbox
from eventstore.topology import Topology
from services.casefile import notices
from services.casefile import tables as t
from services.casefile.reminders import GRACE_DAYS, send_due

AT = "2026-05-01T09:00:00+09:00"


def test_a_new_referral_is_told_to_its_referrer_and_to_every_agency_that_triages():
    n = ReferralReceived(at=AT, seq=1, referral_id="r1", referring_agency="hokatsu")
    assert notices.recipients(n, triaging=["fukushi", "fukushi2"]) == [
        "fukushi", "fukushi2", "hokatsu"]


def test_a_returned_referral_goes_to_the_referrer_and_the_triager_with_its_reason():
    n = ReferralReturned(at=AT, seq=5, referral_id="r1", triaged_by="fukushi", reason="対象外")
    assert notices.recipients(n, referrer="hokatsu") == ["fukushi", "hokatsu"]
    assert n.model_dump()["reason"] == "対象外"


def test_an_ordinary_triage_tells_the_referrer_and_hands_it_to_the_assigned_agency():
    told = ReferralTriaged(at=AT, seq=5, referral_id="r1", outcome="ordinary",
                           triaged_by="fukushi", assigned_agency="shakyo")
    handed = ReferralAssigned(at=AT, seq=5, referral_id="r1", triaged_by="fukushi",
                              assigned_agency="shakyo")
    assert notices.recipients(told, referrer="hokatsu") == ["fukushi", "hokatsu"]
    assert notices.recipients(handed, referrer="hokatsu") == ["shakyo"]


def test_an_invitation_goes_to_each_invited_agency_and_no_one_else():
    n = MeetingInvitation(at=AT, seq=2, meeting_id="m1", meeting_kind="support_plan")
    assert notices.recipients(n, members=["shakyo", "hokatsu"],
                              audience=["police"]) == ["hokatsu", "shakyo"]


def test_a_decision_not_applied_reaches_the_convener_even_outside_the_case():
    n = DecisionNotApplied(at=AT, seq=9, case_id="c1", meeting_id="m1", decision_id="d1")
    assert notices.recipients(n, audience=["shakyo"], convener="fukushi") == [
        "fukushi", "shakyo"]
    d = CaseDecision(at=AT, seq=9, case_id="c1", meeting_id="m1", decision_id="d1",
                     decision="close", decided_on=date(2026, 5, 1))
    assert notices.recipients(d, audience=["shakyo"], convener="fukushi") == ["shakyo"]


def test_either_outcome_of_a_decision_reaches_the_convener_with_ids_and_a_code_only():
    applied = DecisionApplied(at=AT, seq=9, case_id="c1", meeting_id="m1", decision_id="d1",
                              event_type="PlanApproved", on=date(2026, 5, 1))
    missed = DecisionNotApplied(at=AT, seq=9, case_id="c1", meeting_id="m1", decision_id="d2",
                                code=NotAppliedCode.no_consent)
    for n in (applied, missed):
        assert notices.recipients(n, audience=["shakyo"], convener="fukushi") == [
            "fukushi", "shakyo"]
    assert notice_subject("tsunagu", "fukushi", applied) == (
        "tsunagu.feed.fukushi.c1.decision_applied.d1")
    assert missed.model_dump(mode="json")["code"] == "no_consent"
    assert "decision_applied" not in PERSONAL_KINDS  # ids, a type and a date: nothing personal
    assert set(notices.APPLIED_ON) == {
        PlanApproved, LeadAgencyAssigned, CaseClosed, CaseSuspended, CaseReturnedToComprehensive}


def test_notices_that_must_stay_have_their_own_subject_under_the_agencys_feed():
    def due(on: date) -> TaskDue:
        return TaskDue(at=AT, seq=1, case_id="c1", task="monitoring", due_on=on)

    subjects = {notice_subject("tsunagu", "npo", n) for n in (
        due(date(2026, 5, 1)), due(date(2026, 6, 1)),
        CaseDecision(at=AT, seq=3, case_id="c1", meeting_id="m1", decision_id="d1",
                     decision="close", decided_on=date(2026, 5, 1)),
        CaseDecision(at=AT, seq=4, case_id="c1", meeting_id="m1", decision_id="d2",
                     decision="close", decided_on=date(2026, 5, 1)))}
    assert len(subjects) == 4
    assert all(s.startswith("tsunagu.feed.npo.c1.") for s in subjects)
    assert "tsunagu.feed.npo.c1.case" not in subjects  # never replaces the case view


def test_a_tabling_not_taken_at_two_meetings_leaves_two_notices_not_one():
    """A tabling that could not be taken is named by its item id, and item ids repeat from
    meeting to meeting (item-1 at each): the notice of the first must not be replaced."""
    def missed(meeting: str) -> DecisionNotApplied:
        return DecisionNotApplied(at=AT, seq=9, case_id="c1", meeting_id=meeting,
                                  decision_id="item-1", code=NotAppliedCode.plan_not_drafted)

    first, second = (notice_subject("tsunagu", "fukushi", missed(m)) for m in ("m1", "m2"))
    assert first != second
    assert first == "tsunagu.feed.fukushi.c1.decision_not_applied.m1.item-1"


# ----- reminders: on the day, once, and not again after a rebuild -----------------------
TOPO = Topology("tsunagu")
DAY = date(2026, 7, 1)


def at(day: date, hour: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 1, tzinfo=JST)


@pytest.fixture
def db(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'r.db'}")
    t.metadata.create_all(engine)
    kit_metadata.create_all(engine)
    with engine.begin() as conn:
        _fill(conn)
    return engine


def _fill(conn) -> None:
    conn.execute(t.cases.insert(), {
        "case_id": "c1", "origin": "referral", "coordinator": "fukushi", "opened_on": DAY,
        "status": "open", "stage": "opened", "lead_agency": "hokatsu", "sex": "male",
        "age_band": "50s", "erased": False, "last_seq": 7})
    notices._due(conn, "c1", "monitoring", None, None, DAY)
    notices._due(conn, "c1", "plan_role_end", "p1", "shakyo", DAY + timedelta(days=1))


def _sent(engine) -> list[tuple[str, bytes]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(outbox.c.subject, outbox.c.data).order_by(outbox.c.id))]


def _send(engine, now: datetime) -> int:
    with engine.begin() as conn:
        return send_due(conn, TOPO, now)


def test_a_monitoring_reminder_goes_to_the_lead_on_its_day_in_japan_and_once(db):
    assert _send(db, at(DAY - timedelta(days=1), 23)) == 0
    # 15:30 UTC the day before is already the day in Japan (00:30 JST).
    assert _send(db, datetime(2026, 6, 30, 15, 30, tzinfo=UTC)) == 1
    assert _send(db, at(DAY, 9)) == 0
    assert _send(db, at(DAY, 23)) == 0
    sent = _sent(db)
    assert [s for s, _ in sent] == [
        f"tsunagu.feed.hokatsu.c1.task_due.monitoring.case.{DAY.isoformat()}"]
    assert b'"task":"monitoring"' in sent[0][1]


def test_a_plan_role_end_reminds_that_roles_agency_the_next_day(db):
    _send(db, at(DAY, 1))
    assert _send(db, at(DAY + timedelta(days=1), 1)) == 1
    assert _sent(db)[-1][0].startswith("tsunagu.feed.shakyo.c1.task_due.plan_role_end.p1.")


def test_a_rebuild_or_a_restart_never_sends_a_reminder_again(db):
    assert _send(db, at(DAY, 8)) == 1
    t.metadata.drop_all(db)  # what a rebuild does: the projection's tables go, marks stay
    t.metadata.create_all(db)
    with db.begin() as conn:
        _fill(conn)
    assert _send(db, at(DAY, 9)) == 0
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(outbox)).scalar() == 1


def test_a_reminder_missed_while_down_goes_out_late_but_not_after_the_grace(db):
    assert _send(db, at(DAY + timedelta(days=GRACE_DAYS), 0)) == 2
    with db.begin() as conn:
        notices._due(conn, "c1", "monitoring", None, None, DAY - timedelta(days=30))
    assert _send(db, at(DAY + timedelta(days=GRACE_DAYS), 5)) == 0


def test_a_closed_case_has_nothing_due(db):
    with db.begin() as conn:
        conn.execute(t.cases.update().values(status="closed"))
    assert _send(db, at(DAY, 9)) == 0


def test_an_erasure_removes_every_feed_message_that_may_hold_the_persons_data():
    from services.casefile.erasure import personal_feed_message

    kept = ["t.feed.npo.c1.erased", "t.feed.npo.c1.case_joined.npo",
            "t.feed.npo.m1.meeting_invitation",
            "t.feed.npo.c1.task_due.monitoring.case.2026-05-01", "t.feed.npo.c2.case"]
    gone = ["t.feed.npo.c1.case", "t.feed.npo.c1.case_decision.d1",
            "t.feed.npo.c1.decision_not_applied.d2", "t.feed.npo.c1.decision_not_applied.m1.item-1"]
    assert [s for s in kept + gone if personal_feed_message("t", s, {"c1"})] == gone
