"""The casefile projection's notices, applied in one transaction with a real database (no
broker): meetings tell their invited agencies, a decision's reason goes only where the
consent rule allows and its delivery is recorded beside it, a rebuild sends nothing."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from contracts.base import Actor
from contracts.case import CaseOpened, CaseOrigin, MemberJoined, MembershipReason, SubjectPersonal
from contracts.common import SubjectRef, sealable
from contracts.consent import ConsentMethod, ConsentRecorded
from contracts.meeting import (
    Decision,
    DecisionRecorded,
    MeetingCancelled,
    MeetingKind,
    MeetingRescheduled,
    MeetingScheduled,
    MemberInvited,
)
from eventstore.codec import new_envelope
from eventstore.db import kit_metadata, make_engine
from eventstore.projection import ApplyContext
from eventstore.topology import Topology
from services.casefile import tables
from services.casefile.projection import CasefileProjection

D = date(2026, 5, 1)
WHEN = datetime(2026, 5, 20, 1, 0, tzinfo=UTC)
REASON = "本人の体調が回復した"


def _case() -> list:
    return [
        CaseOpened(case_id="c1", subject=SubjectRef(person_id="p1"), origin=CaseOrigin.outreach,
                   opened_on=D, coordinator="shakyo",
                   personal=SubjectPersonal(name="山田花子", phone="090-1234-5678")),
        MemberJoined(case_id="c1", agency_id="shakyo", joined_on=D, how=MembershipReason.opened),
        MemberJoined(case_id="c1", agency_id="hokatsu", joined_on=D,
                     how=MembershipReason.invitation),
        ConsentRecorded(case_id="c1", consent_id="k1", person_id="p1", agencies=("shakyo",),
                        purposes=("支援調整",), method=ConsentMethod.written,
                        obtained_by="shakyo", given_on=D),
    ]


def _meeting() -> list:
    return [
        MeetingScheduled(meeting_id="m1", kind=MeetingKind.support_plan, regular=False,
                         scheduled_for=WHEN, convened_by="shakyo", members=("hokatsu",),
                         title="山田花子さんの支援"),
        MemberInvited(meeting_id="m1", agency_id="jiritsu"),
        MeetingRescheduled(meeting_id="m1", scheduled_for=WHEN.replace(hour=5)),
        MeetingCancelled(meeting_id="m1", reason="日程調整"),
    ]


def _apply(engine, events: list) -> list[dict]:
    ctx = ApplyContext(None)
    with engine.begin() as conn:
        for seq, e in enumerate(events, start=1):
            ctx.seq = seq
            CasefileProjection(Topology("tx")).apply(
                conn, new_envelope(e, Actor(agency_id="shakyo")), ctx)
        ctx.finish(conn)
    return ctx._outbox


def _engine(db_url: str):
    engine = make_engine(db_url)
    kit_metadata.create_all(engine)
    tables.metadata.create_all(engine)
    return engine


def test_a_meeting_tells_each_invited_agency_of_its_invitation_change_and_cancellation(db_url):
    engine = _engine(db_url)
    sent = _apply(engine, _meeting())
    engine.dispose()
    got = sorted((m["subject"], m["headers"]["Tsunagu-Kind"]) for m in sent)
    assert got == [(f"tx.feed.{a}.m1.{k}", k) for a in ("hokatsu", "jiritsu")
                   for k in ("meeting_cancelled", "meeting_changed", "meeting_invitation")]
    assert all("山田" not in m["data"].decode() for m in sent)  # a title may name the person


def test_a_decisions_reason_goes_only_to_a_covered_agency_and_is_recorded(db_url):
    engine = _engine(db_url)
    decided = DecisionRecorded(meeting_id="m1", decision_id="d1", item_id="i1", case_id="c1",
                               decision=Decision.close, personal_reason=sealable(REASON),
                               decided_on=D)
    sent = _apply(engine, [*_case(), *_meeting()[:1], decided])
    engine.dispose()
    decisions = {m["subject"].split(".")[2]: json.loads(m["data"]) for m in sent
                 if m["headers"] and m["headers"].get("Tsunagu-Kind") == "case_decision"}
    assert decisions["shakyo"]["reason"] == REASON  # consent covers shakyo
    assert decisions["hokatsu"]["reason"] is None  # a member, but not covered
    records = [json.loads(m["data"]) for m in sent if ".disclosure." in m["subject"]
               and "decision.reason" in json.loads(m["data"])["fields"]]
    assert [(r["agency"], r["basis"]["consent_id"], r["record_id"]) for r in records] == [
        ("shakyo", "k1", "notice-shakyo-case_decision-6")]


def test_a_rebuild_sends_no_notice_again(db_url):
    engine = _engine(db_url)
    events = [*_case(), *_meeting()]
    assert _apply(engine, events)
    tables.metadata.drop_all(engine)  # what the runner's rebuild does to our tables
    tables.metadata.create_all(engine)
    assert _apply(engine, events) == []
    engine.dispose()
