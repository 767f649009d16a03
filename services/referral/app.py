"""The referral service: its spec (commands, queries, projections) and a FastStream app factory."""

from __future__ import annotations

from faststream import FastStream

from eventstore.scrub import Scrubber
from eventstore.service import Runtime, ServiceSpec, build_app
from eventstore.settings import Settings, load_settings
from services.referral.handlers import Deps, commands
from services.referral.person_record import OPERATOR_QUERIES
from services.referral.projection import MATCH_KEY_ID, ReferralProjection
from services.referral.queries import queries
from services.referral.settings import ReferralSettings


def build_spec(settings: Settings, own: ReferralSettings | None = None) -> ServiceSpec:
    """``own``: the referral's settings; by default read from the environment."""
    own = own if own is not None else ReferralSettings()
    deps = Deps(own)

    async def wire(rt: Runtime) -> None:
        deps.keyring, deps.engine = rt.keyring, rt.engine
        assert rt.keyring is not None
        # The duplicate index's HMAC secret lives with the data keys (services only).
        await rt.keyring.get_or_create(MATCH_KEY_ID)

    return ServiceSpec(
        name="referral",
        commands=commands(deps),
        queries=queries(own),
        operator_queries=dict(OPERATOR_QUERIES),
        projections=[ReferralProjection()],
        # Its projection holds personal data: scrubbed from disk after an erasure.
        reactors=lambda rt: [Scrubber(rt, "referral", "PersonDataErased", ("person",))],
        on_start=[wire],
        answer_unknown_commands=True,
    )


def create_app() -> FastStream:
    """For `faststream run services.referral.app:create_app --factory`."""
    settings = load_settings()
    app, _ = build_app(build_spec(settings), settings)
    return app
