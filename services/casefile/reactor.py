"""Meeting decisions become case events: the reactor consumes ``meeting.*`` events and runs
the pure decider through the executor with a command whose id derives from the triggering
event's id, so a reaction that runs twice (at-least-once) appends once."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

import structlog

from contracts.base import Command, DomainEvent, Id
from contracts.envelope import Envelope
from contracts.meeting import CaseTabled, DecisionRecorded, MeetingHeld
from eventstore.commands import Executor, Session
from eventstore.crypto import sealed_key_ids
from services.casefile import decisions
from services.casefile.handlers import consent_of, load_case

log = structlog.get_logger("tsunagu.casefile.reactor")


class ApplyMeetingEvent(Command):
    """Internal (never on NATS): carries the triggering meeting event to the handler."""

    type: Literal["casefile_apply_meeting_event"] = "casefile_apply_meeting_event"
    case_id: Id
    meeting_id: Id


def command_id(env: Envelope, case_id: str = "") -> str:
    return reaction_command_id(env.event_id, case_id)


def reaction_command_id(event_id: UUID, case_id: str = "") -> str:
    """The reaction's command id: its events' causation, by which a waiting client (the
    demo) sees that the reaction to a meeting event has been applied."""
    # One reaction per (event, case): MeetingHeld touches every case tabled at the meeting.
    return f"m{event_id.hex}" + (f"-{case_id}"[:30] if case_id else "")


class DecisionReactor:
    name = "casefile_decisions"
    aggregates: tuple[str, ...] | None = ("meeting",)

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    async def react(self, env: Envelope, seq: int) -> None:
        event = env.event
        if isinstance(event, DecisionRecorded | CaseTabled):
            await self._run(env, event.case_id)
        elif isinstance(event, MeetingHeld):
            # Attendance is per item: only the cases someone attended for are touched.
            for case_id in sorted({i.case_id for i in event.item_attendance or ()}):
                await self._run(env, case_id)

    async def _run(self, env: Envelope, case_id: str) -> None:
        # Unsealed: a decision's reason (sealed with the case key) goes into the case event.
        keyring = self.executor.keyring
        await keyring.prefetch(sealed_key_ids(env.event))
        trigger = keyring.unseal_event(env.event)

        async def handle(session: Session, cmd: ApplyMeetingEvent) -> list[DomainEvent]:
            # Neither the meeting's aggregate nor the directory is read: the event says what
            # the case needs (its meeting_kind, plan, lead, each judged by the meeting when
            # it was recorded); decisions.py judges it against the case.
            state = await load_case(session, case_id)
            if isinstance(trigger, CaseTabled):
                return decisions.decide_tabling(state, trigger)
            if isinstance(trigger, DecisionRecorded):
                facts = decisions.DecisionFacts(
                    consent=tuple(await consent_of(session, case_id)))
                return decisions.decide_decision(state, trigger, facts)
            if isinstance(trigger, MeetingHeld):
                return decisions.decide_attendance(state, trigger)
            return []

        cmd = ApplyMeetingEvent(
            command_id=command_id(env, case_id if isinstance(trigger, MeetingHeld) else ""),
            case_id=case_id, meeting_id=env.aggregate_id, occurred_at=env.occurred_at,
        )
        # Reactions to facts already accepted: dated as the trigger, with no backdating limit.
        reply = await self.executor.execute(env.actor.agency_id, cmd, handle, role="reaction")
        log.info("meeting event applied", trigger=env.type, events=len(reply["events"]),
                 replayed=reply["replayed"])
