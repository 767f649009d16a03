"""A small service built on the kit alone: open a case, add a member, close or suspend it.

It stands in for the real services where they cannot be driven yet (the e2e benchmark and
the fault tests use it), and it is built exactly the way DEVELOPING.md says a service is:
a pure decider over a folded state, thin handlers, the ``CaseBoard`` projection.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from bench.events import DAY, CaseBoard, case_event
from contracts.base import AgencyId, Command, DomainEvent, Id, ShortText
from contracts.case import CaseClosed, CaseOpened, CaseSuspended, MemberJoined
from contracts.directory import active_entry
from contracts.envelope import Envelope
from eventstore.commands import Session, command_table
from eventstore.errors import DomainError, InvalidInput
from eventstore.preconditions import refuse_unless
from eventstore.service import ServiceSpec
from eventstore.settings import Settings

SERVICE = "benchcase"


class BenchOpenCase(Command):
    type: Literal["bench_open_case"] = "bench_open_case"
    case_id: Id


class BenchJoin(Command):
    type: Literal["bench_join"] = "bench_join"
    case_id: Id
    agency_id: AgencyId


class BenchClose(Command):
    type: Literal["bench_close"] = "bench_close"
    case_id: Id
    reason: ShortText


class BenchSuspend(Command):
    type: Literal["bench_suspend"] = "bench_suspend"
    case_id: Id
    reason: ShortText


# ----- pure domain -------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    exists: bool = False
    stage: str = "none"
    members: frozenset[str] = frozenset()


def evolve(state: Case, event: DomainEvent) -> Case:
    if isinstance(event, CaseOpened):
        return Case(True, "open")
    if isinstance(event, MemberJoined):
        return replace(state, members=state.members | {event.agency_id})
    if isinstance(event, CaseClosed):
        return replace(state, stage="closed")
    if isinstance(event, CaseSuspended):
        return replace(state, stage="suspended")
    return state


def fold(envelopes: list[Envelope]) -> Case:
    state = Case()
    for env in envelopes:
        state = evolve(state, env.event)
    return state


def decide(state: Case, cmd: Command) -> list[DomainEvent]:
    if isinstance(cmd, BenchOpenCase):
        if state.exists:
            raise DomainError(f"case {cmd.case_id} is already open", code="already_exists")
        return [case_event("CaseOpened", cmd.case_id)]
    if not state.exists:
        raise DomainError(f"case_id: no case {getattr(cmd, 'case_id', '?')}", code="not_found")
    if state.stage != "open":
        raise DomainError(
            f"case_id: the case is {state.stage}; only an open case can change",
            code="case_not_open",
        )
    if isinstance(cmd, BenchJoin):
        if cmd.agency_id in state.members:
            raise DomainError(f"agency_id: {cmd.agency_id} is already a member",
                              code="already_member")
        return [MemberJoined(case_id=cmd.case_id, agency_id=cmd.agency_id, joined_on=DAY,
                             how="meeting")]
    if isinstance(cmd, BenchClose):
        return [CaseClosed(case_id=cmd.case_id, closed_on=DAY, meeting_id="m-1",
                           decision_id=f"c-{cmd.command_id}", reason=cmd.reason)]
    if isinstance(cmd, BenchSuspend):
        return [CaseSuspended(case_id=cmd.case_id, suspended_on=DAY, meeting_id="m-1",
                              decision_id=f"s-{cmd.command_id}", reason=cmd.reason)]
    raise InvalidInput(f"unknown command {cmd.type}")


# ----- thin handler ------------------------------------------------------------------
async def handle(deps: None, session: Session, cmd: Command) -> list[DomainEvent]:
    await refuse_unless(session, active_entry(session.agency_id))
    history = await session.load("case", cmd.case_id)  # type: ignore[attr-defined]
    return decide(fold(history.envelopes), cmd)


def build_spec(settings: Settings | None = None, board: str = "benchboard") -> ServiceSpec:
    return ServiceSpec(
        name=SERVICE,
        commands=command_table(
            None, *((c, handle) for c in (BenchOpenCase, BenchJoin, BenchClose, BenchSuspend))
        ),
        projections=[CaseBoard(board)],
        answer_unknown_commands=True,
    )
