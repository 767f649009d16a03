"""Property-based: whatever an agency system sends, the parser and the pure deciders answer
with a domain error (a clear refusal) or events — never with any other exception.

This file covers command parsing, the kit-only stand-in and a first look at the casefile
deciders. Each service's deciders, folds and invariants have their own property tests:
tests/referral/test_properties.py, tests/casefile/test_properties.py,
tests/meeting/test_properties.py and tests/stats/test_properties.py."""

from __future__ import annotations

import contextlib
import json
from datetime import date
from typing import Any

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
from eventstore.commands import parse_command
from eventstore.errors import DomainError, InvalidInput

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
