"""The guards' rules, on the pure functions (over NATS: tests/faults/test_confused_deputy.py,
test_hostile_input.py, test_properties.py)."""

from __future__ import annotations

import pytest

from eventstore.errors import InvalidInput
from eventstore.guard import (
    INBOX_PREFIXES,
    OPERATOR_PREFIXES,
    lone_surrogate_at,
    nesting_depth,
    parse_json,
    reply_refusal,
)


@pytest.mark.parametrize("reply", ["_INBOX.x1", "_INBOX.agency.A.abc.def", "_R_.aB3.xY"])
def test_an_inbox_reply_subject_is_answered(reply):
    assert reply_refusal(reply, INBOX_PREFIXES) is None


@pytest.mark.parametrize(("reply", "code"), [
    ("tsunagu.events.case.X.Foo", "reply_not_inbox"),
    ("$KV.TSUNAGU_KEYS.p-1", "reply_not_inbox"),
    ("tsunagu.feed.B.c1.case", "reply_not_inbox"),
    ("tsunagu.admin.casefile.rebuild", "reply_not_inbox"),
    ("$JS.API.STREAM.PURGE.TSUNAGU_FEED", "reply_not_inbox"),
    ("_INBOXES.x", "reply_not_inbox"),
    ("_INBOX.*", "reply_malformed"),
    ("_INBOX.>", "reply_malformed"),
    ("_INBOX..x", "reply_malformed"),
    ("_INBOX.a\tb", "reply_malformed"),
    ("_INBOX." + "x" * 300, "reply_too_long"),
    ("", "reply_missing"),
])
def test_any_other_reply_subject_is_refused_with_a_code(reply, code):
    assert reply_refusal(reply, INBOX_PREFIXES) == code


@pytest.mark.parametrize(("reply", "answered"), [
    ("_INBOX.operator.ops1.x", True), ("_INBOX.admin.cli.x", True),
    ("_INBOX.agency.A.x", False), ("_INBOX.x", False), ("_R_.x", False),
])
def test_admin_requests_are_answered_only_on_the_operators_inboxes(reply, answered):
    assert (reply_refusal(reply, OPERATOR_PREFIXES) is None) is answered


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = '{"a": "' + "[" * 100 + '", "b": [[1]]}'
    assert nesting_depth(text) == 3
    assert parse_json(text.encode(), limit=1024)["b"] == [[1]]


@pytest.mark.parametrize(("raw", "code", "fragment"), [
    (b"[" * 33 + b"]" * 33, "too_large", "33 levels"),
    (b'{"n": 123456789012345678901}', "too_large", "21 digits"),
    (b'{"n": 9223372036854775808}', "too_large", "64 bits"),
    (b'{"n": 1e400}', "too_large", "out of range"),
    (b'{"n": Infinity}', "invalid", "Infinity"),
    (b'{"a": {"b": ["\\udc00"]}}', "invalid", "a.b[0]"),
    (b"\xc0\xaf", "invalid", "UTF-8"),
    (b"x" * 2000, "too_large", "limit"),
])
def test_limits_are_checked_before_parsing_and_named(raw, code, fragment):
    with pytest.raises(InvalidInput) as caught:
        parse_json(raw, limit=1024)
    assert caught.value.code == code and fragment in caught.value.message


def test_the_largest_accepted_numbers_and_valid_pairs_pass():
    doc = parse_json(b'{"n": -9223372036854775808, "m": 9223372036854775807, '
                     b'"e": "\\ud83d\\ude00", "d": 32}', limit=1024)
    assert doc["n"] == -(2**63) and doc["e"] == "😀"
    assert lone_surrogate_at(doc) is None
