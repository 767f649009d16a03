"""The notifier's tables (SQLAlchemy Core, prefixed ``notifier_``). No personal data: the
settings hold the webhook secret sealed, the deliveries only a feed message's ids, kind
and dates (``render.safe``).

``metadata`` is the projection's (rebuilt from the events); ``kept`` holds the deliveries,
which no event describes (what was sent, what is still owed and when to retry): a rebuild
of the projection must not drop them (``ServiceSpec.tables``)."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, MetaData, String, Table

metadata = MetaData()
kept = MetaData()

settings = Table(
    "notifier_settings", metadata,
    Column("agency_id", String(64), primary_key=True),
    Column("mail_to", JSON, nullable=False),
    Column("webhook_url", String(2100), nullable=True),
    Column("delivery", String(20), nullable=False),
    Column("digest_hour", Integer, nullable=False),
    Column("quiet_start", String(8), nullable=True),  # "HH:MM", Japan time
    Column("quiet_end", String(8), nullable=True),
    Column("secret", JSON, nullable=True),  # the Sealed block, never the secret itself
    Column("secret_hint", String(8), nullable=True),
    Column("seq", BigInteger, nullable=False),
)

#: One row per (feed message, agency, channel). ``status``: pending (not sent yet; with
#: ``attempts`` > 0 it failed and waits for ``next_at``), sent, dead (gave up, dead-lettered),
#: dropped (the channel was removed before it could be sent).
deliveries = Table(
    "notifier_deliveries", kept,
    Column("key", String(300), primary_key=True),  # <channel>:<idempotency key>
    Column("agency_id", String(64), nullable=False),
    Column("channel", String(10), nullable=False),  # mail | webhook
    Column("idempotency_key", String(250), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("notice", JSON, nullable=False),  # render.safe(feed message)
    Column("feed_seq", BigInteger, nullable=False),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_at", BigInteger, nullable=False),  # Unix milliseconds
    Column("group_key", String(120), nullable=True),  # a daily digest's mails
    Column("last_error", String(200), nullable=True),
    Column("sent_at", BigInteger, nullable=True),  # Unix milliseconds
    Index("notifier_deliveries_due", "status", "next_at"),
)
