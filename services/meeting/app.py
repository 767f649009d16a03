"""The meeting service: its spec (commands, queries, projections) and a FastStream app factory."""

from __future__ import annotations

from faststream import FastStream

from eventstore.scrub import Scrubber
from eventstore.service import ServiceSpec, build_app
from eventstore.settings import Settings, load_settings
from services.meeting.handlers import Deps, commands
from services.meeting.person_record import OPERATOR_QUERIES
from services.meeting.projection import MeetingProjection
from services.meeting.queries import QUERIES
from services.meeting.settings import MeetingSettings


def build_spec(settings: Settings, own: MeetingSettings | None = None) -> ServiceSpec:
    """``own``: the meeting's settings; by default read from the environment."""
    own = own if own is not None else MeetingSettings()
    # The coordination (directory entries with can_triage, or listed in settings) convenes.
    deps = Deps(coordinators=frozenset(own.triage_agencies))
    return ServiceSpec(
        name="meeting",
        commands=commands(deps),
        queries=dict(QUERIES),
        operator_queries=dict(OPERATOR_QUERIES),
        projections=[MeetingProjection()],
        # Its projection holds personal data: scrubbed from disk after an erasure.
        reactors=lambda rt: [Scrubber(rt, "meeting", "PersonDataErased", ("person",))],
    )


def create_app() -> FastStream:
    """For `faststream run services.meeting.app:create_app --factory`."""
    settings = load_settings()
    app, _ = build_app(build_spec(settings), settings)
    return app
