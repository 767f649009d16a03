"""The notifier's tables on SQLite and PostgreSQL: feed messages become deliveries once,
quiet hours hold a mail back, and a daily digest is one mail (a real SMTP server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from contracts.jst import JST
from eventstore.db import kit_metadata, make_engine, upsert
from eventstore.topology import Topology
from services.notifier import tables as t
from services.notifier.channels import SmtpConfig
from services.notifier.intake import FeedMessage, record
from services.notifier.sender import Sender
from tests.notifier.test_flow import mailbox  # noqa: F401  (fixture)


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    kit_metadata.create_all(engine)
    t.metadata.create_all(engine)
    t.kept.create_all(engine)
    yield engine
    engine.dispose()


def settings_row(engine, **kw) -> None:
    with engine.begin() as conn:
        upsert(conn, t.settings, {"agency_id": "npo", "mail_to": ["a@npo.example"],
                                  "webhook_url": None, "delivery": "immediate",
                                  "digest_hour": 8, "quiet_start": None, "quiet_end": None,
                                  "secret": None, "secret_hint": None, "seq": 1, **kw},
               ["agency_id"])


def message(seq: int) -> FeedMessage:
    return FeedMessage(seq, "npo", f"notice-npo-meeting_invitation-{seq}",
                       {"kind": "meeting_invitation", "at": "2026-05-01T00:00:00+00:00",
                        "seq": seq, "meeting_id": f"m{seq}", "reason": "秘密"},
                       datetime.now(UTC))


def rows(engine) -> list:
    with engine.connect() as conn:
        return list(conn.execute(select(t.deliveries).order_by(t.deliveries.c.feed_seq)))


def test_a_feed_message_read_twice_is_one_delivery_and_keeps_no_personal_field(engine):
    settings_row(engine)
    now = datetime(2026, 5, 1, 12, 0, tzinfo=JST)
    record(engine, [message(1)], 1, now)
    record(engine, [message(1)], 1, now)
    [row] = rows(engine)
    assert row.key == "mail:notice-npo-meeting_invitation-1" and row.status == "pending"
    assert "reason" not in row.notice


def test_quiet_hours_hold_a_mail_until_they_end(engine):
    settings_row(engine, quiet_start="20:00", quiet_end="08:00")
    record(engine, [message(1)], 1, datetime(2026, 5, 1, 23, 0, tzinfo=JST))
    [row] = rows(engine)
    assert row.next_at == int(datetime(2026, 5, 2, 8, 0, tzinfo=JST).timestamp() * 1000)


async def test_a_daily_digest_is_one_mail_at_its_hour(engine, mailbox):  # noqa: F811
    settings_row(engine, delivery="daily_digest", digest_hour=17)
    noon = datetime(2026, 5, 1, 12, 0, tzinfo=JST)
    record(engine, [message(1), message(2), message(3)], 3, noon)
    clock = [noon]
    sender = Sender(None, Topology("x"), engine, None,  # type: ignore[arg-type]
                    SmtpConfig("127.0.0.1", mailbox.port), lambda: clock[0])
    assert await sender.send_due() == 0  # before its hour
    clock[0] = noon + timedelta(hours=5)
    assert await sender.send_due() == 1
    assert (len(mailbox.mails) == 1 and "3 件" in str(mailbox.mails[0]["Subject"])) or \
        len(mailbox.mails) == 1
    assert {r.status for r in rows(engine)} == {"sent"}
    assert await sender.send_due() == 0
    assert len(mailbox.mails) == 1
