"""The casefile service: its spec (commands, queries, projections) and a FastStream app factory."""

from __future__ import annotations

from faststream import FastStream

from eventstore.reactor import Reactor
from eventstore.service import Runtime, ServiceSpec, build_app
from eventstore.settings import Settings, load_settings
from services.casefile.erasure import Shredder
from services.casefile.handlers import Deps, commands
from services.casefile.person_record import OPERATOR_QUERIES
from services.casefile.projection import CasefileProjection
from services.casefile.queries import QUERIES
from services.casefile.reactor import DecisionReactor
from services.casefile.reminders import Clock, reminder_timer


def build_spec(settings: Settings, clock: Clock | None = None,
               reminder_every: float = 60.0) -> ServiceSpec:
    """``clock`` and ``reminder_every``: the reminder timer's (tests inject a day)."""
    projection = CasefileProjection(settings.topology)

    def reactors(rt: Runtime) -> list[Reactor]:
        assert rt.executor is not None
        return [DecisionReactor(rt.executor), Shredder(rt, projection.name)]

    return ServiceSpec(
        name="casefile",
        commands=commands(Deps()),
        queries=dict(QUERIES),
        operator_queries=dict(OPERATOR_QUERIES),
        projections=[projection],
        reactors=reactors,
        on_start=[reminder_timer(clock, reminder_every)],
    )


def create_app() -> FastStream:
    """For `faststream run services.casefile.app:create_app --factory`."""
    settings = load_settings()
    app, _ = build_app(build_spec(settings), settings)
    return app
