"""The stats service: its spec (commands, queries, projections) and a FastStream app factory."""

from __future__ import annotations

from faststream import FastStream

from eventstore.scrub import Scrubber
from eventstore.service import Runtime, ServiceSpec, build_app
from eventstore.settings import Settings, load_settings
from services.stats.projection import StatsProjection
from services.stats.publishing import Deps, commands, start_month_end_timer
from services.stats.queries import stats_report


def build_spec(settings: Settings) -> ServiceSpec:
    holder: list[Runtime] = []

    async def remember(runtime: Runtime) -> None:
        holder.append(runtime)

    def runtime_of() -> Runtime:
        return holder[0]

    return ServiceSpec(
        name="stats",
        commands=commands(Deps(runtime_of)),
        queries={"stats_report": stats_report},
        projections=[StatsProjection()],
        # Its projection holds personal data: scrubbed from disk after an erasure.
        reactors=lambda rt: [Scrubber(rt, "stats", "PersonDataErased", ("person",))],
        on_start=[remember, start_month_end_timer],
    )


def create_app() -> FastStream:
    """For `faststream run services.stats.app:create_app --factory`."""
    settings = load_settings()
    app, _ = build_app(build_spec(settings), settings)
    return app
