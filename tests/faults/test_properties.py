"""Property-based: whatever an agency system sends, the parser and the pure deciders answer
with a domain error (a clear refusal) or events — never with any other exception; and over
NATS, the real services answer any bytes sent to a command or a query clearly.

This file covers command parsing, the kit-only stand-in and a first look at the casefile
deciders. Each service's deciders, folds and invariants have their own property tests:
tests/referral/test_properties.py, tests/casefile/test_properties.py,
tests/meeting/test_properties.py and tests/stats/test_properties.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import date
from typing import Any

import nats
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import toy
from contracts.base import Command
from contracts.case import (
    CaseClosed,
    CaseReopened,
    CaseSuspended,
    LeadAgencyAssigned,
    MemberJoined,
    MembershipReason,
)
from contracts.catalog import command_types
from eventstore.commands import parse_command, request_patiently
from eventstore.errors import DomainError, InvalidInput
from eventstore.guard import parse_json

COMMANDS = command_types()
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
FIELD_VALUES = st.one_of(
    JSON, st.sampled_from(["", "x" * 5000, "a.b", "*", ">", "1899-01-01", "2101-01-01",
                           "2025-02-30", "\u0000", "hq", "2025-06-01T10:00:00+09:00"]))


@st.composite
def mutated_command(draw: st.DrawFn) -> tuple[type[Command], bytes]:
    """A command body with the right field names but values drawn from anything."""
    name = draw(st.sampled_from(sorted(COMMANDS)))
    cls = COMMANDS[name]
    fields = [f for f in cls.model_fields if f != "type"]
    body: dict[str, Any] = {f: draw(FIELD_VALUES) for f in draw(
        st.lists(st.sampled_from(fields), unique=True, max_size=len(fields)))}
    if draw(st.booleans()):
        body["command_id"] = "c-1"
    return cls, json.dumps(body).encode()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_command())
def test_parsing_any_command_body_either_succeeds_or_says_what_is_invalid(sample):
    cls, raw = sample
    try:
        parse_command(cls, raw)
    except InvalidInput as exc:
        assert exc.message and exc.code in ("invalid", "too_large")


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(COMMANDS)), st.binary(max_size=200) | JSON.map(
    lambda v: json.dumps(v).encode()))
def test_parsing_arbitrary_bytes_as_any_command_only_raises_invalid_input(name, raw):
    with contextlib.suppress(InvalidInput):
        parse_command(COMMANDS[name], raw)


# ----- the kit-only stand-in's decider -----------------------------------------------------
TOY_COMMANDS = st.one_of(
    st.builds(toy.BenchOpenCase, command_id=st.just("c"), case_id=st.just("k")),
    st.builds(toy.BenchJoin, command_id=st.just("c"), case_id=st.just("k"),
              agency_id=st.sampled_from(["a", "b"])),
    st.builds(toy.BenchClose, command_id=st.just("c"), case_id=st.just("k"),
              reason=st.just("r")),
    st.builds(toy.BenchSuspend, command_id=st.just("c"), case_id=st.just("k"),
              reason=st.just("r")),
)


@given(st.lists(TOY_COMMANDS, max_size=12))
def test_the_stand_in_decider_only_refuses_with_domain_errors(commands):
    state = toy.Case()
    for cmd in commands:
        try:
            events = toy.decide(state, cmd)
        except DomainError:
            continue
        for event in events:
            state = toy.evolve(state, event)


# ----- the casefile service's pure deciders -----------------------------------------------
def _casefile():
    from contracts.commands_casefile import InviteMember, ReopenCase
    from services.casefile import domain

    return domain, InviteMember, ReopenCase


AGENCIES = st.sampled_from(["hq", "city", "npo", "ghost"])
DATES = st.dates(date(1900, 1, 1), date(2100, 12, 31))
CASE_EVENTS = st.one_of(
    st.builds(MemberJoined, case_id=st.just("k"), agency_id=AGENCIES, joined_on=DATES,
              how=st.sampled_from(list(MembershipReason))),
    st.builds(LeadAgencyAssigned, case_id=st.just("k"), agency_id=AGENCIES,
              meeting_id=st.just("m"), decision_id=st.just("d"), assigned_on=DATES),
    st.builds(CaseClosed, case_id=st.just("k"), closed_on=DATES, meeting_id=st.just("m"),
              decision_id=st.just("d1"), reason=st.just("r")),
    st.builds(CaseSuspended, case_id=st.just("k"), suspended_on=DATES, meeting_id=st.just("m"),
              decision_id=st.just("d2"), reason=st.just("r")),
    st.builds(CaseReopened, case_id=st.just("k"), reopened_on=DATES, reason=st.just("r")),
)


@settings(max_examples=300, deadline=None)
@given(st.booleans(), st.lists(CASE_EVENTS, max_size=8), AGENCIES, AGENCIES, DATES,
       st.booleans())
def test_casefile_deciders_only_refuse_with_domain_errors(
    opened, history, actor, invitee, day, reopen
):
    from bench.events import case_event

    domain, invite_cls, reopen_cls = _casefile()
    events = ([case_event("CaseOpened", "k")] if opened else []) + history
    state = domain.fold("k", events)
    if reopen:
        cmd: Command = reopen_cls(command_id="c", case_id="k", reopened_on=day, reason="r")
        decide = domain.decide_reopen
    else:
        cmd = invite_cls(command_id="c", case_id="k", agency_id=invitee, joined_on=day)
        decide = domain.decide_invite
    with contextlib.suppress(DomainError):
        decide(state, actor, cmd)


# ----- over NATS: whatever bytes arrive, a real service answers clearly -----------------
def _nested(depth: int) -> bytes:
    return b'{"case_id": ' + b"[" * depth + b"]" * depth + b"}"


HOSTILE_BYTES = st.one_of(
    st.binary(max_size=300),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.integers(1, 3000).map(_nested),
    st.integers(1, 6000).map(lambda n: b'{"case_id": ' + b"9" * n + b"}"),
    st.sampled_from([b'{"case_id": "\\ud800"}', b'{"\\udfff": 1}', b"NaN", b'{"a": 1e999}',
                     b'{"case_id": "\xed\xa0\x80"}', b"\xff" * 10, b"", b"null"]),
)
ANSWER_CODES = {"invalid", "too_large", "not_found", "forbidden", "rejected", "replay_failed"}


@settings(max_examples=400, deadline=None)
@given(HOSTILE_BYTES)
def test_the_guarded_parser_refuses_with_invalid_or_too_large_and_nothing_else(raw):
    try:
        doc = parse_json(raw, limit=4096)
    except InvalidInput as exc:
        assert exc.code in ("invalid", "too_large") and exc.message
        return
    json.dumps(doc).encode("utf-8")  # what it accepts is plain JSON that UTF-8 can store


async def test_any_bytes_sent_to_commands_and_queries_over_nats_get_a_clear_answer(
    services, nc, topology, store
):
    """Raw bytes to a command, queries and an admin action of the real services (the admin
    one from an operator's inbox): every one is answered
    within its deadline, with a result or a clear error, never ``internal``; no event is
    stored."""
    from tests.faults.conftest import stream_last_seq
    from tests.helpers import register_agency

    await register_agency(store, "prop-agency")
    await services("referral", "casefile")
    loop = asyncio.get_running_loop()
    before = await stream_last_seq(store)
    p = topology.prefix
    command = topology.command_subject("prop-agency", "submit_referral")
    admin = f"{p}.admin.casefile.replay"
    subjects = [command, f"{p}.query.prop-agency.case_view", f"{p}.query.prop-agency.inbox",
                admin]
    operator = await nats.connect(nc.connected_url.geturl(), inbox_prefix="_INBOX.operator.p")

    async def ask(subject: str, raw: bytes) -> dict[str, Any]:
        msg = await request_patiently(operator if subject == admin else nc, subject, raw,
                                      timeout=10)
        return dict(json.loads(msg.data))

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck),
              database=None)
    @given(st.sampled_from(subjects), HOSTILE_BYTES)
    def answered_clearly(subject: str, raw: bytes) -> None:
        reply = asyncio.run_coroutine_threadsafe(ask(subject, raw), loop).result(20)
        if reply["ok"]:
            assert subject != command, reply  # no hostile body is a valid referral
            return
        assert reply["error"]["code"] in ANSWER_CODES, (raw[:80], reply)
        assert reply["error"]["message"]

    try:
        await asyncio.to_thread(answered_clearly)
    finally:
        await operator.close()
    assert await stream_last_seq(store) == before


ARG_NAMES = ["case_id", "on", "meeting_id", "as_of", "agency_id", "stale", "referral_id",
             "include_retired", "include_past"]
ARG_VALUES = st.one_of(JSON, st.sampled_from(["2025-02-30", "1899-01-01", "a.b", "*", "",
                                              "x" * 5000, "2025-06-01", "hq", "\u0000"]))


async def test_every_query_of_every_service_answers_wrong_arguments_clearly(
    services, nc, topology, store
):
    """Arguments of the right names with values of any type, to every query of the four
    services: a result or a clear refusal, never ``internal``."""
    from tests.helpers import register_agency
    from tsunagu.services import SERVICES

    await register_agency(store, "prop-agency")
    runtimes = await services(*SERVICES)
    queries = sorted(f"{topology.prefix}.query.prop-agency.{name}"
                     for rt in runtimes.values() for name in rt.spec.queries)
    loop = asyncio.get_running_loop()

    async def ask(subject: str, raw: bytes) -> dict[str, Any]:
        msg = await request_patiently(nc, subject, raw, timeout=10)
        return dict(json.loads(msg.data))

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck),
              database=None)
    @given(st.sampled_from(queries), st.dictionaries(st.sampled_from(ARG_NAMES), ARG_VALUES,
                                                     max_size=4))
    def answered_clearly(subject: str, args: dict[str, Any]) -> None:
        raw = json.dumps(args).encode()
        reply = asyncio.run_coroutine_threadsafe(ask(subject, raw), loop).result(20)
        if not reply["ok"]:
            assert reply["error"]["code"] in ANSWER_CODES, (subject, args, reply)

    await asyncio.to_thread(answered_clearly)
