"""The casefile projection applied directly (no NATS): determinism the feeds rely on."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from contracts.base import Actor
from contracts.case import CaseOpened, CaseOrigin, MemberJoined, MembershipReason
from contracts.common import SubjectRef
from eventstore.codec import new_envelope
from eventstore.db import kit_metadata, make_engine
from eventstore.projection import ApplyContext
from eventstore.topology import Topology
from services.casefile import tables
from services.casefile.projection import CasefileProjection


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
    assert [m["msg_id"] for m in first] == ["feed-shakyo-c1-2"]  # no audience before seq 2
    with engine.begin() as conn:
        live = [dict(r) for r in conn.execute(select(tables.timeline)).mappings()]
    tables.metadata.drop_all(engine)  # what the runner's rebuild does to our tables
    tables.metadata.create_all(engine)
    assert _apply(engine, projection, envs) == []
    with engine.begin() as conn:
        assert [dict(r) for r in conn.execute(select(tables.timeline)).mappings()] == live
    engine.dispose()
