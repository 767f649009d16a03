"""The casefile projection applied directly (no NATS): determinism the feeds rely on."""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import select

from contracts.base import Actor
from contracts.case import CaseOpened, CaseOrigin, MemberJoined, MembershipReason
from contracts.common import SubjectRef
from contracts.person import PersonDataErased
from eventstore.codec import new_envelope
from eventstore.db import kit_metadata, make_engine, read_checkpoint
from eventstore.projection import ApplyContext
from eventstore.topology import Topology
from services.casefile import tables
from services.casefile.projection import FEED_MARK, CasefileProjection


def _apply(engine, projection, envs) -> list[dict]:
    ctx = ApplyContext(None)
    with engine.begin() as conn:
        for seq, env in enumerate(envs, start=1):
            ctx.seq = seq
            projection.apply(conn, env, ctx)
        ctx.finish(conn)
    return ctx._outbox


def test_a_rebuild_replays_the_rows_but_does_not_send_the_feeds_again(db_url):
    engine = make_engine(db_url)
    kit_metadata.create_all(engine)
    tables.metadata.create_all(engine)
    projection = CasefileProjection(Topology("tx"))
    actor = Actor(agency_id="shakyo")
    envs = [
        new_envelope(CaseOpened(case_id="c1", subject=SubjectRef(person_id="p1"),
                                origin=CaseOrigin.outreach, opened_on=date(2026, 5, 1),
                                coordinator="shakyo"), actor),
        new_envelope(MemberJoined(case_id="c1", agency_id="shakyo", joined_on=date(2026, 5, 1),
                                  how=MembershipReason.opened), actor),
    ]
    first = _apply(engine, projection, envs)
    # No audience before seq 2; the notice of the join goes out once too.
    assert [m["msg_id"] for m in first] == ["notice-shakyo-case_joined-2", "feed-shakyo-c1-2"]
    with engine.begin() as conn:
        live = [dict(r) for r in conn.execute(select(tables.timeline)).mappings()]
    tables.metadata.drop_all(engine)  # what the runner's rebuild does to our tables
    tables.metadata.create_all(engine)
    assert _apply(engine, projection, envs) == []
    with engine.begin() as conn:
        assert [dict(r) for r in conn.execute(select(tables.timeline)).mappings()] == live
    engine.dispose()


def _opened_with_members(*agencies: str) -> list:
    actor = Actor(agency_id="shakyo")
    envs = [new_envelope(CaseOpened(case_id="c1", subject=SubjectRef(person_id="p1"),
                                    origin=CaseOrigin.outreach, opened_on=date(2026, 5, 1),
                                    coordinator="shakyo"), actor)]
    for agency in agencies:
        envs.append(new_envelope(MemberJoined(case_id="c1", agency_id=agency,
                                              joined_on=date(2026, 5, 1),
                                              how=MembershipReason.opened), actor))
    return envs


def test_a_batch_sends_each_agency_one_view_of_a_case_as_of_its_last_event(db_url):
    engine = make_engine(db_url)
    kit_metadata.create_all(engine)
    tables.metadata.create_all(engine)
    projection = CasefileProjection(Topology("tx"))
    sent = [m for m in _apply(engine, projection,
                              _opened_with_members("shakyo", "hokatsu", "jiritsu"))
            if m["subject"].endswith(".case")]  # views; the joins' notices are their own
    # Four events, three agencies: one view each, not one per event per agency.
    assert sorted(m["msg_id"] for m in sent) == [
        "feed-hokatsu-c1-4", "feed-jiritsu-c1-4", "feed-shakyo-c1-4"]
    for message in sent:
        body = json.loads(message["data"])
        assert (body["seq"], body["event_type"]) == (4, "MemberJoined")
        assert body["view"]["case_id"] == "c1"
    with engine.begin() as conn:  # the feed mark moved to the batch's last event
        assert read_checkpoint(conn, FEED_MARK) == 4
    engine.dispose()


def test_a_case_erased_in_the_same_batch_sends_only_the_erasure_notice(db_url):
    engine = make_engine(db_url)
    kit_metadata.create_all(engine)
    tables.metadata.create_all(engine)
    projection = CasefileProjection(Topology("tx"))
    erased = new_envelope(PersonDataErased(person_id="p1", reason="本人の求め",
                                           erased_by="operator", key_ids=("p1", "c1")),
                          Actor(agency_id="ops"))
    sent = _apply(engine, projection, [*_opened_with_members("shakyo", "hokatsu"), erased])
    views = sorted(m["subject"] for m in sent if ".case_joined." not in m["subject"])
    assert views == ["tx.feed.hokatsu.c1.erased", "tx.feed.shakyo.c1.erased"]
    engine.dispose()
