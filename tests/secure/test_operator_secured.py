"""The operator's daily work on dead letters, on the operator's own credentials in the
secured deployment (3 nodes, TLS, accounts): list, retry, discard with its audit record
(written by the service that settles the letter, under the operator's enforced name).
An agency can do none of it."""

from __future__ import annotations

import json

import pytest

from eventstore.errors import DomainError
from eventstore.store import EventStore
from tests.secure.conftest import Deployment
from tsunagu.ops import dlq

pytestmark = pytest.mark.timeout(120)


async def plant_dead_delivery(deployment: Deployment, key: str) -> int:
    """A letter as the notifier's sender writes it for a delivery it gave up on (the admin
    publishes it: making a webhook fail 12 times over hours is not a test)."""
    admin = await deployment.connect("admin", "deploy")
    ack = await admin.jetstream().publish(
        deployment.topology.dlq_subject("notifier"), b"", headers={
            "Tsunagu-Projection": "notifier.deliveries", "Tsunagu-Stream-Seq": "1",
            "Tsunagu-Subject": "webhook:police:meeting_invited", "Tsunagu-Error": "http_503",
            "Tsunagu-Attempts": "12", "Tsunagu-Idempotency-Key": key,
            "Tsunagu-Retry-Args": json.dumps({"channel": "webhook", "key": key})})
    return ack.seq


async def test_the_operator_retries_and_discards_dead_letters_on_its_own_credentials(
    deployment: Deployment,
):
    t = deployment.topology
    seq = await plant_dead_delivery(deployment, "feed-key-1")
    ops = await deployment.connect("operator", "ops")
    assert seq in [letter.dlq_seq for letter in await dlq.list_dead_letters(ops, t)]
    with pytest.raises(DomainError) as failed:  # asked of the notifier, which has no such row
        await dlq.retry(ops, t, seq)
    assert failed.value.code == "retry_failed" and "feed-key-1" in failed.value.message
    done = await dlq.discard(ops, t, seq, "receiver retired by the NPO", "mallory")
    assert done["discarded"] and seq not in [
        letter.dlq_seq for letter in await dlq.list_dead_letters(ops, t)]
    admin = await deployment.connect("admin", "deploy")
    [record] = [e for e in (await EventStore(admin, t).read(f"{t.prefix}.events.audit.>"))
                if e.envelope.event.type == "DeadLetterDiscarded"
                and e.seq == done["audit_seq"]]
    # Named by its credentials (its private inbox), not by what it declared; recorded and
    # removed by the notifier, which settles the letter.
    assert record.envelope.event.operator == "ops"  # type: ignore[attr-defined]
    assert done["operator"] == "ops"


async def test_an_agency_can_neither_read_nor_retry_nor_discard_dead_letters(
    deployment: Deployment,
):
    t = deployment.topology
    seq = await plant_dead_delivery(deployment, "feed-key-2")
    agency = await deployment.connect("agency", "police")
    for attempt in (dlq.list_dead_letters(agency, t), dlq.retry(agency, t, seq),
                    dlq.discard(agency, t, seq, "x", "police")):
        with pytest.raises(Exception):  # noqa: B017 - refused by the server, however it surfaces
            await attempt
    ops = await deployment.connect("operator", "ops")
    assert seq in [letter.dlq_seq for letter in await dlq.list_dead_letters(ops, t)]
