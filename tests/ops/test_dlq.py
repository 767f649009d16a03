"""`tsunagu dlq list|show|retry|discard`: nothing is lost silently."""

from __future__ import annotations

import json

from tests.helpers import eventually


async def poisoned(platform) -> int:
    """One good agency, one the projection cannot apply; returns the bad one's sequence."""
    platform.projection.poison.add("broken")
    await platform.agency("good")
    bad = await platform.agency("bad", "broken")
    await eventually(lambda: platform.runner.dead_lettered == 1, timeout=20)
    return bad


async def dlq_count(nc, topology) -> int:
    return (await nc.jetstream().stream_info(topology.dlq_stream)).state.messages


async def events_last(nc, topology) -> int:
    return (await nc.jetstream().stream_info(topology.events_stream)).state.last_seq


async def test_dlq_list_and_show_give_the_error_and_the_masked_event(platform, cli):
    bad = await poisoned(platform)
    result = await cli("dlq", "list", "--json")
    assert result.exit_code == 0, result.output
    [letter] = json.loads(result.stdout)
    assert letter["projection"] == "opsdemo_seen"
    assert letter["stream_seq"] == bad
    assert letter["event_type"] == "AgencyRegistered"
    assert "cannot apply agency named broken" in letter["error"]
    assert letter["attempts"] >= 1
    table = await cli("dlq", "list")
    assert "opsdemo_seen" in table.stdout and "Dead letters (1)" in table.stdout
    shown = json.loads((await cli("dlq", "show", str(letter["dlq_seq"]))).stdout)
    assert shown["event"]["aggregate_id"] == "bad"
    assert shown["event"]["seq"] == bad


async def test_retry_redelivers_to_the_projection_and_removes_the_dead_letter(
    platform, cli, nc, topology
):
    await poisoned(platform)
    assert platform.projection.count(platform.runtime.engine, "bad") == 0
    platform.projection.poison.clear()  # the bug is fixed
    result = await cli("dlq", "retry", "1", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc == {"dlq_seq": 1, "service": "opsdemo", "projection": "opsdemo_seen",
                   "stream_seq": 2, "retried": True}
    assert platform.projection.count(platform.runtime.engine, "bad") == 1
    assert await dlq_count(nc, topology) == 0


async def test_a_retry_that_fails_again_keeps_the_dead_letter(platform, cli, nc, topology):
    await poisoned(platform)
    result = await cli("dlq", "retry", "1")
    assert result.exit_code == 1
    assert "cannot apply agency named broken" in result.output
    assert "stays in the dead-letter stream" in result.output
    assert await dlq_count(nc, topology) == 1


async def test_retry_of_an_unknown_dead_letter_says_so(platform, cli):
    result = await cli("dlq", "retry", "42")
    assert result.exit_code == 1
    assert "not_found" in result.output and "#42" in result.output


async def test_discard_records_why_and_then_removes_the_dead_letter(platform, cli, nc, topology):
    bad = await poisoned(platform)
    before = await events_last(nc, topology)
    result = await cli("dlq", "discard", "1", "--reason", "テスト用の壊れたデータ",
                       "--operator", "alice", "--json")
    assert result.exit_code == 0, result.output
    assert await dlq_count(nc, topology) == 0
    assert await events_last(nc, topology) == before + 1
    [doc] = [json.loads(x) for x in
             (await cli("tail", "--type", "DeadLetterDiscarded", "--json")).stdout.splitlines()]
    assert doc["event"] == {
        "audit_id": doc["aggregate_id"], "operator": "alice", "projection": "opsdemo_seen",
        "stream_seq": bad, "reason": "テスト用の壊れたデータ",
    }


async def test_discard_without_a_reason_is_refused_and_changes_nothing(
    platform, cli, nc, topology
):
    await poisoned(platform)
    before = await events_last(nc, topology)
    missing = await cli("dlq", "discard", "1")
    assert missing.exit_code == 2 and "--reason" in missing.output
    blank = await cli("dlq", "discard", "1", "--reason", "   ")
    assert blank.exit_code == 1 and "reason" in blank.output
    assert await dlq_count(nc, topology) == 1
    assert await events_last(nc, topology) == before


async def test_discard_of_an_unknown_dead_letter_appends_nothing(platform, cli, nc, topology):
    before = await events_last(nc, topology)
    result = await cli("dlq", "discard", "9", "--reason", "x")
    assert result.exit_code == 1 and "no dead letter #9" in result.output
    assert await events_last(nc, topology) == before


def test_a_letters_headers_never_choose_the_admin_action_a_retry_asks_for():
    """A letter planted with ``Tsunagu-Retry-Action: casefile.person_record`` must not make
    the operator's retry fetch a person's record (or start a rebuild): a retry is the
    owning projection's replay, or the one known resend of a notifier delivery, naming
    only the letter."""
    from tsunagu.ops.dlq import DeadLetter, retry_request
    from tsunagu.ops.reader import Raw

    planted = {"Tsunagu-Projection": "casefile.cases", "Tsunagu-Stream-Seq": "3",
               "Tsunagu-Retry-Action": "casefile.person_record",
               "Tsunagu-Retry-Args": json.dumps({"person_id": "p1"})}
    assert retry_request(DeadLetter.from_raw(Raw(1, "t.dlq.casefile", b"", planted))) == (
        None, "replay", {"projection": "casefile.cases", "seq": 3, "dlq_seq": 1})
    delivery = {"Tsunagu-Projection": "notifier.deliveries", "Tsunagu-Stream-Seq": "3",
                "Tsunagu-Retry-Action": "casefile.rebuild",
                "Tsunagu-Retry-Args": json.dumps({"channel": "webhook", "key": "k1",
                                                  "person_id": "p1"})}
    assert retry_request(DeadLetter.from_raw(Raw(2, "t.dlq.notifier", b"", delivery))) == (
        "notifier", "resend_delivery", {"dlq_seq": 2})
