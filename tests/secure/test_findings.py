"""Issue #14's findings, each against the secured 3-node deployment (accounts, TLS,
per-identity credentials and certificates, the real services)."""

from __future__ import annotations

import asyncio
import json
from datetime import date

import nats
import pytest

from services.referral.directory_import import import_directory
from tests.secure.conftest import Deployment
from tsunagu.deploy.certs import issue_client, revoke_client
from tsunagu.deploy.identities import IdentityError
from tsunagu.deploy.permissions import agency_js_prefix


async def counts(d: Deployment) -> dict[str, tuple[int, int]]:
    """(messages, last sequence) of every platform stream: anything stored moves one."""
    admin = await d.connect("admin", "deploy")
    js = admin.jetstream()
    t = d.topology
    out = {}
    for stream in (t.events_stream, t.feed_stream, t.dlq_stream, f"KV_{t.key_bucket}"):
        state = (await js.stream_info(stream)).state
        out[stream] = (state.messages, state.last_seq)
    return out


async def admin_sees(d: Deployment, *subjects: str) -> list[str]:
    """Subjects the platform saw a message on (the admin may subscribe to anything)."""
    admin = await d.connect("admin", "deploy")
    seen: list[str] = []

    async def on(msg: nats.aio.msg.Msg) -> None:
        seen.append(msg.subject)

    for subject in subjects:
        await admin.subscribe(subject, cb=on)
    await admin.flush()
    return seen


async def test_a_reply_subject_naming_a_platform_subject_stores_overwrites_or_starts_nothing(
    deployment: Deployment,
):
    """Finding 1: the casefile service answers into the agency's own account, whatever
    reply-to the agency names: not into the events stream, the key bucket, another
    agency's feed or an admin subject."""
    t = deployment.topology
    targets = [
        t.event_subject("case", "victim-case", "Foo"),
        f"$KV.{t.key_bucket}.victim-person",
        t.feed_subject("hokatsu", "victim-case", "case"),
        f"{t.prefix}.admin.casefile.rebuild",
    ]
    seen = await admin_sees(deployment, *targets)
    before = await counts(deployment)
    nc = await deployment.connect("agency", "police")
    query = f"{t.prefix}.query.police.case_view"
    for target in targets:
        await nc.publish(query, b"{}", reply=target)
    # The service did answer (this request is queued behind the four above)…
    answered = json.loads((await nc.request(query, b"{}", timeout=10)).data)
    assert answered["ok"] is False
    await asyncio.sleep(0.5)  # …and nothing arrived anywhere in the platform.
    assert seen == []
    assert await counts(deployment) == before


async def test_a_pull_request_naming_the_event_stream_as_reply_stores_nothing_there(
    deployment: Deployment,
):
    """Finding 2: JetStream delivers the agency's feed into the agency's account."""
    t = deployment.topology
    admin = await deployment.connect("admin", "deploy")
    for case in ("f2-a", "f2-b"):  # feed messages, as the casefile outbox writes them
        await admin.jetstream().publish(t.feed_subject("hellowork", case, "case"), b"{}")
    before = await counts(deployment)
    # On a node other than the consumer's leader, so the pull is served even though nobody
    # listens at the reply (on the leader JetStream drops a pull whose reply has no interest
    # in the agency's account, which proves less).
    info = await admin.jetstream().consumer_info(t.feed_stream, "feed-hellowork")
    other = next(n.url for n in deployment.cluster.nodes if n.config.name != info.cluster.leader)
    nc = await deployment.connect("agency", "hellowork", servers=[other])
    pull = f"{agency_js_prefix(t)}.CONSUMER.MSG.NEXT.{t.feed_stream}.feed-hellowork"

    async def delivered() -> int:
        info = await admin.jetstream().consumer_info(t.feed_stream, "feed-hellowork")
        return info.delivered.stream_seq

    for _ in range(50):  # a no_wait pull is dropped until the interest crosses the routes
        await nc.publish(pull, b'{"batch":2,"no_wait":true}',
                         reply=t.event_subject("case", "X", "Y"))
        await nc.flush()
        await asyncio.sleep(0.1)
        if await delivered() >= before[t.feed_stream][1]:
            break
    assert await delivered() >= before[t.feed_stream][1]  # the pull was served…
    after = await counts(deployment)
    assert after[t.events_stream] == before[t.events_stream]  # …but not into the events


async def test_the_referral_service_answers_an_agency_in_secured_mode(deployment: Deployment):
    """Finding 3."""
    nc = await deployment.connect("agency", "shakyo")
    subject = deployment.topology.command_subject("shakyo", "submit_referral")
    reply = json.loads((await nc.request(subject, b"{}", timeout=5)).data)
    assert reply["ok"] is False and reply["error"]["code"] == "invalid"


async def test_the_operator_may_erase_and_migrate_and_an_agency_may_do_neither(
    deployment: Deployment,
):
    """Finding 4, first half (the flow test erases a real person with these rights)."""
    t = deployment.topology
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    ops = await deployment.connect("operator", "ops", error_cb=on_error)
    body = json.dumps({"command_id": "f4-erase", "person_id": "nobody", "reason": "test"})
    reply = json.loads((await ops.request(t.command_subject("operator", "erase_person_data"),
                                          body.encode(), timeout=10)).data)
    assert reply["ok"] is False and reply["error"]["code"] != "permission", reply
    await ops.publish(f"{t.prefix}.migrate.case.x", b"{}")
    await ops.flush()
    agency = await deployment.connect("agency", "police", error_cb=on_error)
    for subject in (t.command_subject("operator", "erase_person_data"), f"{t.prefix}.migrate.x"):
        await agency.publish(subject, b"{}")
    await agency.flush()
    await asyncio.sleep(0.3)  # the server's -ERR arrives after the flush
    assert all("migrate.case.x" not in e for e in errors)
    assert sum("permissions violation" in e.lower() for e in errors) == 2, errors


async def test_reserved_agency_ids_are_refused_by_the_directory_and_the_credentials(
    deployment: Deployment,
):
    """Finding 4, second half: an agency named ``operator`` would carry operator powers."""
    t = deployment.topology
    admin = await deployment.connect("admin", "deploy")
    before = await counts(deployment)
    for reserved in ("operator", "ops", "admin", "migrate", "referral", "stats", "platform"):
        raw = f"agency_id,name,category,verified_at\n{reserved},x,警察,2026-04-01\n"
        result = await import_directory(admin, t, "d.csv", raw.encode(), today=date(2026, 4, 1))
        assert not result.applied and "reserved" in " ".join(result.errors), result.errors
        with pytest.raises(IdentityError, match="reserved"):
            deployment.auth.issue("agency", reserved, deployment.root / "x.nk")
    assert await counts(deployment) == before


async def test_a_revoked_client_certificate_is_disconnected_and_refused(deployment: Deployment):
    """Finding 7: one pinned certificate per client; revoking one affects only its holder."""
    issue_client(deployment.certs, "f7-probe")
    deployment.cluster.reload()
    await asyncio.sleep(0.5)
    ctx = deployment.tls("f7-probe")
    creds = str(deployment.creds("agency", "police"))
    nc = await nats.connect(servers=deployment.urls, nkeys_seed=creds, tls=ctx,
                            inbox_prefix="_INBOX.agency.police", allow_reconnect=False)
    revoke_client(deployment.certs, "f7-probe")
    deployment.cluster.reload()

    async def closed() -> None:
        while not nc.is_closed:  # noqa: ASYNC110 (nats.py exposes no closed event)
            await asyncio.sleep(0.05)

    await asyncio.wait_for(closed(), 10)
    with pytest.raises((nats.errors.Error, OSError)):
        again = await nats.connect(servers=deployment.urls, nkeys_seed=creds,
                                   tls=deployment.tls("f7-probe"), allow_reconnect=False,
                                   max_reconnect_attempts=0, connect_timeout=2)
        await again.flush(timeout=2)
    police = await deployment.connect("agency", "police")  # its own certificate still works
    await police.flush()
