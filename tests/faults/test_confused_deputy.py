"""A service is never a confused deputy: it answers only inbox-shaped reply subjects, and
admin requests only from the operator's inboxes (issue #14, finding 1).

An agency chooses the reply subject of what it sends. Were a service to answer any reply
subject with its own (wide) permissions, an agency could make it write into the event
stream, overwrite a data key, forge a message in another agency's feed or start a rebuild.
Run over the real services: the replies are refused before anything executes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import nats
import pytest

from tests.faults.conftest import stream_last_seq
from tests.helpers import eventually, register_agency

pytestmark = pytest.mark.timeout(90)

SHEET: dict[str, Any] = {
    "command_id": "deputy-1",
    "occurred_at": "2025-06-01T10:00:00+09:00",
    "contact_route": "phone",
    "concerns": ["income"],
    "personal": {"summary": "本人は長期ひきこもり", "birth_date": "1975-04-02",
                 "phone": "090-1234-5678"},
}


def platform_subjects(topology) -> list[str]:
    p = topology.prefix
    return [
        f"{p}.events.case.X.Foo",
        f"$KV.{topology.key_bucket}.victim",
        f"{p}.feed.other-agency.case-1.case",
        f"{p}.admin.casefile.rebuild",
    ]


async def _counts(nc, topology, store) -> tuple[int, int, int]:
    js = nc.jetstream()
    feed = (await js.stream_info(topology.feed_stream)).state.messages
    keys = (await js.stream_info(f"KV_{topology.key_bucket}")).state.messages
    return await stream_last_seq(store), feed, keys


def _refused(runtimes: dict) -> int:
    return sum(getattr(rt, "refused_replies", 0) for rt in runtimes.values())


async def test_a_reply_subject_naming_a_platform_subject_is_refused_and_nothing_runs(
    services, nc, topology, store
):
    await register_agency(store, "deputy-a")
    runtimes = await services("referral", "casefile")
    sniffed: list[str] = []

    async def sniff(msg) -> None:
        sniffed.append(msg.subject)

    sniffer = await nats.connect(nc.connected_url.geturl())
    try:
        for subject in platform_subjects(topology):
            await sniffer.subscribe(subject, cb=sniff)
        await sniffer.flush()
        # A rebuild would report its progress here.
        await sniffer.subscribe(f"{topology.prefix}.admin.casefile.progress",
                                cb=sniff)
        await sniffer.flush()
        before = await _counts(nc, topology, store)
        sent = 0
        for n, target in enumerate(platform_subjects(topology)):
            body = json.dumps({**SHEET, "command_id": f"deputy-{n}"}).encode()
            await nc.publish(topology.command_subject("deputy-a", "submit_referral"), body,
                             reply=target)
            await nc.publish(f"{topology.prefix}.query.deputy-a.directory", b"{}", reply=target)
            await nc.publish(f"{topology.prefix}.query.deputy-a.case_view",
                             b'{"case_id": "case-1"}', reply=target)
            sent += 3
        await nc.flush()
        # Either the services answered (the bug) or they refused each reply subject.
        await eventually(lambda: sniffed or _refused(runtimes) >= sent, timeout=20)
        await asyncio.sleep(0.3)  # anything still on its way would arrive now
        assert sniffed == []
        assert await _counts(nc, topology, store) == before  # no event, key or feed message
        # The same command from a proper inbox is executed: the refusal was about the reply.
        reply = await nc.request(topology.command_subject("deputy-a", "submit_referral"),
                                 json.dumps({**SHEET, "command_id": "deputy-ok"}).encode(),
                                 timeout=10)
        assert json.loads(reply.data)["ok"] is True
    finally:
        await sniffer.close()


@pytest.mark.parametrize("reply", ["", "_INBOX.*", "_INBOX.>", "_INBOX..x",
                                   "_INBOXES.x", "_R_", "x" * 300])
async def test_a_malformed_reply_subject_is_refused(services, nc, topology, store, reply):
    await register_agency(store, "deputy-b")
    runtimes = await services("referral")
    before = await stream_last_seq(store)
    body = json.dumps({**SHEET, "command_id": "deputy-m"}).encode()
    await nc.publish(topology.command_subject("deputy-b", "submit_referral"), body, reply=reply)
    await nc.flush()
    if reply:  # a command with no reply at all is fire-and-forget: nothing to refuse
        await eventually(lambda: _refused(runtimes) >= 1, timeout=10)
        assert await stream_last_seq(store) == before


async def test_admin_requests_from_an_agency_inbox_are_ignored(services, nc, topology, store):
    runtimes = await services("casefile")
    url = nc.connected_url.geturl()
    agency = await nats.connect(url, inbox_prefix="_INBOX.agency.A")
    operator = await nats.connect(url, inbox_prefix="_INBOX.operator.ops1")
    try:
        for action in ("status", "rebuild"):
            with pytest.raises(nats.errors.TimeoutError):
                await agency.request(f"{topology.prefix}.admin.casefile.{action}", b"{}",
                                     timeout=1.5)
        with pytest.raises(nats.errors.TimeoutError):
            await agency.request(f"{topology.prefix}.admin.discover", b"{}", timeout=1.5)
        assert _refused(runtimes) >= 3
        # The operator's inbox is answered.
        msg = await operator.request(f"{topology.prefix}.admin.casefile.status", b"{}",
                                     timeout=10)
        assert json.loads(msg.data)["ok"] is True
        msg = await operator.request(f"{topology.prefix}.admin.discover", b"{}", timeout=10)
        assert json.loads(msg.data)["result"]["service"] == "casefile"
    finally:
        await agency.close()
        await operator.close()
