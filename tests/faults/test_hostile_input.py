"""Hostile input from an agency system: each gets a clear error reply and changes nothing.

Run against the real referral service (``submit_referral``, the command an agency system
sends most) and against the kit-only stand-in (``bench_close``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from eventstore.commands import request_patiently
from tests.faults.conftest import assert_verified, stream_last_seq
from tests.helpers import register_agency

pytestmark = pytest.mark.timeout(60)

SHEET: dict[str, Any] = {
    "command_id": "hostile-1",
    "occurred_at": "2025-06-01T10:00:00+09:00",
    "contact_route": "phone",
    "concerns": ["income"],
    "personal": {"summary": "本人は長期ひきこもり", "birth_date": "1975-04-02"},
}
CLOSE: dict[str, Any] = {"command_id": "hostile-2", "case_id": "hc-1", "reason": "終結"}


def with_(base: dict[str, Any], path: str, value: Any) -> bytes:
    doc = json.loads(json.dumps(base))
    *parents, leaf = path.split(".")
    node = doc
    for p in parents:
        node = node[p]
    node[leaf] = value
    return json.dumps(doc, ensure_ascii=False).encode()


def cases(base: dict[str, Any], text_field: str, date_field: str, id_field: str):
    good = json.dumps(base).encode()
    return [
        ("malformed JSON", good[:-5], "invalid", "not JSON"),
        ("not an object", b'["a", 1]', "invalid", "JSON object"),
        ("empty body", b"", "invalid", "not JSON"),
        ("wrong type: number for text", with_(base, text_field, 12345), "invalid", text_field),
        ("wrong type: object for id", with_(base, id_field, {"$ne": None}), "invalid", id_field),
        ("huge payload over the limit", with_(base, text_field, "あ" * 60_000), "too_large",
         "limit"),
        ("unknown field", with_(base, "is_admin", True), "invalid", "is_admin"),
        ("SQL injection in an id", with_(base, id_field, "x'; DROP TABLE t; --"), "invalid",
         id_field),
        ("subject wildcard in an id", with_(base, id_field, "a.>"), "invalid", id_field),
        ("invalid UTF-8", good.replace(b'"command_id"', b'"command_id\xff\xfe"'), "invalid",
         "UTF-8"),
        ("lone surrogate in text", with_(base, text_field, "x").replace(b'"x"', b'"\\ud800"'),
         "invalid", text_field),
        ("date before 1900", with_(base, date_field, "1899-12-31"), "invalid", date_field),
        ("date after 2100", with_(base, date_field, "2101-01-01"), "invalid", date_field),
        ("impossible date", with_(base, date_field, "2025-02-30"), "invalid", date_field),
        ("timestamp without zone", with_(base, "occurred_at", "2025-06-01T10:00:00"),
         "invalid", "occurred_at"),
        ("type that does not match the subject", with_(base, "type", "something_else"),
         "invalid", "does not match"),
        ("JSON nested 1,000 levels", good[:-1] + b', "deep": ' + DEEP + b"}", "too_large",
         "nested"),
        ("5,000-digit integer", good[:-1] + b', "n": ' + b"9" * 5000 + b"}", "too_large",
         "digits"),
        ("NaN is not JSON", good[:-1] + b', "n": NaN}', "invalid", "NaN"),
    ]


DEEP = b"[" * 1000 + b"]" * 1000


async def _reply(nc, topology, agency: str, command: str, raw: bytes) -> dict:
    msg = await nc.request(topology.command_subject(agency, command), raw, timeout=10)
    return dict(json.loads(msg.data))


@pytest.mark.parametrize(
    ("label", "raw", "code", "fragment"),
    cases(SHEET, "personal.summary", "personal.birth_date", "command_id"),
    ids=lambda v: v if isinstance(v, str) and " " in v else "",
)
async def test_hostile_input_to_the_referral_service_is_refused_and_changes_nothing(
    services, nc, topology, store, label, raw, code, fragment
):
    await register_agency(store, "hostile-agency")
    await services("referral")
    before = await stream_last_seq(store)
    reply = await _reply(nc, topology, "hostile-agency", "submit_referral", raw)
    assert reply["ok"] is False, label
    assert reply["error"]["code"] == code, (label, reply)
    assert fragment in json.dumps(reply["error"], ensure_ascii=False), (label, reply)
    assert await stream_last_seq(store) == before


@pytest.mark.parametrize(
    ("label", "raw", "code", "fragment"),
    cases({**CLOSE, "occurred_at": "2025-06-01T10:00:00+09:00"}, "reason", "occurred_at",
          "case_id"),
    ids=lambda v: v if isinstance(v, str) and " " in v else "",
)
async def test_hostile_input_to_a_kit_service_is_refused_and_changes_nothing(
    toy, nc, topology, store, label, raw, code, fragment
):
    before = await stream_last_seq(store)
    reply = await _reply(nc, topology, "hq", "bench_close", raw)
    assert reply["ok"] is False, label
    if label in ("date before 1900", "date after 2100", "impossible date"):
        fragment = "occurred_at"  # the stand-in's only date is the timestamp
    assert reply["error"]["code"] == code, (label, reply)
    assert fragment in json.dumps(reply["error"], ensure_ascii=False), (label, reply)
    assert await stream_last_seq(store) == before


async def test_an_unknown_command_gets_a_clear_error_and_changes_nothing(
    toy, nc, topology, store
):
    before = await stream_last_seq(store)
    reply = await _reply(nc, topology, "hq", "drop_all_tables", b"{}")
    assert reply["error"]["code"] == "unknown_command"
    assert "drop_all_tables" in reply["error"]["message"]
    assert await stream_last_seq(store) == before


@pytest.mark.parametrize("text", [
    "'; DROP TABLE benchboard_cases; --",
    "<script>alert(1)</script>",
    "{{7*7}} ${jndi:ldap://x} $(rm -rf /)",
    "a.b.*.> tsunagu.cmd.hq.bench_close",
])
async def test_injection_strings_in_free_text_are_stored_verbatim_as_text(
    toy, nc, topology, store, text
):
    assert (await _reply(nc, topology, "hq", "bench_open_case",
                         json.dumps({"command_id": "o", "case_id": "inj"}).encode()))["ok"]
    reply = await _reply(nc, topology, "hq", "bench_close", json.dumps(
        {"command_id": "c", "case_id": "inj", "reason": text}).encode())
    assert reply["ok"], reply
    history = await store.load("case", "inj")
    assert history.envelopes[-1].event.reason == text
    runner = toy.runners["benchboard"]
    await runner.wait_for(history.last_seq)
    with toy.engine.begin() as conn:  # the table is still there, the case is closed
        cases, _ = runner.projection.snapshot(conn)
    assert [(r[0], r[1]) for r in cases] == [("inj", "closed")]
    await assert_verified(nc, topology)


# ----- queries: the same limits, and always an answer ----------------------------------
QUERY_CASES = [
    ("JSON nested 1,000 levels", b'{"case_id": ' + DEEP + b"}", "too_large", "nested"),
    ("nested objects 100 levels", b'{"a":' * 100 + b"1" + b"}" * 100, "too_large", "nested"),
    ("5,000-digit integer", b'{"case_id": ' + b"9" * 5000 + b"}", "too_large", "digits"),
    ("not UTF-8", b'{"case_id": "\xff\xfe"}', "invalid", "UTF-8"),
    ("lone surrogate", b'{"case_id": "\\ud800"}', "invalid", "case_id"),
    ("not JSON", b'{"case_id": ', "invalid", "not JSON"),
    ("not an object", b"[1, 2]", "invalid", "JSON object"),
    ("huge body", b'{"case_id": "' + b"x" * 200_000 + b'"}', "too_large", "limit"),
]


@pytest.mark.parametrize(("label", "raw", "code", "fragment"), QUERY_CASES,
                         ids=[c[0] for c in QUERY_CASES])
async def test_hostile_query_arguments_get_a_clear_error_reply(
    services, nc, topology, store, label, raw, code, fragment
):
    await register_agency(store, "hostile-agency")
    await services("casefile")
    msg = await request_patiently(nc, f"{topology.prefix}.query.hostile-agency.case_view", raw)
    reply = json.loads(msg.data)
    assert reply["ok"] is False, label
    assert reply["error"]["code"] == code, (label, reply)
    assert fragment in json.dumps(reply["error"], ensure_ascii=False), (label, reply)


@pytest.mark.parametrize(("label", "raw", "code", "fragment"), [
    ("JSON nested 1,000 levels", DEEP, "too_large", "nested"),
    ("a sequence that is not a number", b'{"projection": "casefile", "seq": "abc"}',
     "invalid", "seq"),
    ("no such projection", b'{"projection": "nope", "seq": 1}', "invalid", "nope"),
], ids=["deep", "seq", "projection"])
async def test_hostile_admin_arguments_get_a_clear_error_reply(
    services, nc, topology, label, raw, code, fragment
):
    import nats

    await services("casefile")
    operator = await nats.connect(nc.connected_url.geturl(), inbox_prefix="_INBOX.operator.t")
    try:
        msg = await operator.request(f"{topology.prefix}.admin.casefile.replay", raw, timeout=10)
    finally:
        await operator.close()
    reply = json.loads(msg.data)
    assert reply["ok"] is False, label
    assert reply["error"]["code"] == code, (label, reply)
    assert fragment in json.dumps(reply["error"], ensure_ascii=False), (label, reply)
