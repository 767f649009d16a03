"""Issue 15, item 2, on the projection's tables: on the day after a consent's last valid
day (in Japan) the timer writes the redacted view of the case for each agency that consent
alone covered to the outbox, once (across restarts and rebuilds), late within the grace."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select

from contracts.consent import ConsentRecorded
from contracts.jst import JST
from eventstore.db import kit_metadata, outbox
from eventstore.topology import Topology
from services.casefile import notices
from services.casefile import tables as t
from services.casefile.expiry import EXPIRED, GRACE_DAYS, send_expired

TOPO = Topology("tsunagu")
LAST = date(2026, 6, 30)


def at(day: date, hour: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 1, tzinfo=JST)


def _consent(cid: str, agencies: tuple[str, ...], until: date | None) -> dict:
    return ConsentRecorded(case_id="c1", consent_id=cid, person_id="p1", agencies=agencies,
                           method="written", obtained_by="fukushi", given_on=date(2026, 4, 1),
                           valid_until=until).model_dump(mode="json")


def _fill(conn) -> None:
    conn.execute(t.cases.insert(), {
        "case_id": "c1", "origin": "outreach", "coordinator": "fukushi",
        "opened_on": date(2026, 4, 1), "status": "open", "stage": "opened", "sex": "male",
        "age_band": "50s", "erased": False, "last_seq": 7,
        "personal": {"name": "山田 太郎"}})
    for agency in ("fukushi", "hokatsu", "shakyo"):
        conn.execute(t.members.insert(), {"case_id": "c1", "agency_id": agency,
                                          "joined_on": date(2026, 4, 1), "how": "opened"})
    conn.execute(t.consent.insert(), [
        {"case_id": "c1", "seq": 3, "event": _consent("k1", ("hokatsu", "shakyo"), LAST)},
        {"case_id": "c1", "seq": 4, "event": _consent("k2", ("fukushi", "shakyo"), None)}])
    notices._due(conn, "c1", "consent_expiry", "k1", None, LAST)


@pytest.fixture
def db(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'e.db'}")
    t.metadata.create_all(engine)
    kit_metadata.create_all(engine)
    with engine.begin() as conn:
        _fill(conn)
    return engine


def _send(engine, now: datetime) -> int:
    with engine.begin() as conn:
        return send_expired(conn, TOPO, now)


def _sent(engine) -> list[tuple[str, dict]]:
    with engine.connect() as conn:
        return [(s, json.loads(d)) for s, d in conn.execute(
            select(outbox.c.subject, outbox.c.data).order_by(outbox.c.id))]


def test_the_day_after_its_last_day_the_agency_it_alone_covered_gets_the_redacted_view(db):
    assert _send(db, at(LAST, 23)) == 0  # still valid all of its last day, in Japan
    # 15:30 UTC on the last day is already the next day in Japan.
    assert _send(db, datetime(2026, 6, 30, 15, 30, tzinfo=UTC)) == 1
    [(subject, body)] = _sent(db)
    assert subject == "tsunagu.feed.hokatsu.c1.case"  # the subject of its full view
    assert body["event_type"] == EXPIRED and body["view"]["redacted"] is True
    assert "山田" not in json.dumps(body, ensure_ascii=False)


def test_an_expiry_is_sent_once_across_restarts_and_rebuilds(db):
    assert _send(db, at(LAST + timedelta(days=1), 8)) == 1
    assert _send(db, at(LAST + timedelta(days=1), 9)) == 0
    t.metadata.drop_all(db)  # a rebuild: the projection's tables go, the marks stay
    t.metadata.create_all(db)
    with db.begin() as conn:
        _fill(conn)
    assert _send(db, at(LAST + timedelta(days=2), 9)) == 0
    assert len(_sent(db)) == 1


def test_an_expiry_missed_while_down_goes_out_late_but_not_after_the_grace(db):
    assert _send(db, at(LAST + timedelta(days=GRACE_DAYS + 1), 0)) == 1
    with db.begin() as conn:
        notices._due(conn, "c1", "consent_expiry", "k1", None, LAST - timedelta(days=30))
    assert _send(db, at(LAST + timedelta(days=GRACE_DAYS + 1), 5)) == 0


def test_a_withdrawn_consent_sends_no_expiry(db):
    with db.begin() as conn:  # what the projection does on ConsentWithdrawn
        notices._due(conn, "c1", "consent_expiry", "k1", None, None)
    assert _send(db, at(LAST + timedelta(days=1), 8)) == 0
