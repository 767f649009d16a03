"""Issue 15, item 3: a meeting's own free text (title, reschedule and cancel reasons, who
acknowledged, a resource gap) may name the person, so the deciders put it only in sealed
blocks, with a key the erasure of a person tabled there destroys (``meeting_text_key``):
the stored event carries no plaintext. Pure: the deciders and the sealing, no broker."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from contracts.base import DomainEvent, PersonalData
from contracts.commands_meeting import (
    AcknowledgeConfidentiality,
    CancelMeeting,
    RecordResourceGap,
    RescheduleMeeting,
    ScheduleMeeting,
)
from contracts.common import text_of
from contracts.meeting import MEETING_TEXT_KEY_PREFIX, MeetingKind
from eventstore.crypto import key_id_of, personal_fields, seal
from services.meeting import domain
from services.meeting.state import Meeting, evolve

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
TITLE, WHY = "鰐淵さん世帯の会議", "鰐淵さんの入院のため"
STAFF, GAP = "相談員 楢崎", "鰐淵さんの移動手段"


def stored(event: DomainEvent) -> str:
    """The event as the store writes it: every personal block sealed with its key."""
    key = os.urandom(32)
    updates = {name: seal(value, key_id_of(event), key)
               for name in personal_fields(type(event))
               if isinstance(value := getattr(event, name), PersonalData)}
    return event.model_copy(update=updates).model_dump_json()


def scheduled(kind: MeetingKind = MeetingKind.support_plan) -> Meeting:
    [event] = domain.schedule(ScheduleMeeting(
        command_id="s", kind=kind, scheduled_for=NOW + timedelta(days=3),
        members=("hokatsu",), title=TITLE), Meeting("m1"), "fukushi", NOW)
    return evolve(Meeting("m1"), event, date(2026, 6, 1))


def test_a_meeting_title_travels_only_sealed_with_the_meetings_text_key():
    [event] = domain.schedule(ScheduleMeeting(
        command_id="s", kind=MeetingKind.support_plan, scheduled_for=NOW + timedelta(days=3),
        title=TITLE), Meeting("m1"), "fukushi", NOW)
    assert text_of(event, "title") == TITLE and event.title is None  # type: ignore[union-attr]
    assert key_id_of(event).startswith(MEETING_TEXT_KEY_PREFIX)
    assert TITLE not in stored(event)


def test_a_reschedule_and_a_cancel_reason_travel_only_sealed():
    m = scheduled()
    [moved] = domain.reschedule(RescheduleMeeting(
        command_id="r", meeting_id="m1", scheduled_for=NOW + timedelta(days=5), reason=WHY),
        m, "fukushi", NOW)
    [cancelled] = domain.cancel(CancelMeeting(command_id="c", meeting_id="m1", reason=WHY),
                                m, "fukushi")
    for event in (moved, cancelled):
        assert text_of(event, "reason") == WHY and WHY not in stored(event)
        assert key_id_of(event).startswith(MEETING_TEXT_KEY_PREFIX)
    # Each piece its own key: one destroyed by an erasure does not block the next.
    assert key_id_of(moved) != key_id_of(cancelled)


def test_who_acknowledged_confidentiality_travels_only_sealed():
    [ack] = domain.acknowledge(AcknowledgeConfidentiality(command_id="a", meeting_id="m1"),
                               scheduled(MeetingKind.confidential), "hokatsu",
                               date(2026, 6, 1), STAFF)
    assert text_of(ack, "staff") == STAFF and STAFF not in stored(ack)


def test_a_resource_gap_travels_only_sealed():
    m = scheduled()
    m = replace(m, status="held", held_on=date(2026, 6, 4))
    [gap] = domain.resource_gap(RecordResourceGap(command_id="g", meeting_id="m1",
                                                  description=GAP), m, "fukushi")
    assert text_of(gap, "description") == GAP and GAP not in stored(gap)
