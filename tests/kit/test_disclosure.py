"""The disclosure log: every delivery of personal data is recorded in its own stream, with a
retention limit, and the records hold names and ids only (never personal values)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from nats.js.api import RetentionPolicy

from eventstore.disclosure import (
    DEFAULT_MAX_AGE_DAYS,
    Disclosure,
    DisclosureLog,
    DisclosureNotRecorded,
)
from eventstore.errors import InvalidInput
from eventstore.projection import ApplyContext
from eventstore.topology import Topology
from tsunagu.ops.disclosures import read as read_disclosures


def a_disclosure(**over: object) -> Disclosure:
    base: dict[str, object] = dict(
        agency="hokatsu", person_id="p1", case_id="c1", fields=["subject.name"],
        basis={"kind": "consent", "consent_id": "k1"}, channel="query.case_view",
    )
    return Disclosure.new(**{**base, **over})  # type: ignore[arg-type]


def test_a_disclosure_record_refuses_personal_values_in_its_basis_or_fields():
    with pytest.raises(InvalidInput, match="basis"):
        a_disclosure(basis={"kind": "consent", "note": "山田花子さんの同意"})
    with pytest.raises(InvalidInput, match="fields"):
        a_disclosure(fields=["090-1234-5678"])
    with pytest.raises(InvalidInput, match="agency"):
        a_disclosure(agency="hokatsu.>")


def test_a_disclosure_record_round_trips_and_names_its_subject():
    d = a_disclosure()
    topo = Topology("tx")
    assert d.subject(topo) == "tx.disclosure.hokatsu.p1.c1"
    assert a_disclosure(person_id=None).subject(topo) == "tx.disclosure.hokatsu._.c1"
    assert Disclosure.from_bytes(d.to_bytes()) == d
    assert d.at.tzinfo is not None


def test_a_feed_disclosure_is_written_to_the_outbox_with_the_feed_message():
    ctx = ApplyContext(keyring=None)
    topo = Topology("tx")
    ctx.publish("tx.feed.hokatsu.c1.case", b"{}", msg_id="feed-hokatsu-c1-7")
    DisclosureLog.in_outbox(ctx, topo, a_disclosure(channel="feed"), msg_id="feed-hokatsu-c1-7")
    [feed, record] = ctx._outbox
    assert record["subject"] == "tx.disclosure.hokatsu.p1.c1"
    assert record["msg_id"] == "disclosure-feed-hokatsu-c1-7"
    assert json.loads(record["data"])["record_id"] == "feed-hokatsu-c1-7"
    assert json.loads(record["data"])["channel"] == "feed"
    assert feed["subject"] == "tx.feed.hokatsu.c1.case"


async def test_the_disclosure_stream_keeps_records_for_the_configured_time_only(nc, topology):
    info = await nc.jetstream().stream_info(topology.disclosure_stream)
    assert info.config.retention == RetentionPolicy.LIMITS
    assert info.config.max_age == pytest.approx(DEFAULT_MAX_AGE_DAYS * 86400)
    assert info.config.subjects == [topology.disclosure_subjects]


async def test_recorded_disclosures_are_read_back_by_person_and_by_agency(nc, topology):
    log = DisclosureLog(nc, topology)
    await log.record(a_disclosure())
    await log.record(a_disclosure(agency="shakyo", basis={"kind": "meeting",
                                                          "meeting_id": "m1",
                                                          "acknowledged": True}))
    await log.record(a_disclosure(person_id="p2", case_id="c2"))
    # A meeting knows the case, not the person: found through the person's case.
    await log.record(a_disclosure(agency="hellowork", person_id=None, channel="query.minutes"))
    by_person = await read_disclosures(nc, topology, person_id="p1")
    assert [(d.agency, d.basis["kind"]) for d in by_person] == [
        ("hokatsu", "consent"), ("shakyo", "meeting"), ("hellowork", "consent")]
    by_agency = await read_disclosures(nc, topology, agency="hokatsu")
    assert [d.person_id for d in by_agency] == ["p1", "p2"]
    later = await read_disclosures(nc, topology, agency="hokatsu",
                                   since=datetime.now(UTC))
    assert later == []


async def test_a_disclosure_that_cannot_be_stored_raises_instead_of_passing_silently(nc):
    unprovisioned = Topology("tnoaudit")
    with pytest.raises(DisclosureNotRecorded):
        await DisclosureLog(nc, unprovisioned, timeout=0.5).record(a_disclosure())
