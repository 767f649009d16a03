"""The casefile projection's batched writes (services/casefile/batch.py) against an apply of
one event per transaction, over a realistic history (the rebuild bench's, bench/history.py)
with a person erased in the middle of a batch."""

from __future__ import annotations

from sqlalchemy import Engine, select

from bench.history import District, envelopes
from contracts.base import Actor, PersonalData
from contracts.case import CaseEvent, CaseOpened
from contracts.envelope import Envelope
from contracts.person import PersonDataErased
from eventstore.codec import new_envelope
from eventstore.db import kit_metadata, make_engine
from eventstore.projection import ApplyContext
from eventstore.topology import Topology
from services.casefile import tables
from services.casefile.projection import CasefileProjection


def _history() -> list[Envelope]:
    world = District(seed=3, number=0, people=40)
    envs = envelopes(world.build(), seed=3)[:1200]
    # Erased mid-batch (the second batch is events 501–1000): a person whose case has an
    # event in that batch before the erasure and a personal block after it.
    before = {e.event.case_id for e in envs[500:650] if isinstance(e.event, CaseEvent)}
    after = [e.event.case_id for e in envs[650:1000] if isinstance(e.event, CaseEvent)
             and isinstance(getattr(e.event, "personal", None), PersonalData)]
    case_id = next(c for c in after if c in before)
    opened = [e.event for e in envs if isinstance(e.event, CaseOpened)]
    person = next(o.subject.person_id for o in opened if o.case_id == case_id)
    cases = tuple(o.case_id for o in opened if o.subject.person_id == person)
    erased = new_envelope(PersonDataErased(person_id=person, reason="本人の求め",
                                           erased_by="operator", key_ids=(person, *cases)),
                          Actor(agency_id="ops"))
    return [*envs[:650], erased, *envs[650:]]


def _stage(case: dict, plans: list[dict], monitored: bool, assessed: bool) -> str:
    """The stage rule (domain.CaseState.stage) over the projection's own rows."""
    if case["status"] != "open":
        return str(case["status"])
    if any(p["approved_on"] for p in plans):
        return "monitoring" if monitored else "support"
    if any(p["tabled_at"] for p in plans):
        return "plan_tabled"
    return "plan_drafted" if plans else "assessed" if assessed else "opened"


def _staged_as_the_rows_say(db_url: str, envs: list[Envelope]) -> None:
    """Each case's stage and last sequence, as an UPDATE after its last event sets them."""
    last: dict[str, int] = {}
    for seq, env in enumerate(envs, start=1):
        if isinstance(env.event, CaseEvent):
            last[env.event.case_id] = seq
    engine = make_engine(db_url)
    with engine.begin() as conn:
        def rows(table):
            return [dict(r) for r in conn.execute(select(table)).mappings()]
        plans, cases = rows(tables.plans), rows(tables.cases)
        monitored = {r["case_id"] for r in rows(tables.monitorings)}
        assessed = {r["case_id"] for r in rows(tables.assessments)}
    engine.dispose()
    assert len({c["stage"] for c in cases}) > 3
    for c in cases:
        mine = [p for p in plans if p["case_id"] == c["case_id"]]
        cid = c["case_id"]
        assert c["stage"] == _stage(c, mine, cid in monitored, cid in assessed), cid
        assert c["last_seq"] == last[cid], cid


def _tables(engine: Engine) -> dict[str, list[str]]:
    with engine.begin() as conn:
        return {t.name: sorted(repr(tuple(r)) for r in conn.execute(select(t)))
                for t in tables.metadata.sorted_tables}


def _apply(db_url: str, envs: list[Envelope], per_transaction: int,
           skip: frozenset[str] = frozenset()) -> dict[str, list[str]]:
    engine = make_engine(db_url)
    kit_metadata.drop_all(engine)
    tables.metadata.drop_all(engine)
    kit_metadata.create_all(engine)
    tables.metadata.create_all(engine)
    projection = CasefileProjection(Topology("tx"))
    for start in range(0, len(envs), per_transaction):
        ctx = ApplyContext(None)
        with engine.begin() as conn:
            for seq, env in enumerate(envs[start:start + per_transaction], start=start + 1):
                if env.type in skip:
                    continue  # as the runner does: its sequence passes, undecoded
                ctx.seq = seq
                projection.apply(conn, env, ctx)
            ctx.finish(conn)
    out = _tables(engine)
    engine.dispose()
    return out


def test_a_batch_writes_exactly_the_rows_of_one_event_per_transaction(db_url):
    envs = _history()
    one_by_one = _apply(db_url, envs, per_transaction=1)
    batched = _apply(db_url, envs, per_transaction=500)
    _staged_as_the_rows_say(db_url, envs)
    assert len(one_by_one["casefile_timeline"]) > 400  # the history reached the case events
    assert one_by_one["casefile_erased_persons"]  # and the erasure was applied
    for name, rows in one_by_one.items():
        assert batched[name] == rows, name


def test_the_types_a_rebuild_skips_undecoded_change_no_row(db_url):
    """A rebuild skips the unused types, and the notice-only types at or below the feed
    mark, without decoding them (``event_types``/``effect_types``). If one of them ever
    changes a row, a rebuild would silently differ from the live projection."""
    from services.casefile.projection import NOTICE_ONLY, UNUSED

    envs = _history()
    skipped = [e for e in envs if e.type in UNUSED | NOTICE_ONLY]
    assert {e.type for e in skipped} >= {"DecisionRecorded", "MeetingHeld"}  # the test bites
    everything = _apply(db_url, envs, per_transaction=500)
    without = _apply(db_url, envs, per_transaction=500, skip=UNUSED | NOTICE_ONLY)
    differ = [name for name, rows in everything.items() if without[name] != rows]
    assert differ == [], differ
