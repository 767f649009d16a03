"""What a service's Alembic ``env.py`` runs: its projection tables plus the kit tables.

Each ``services/<name>/migrations/env.py`` is two lines, and imports only down the layers::

    from eventstore.migrations import run_env
    from services.referral.app import build_spec

    run_env("referral", build_spec)

The version table is ``alembic_version_<service>`` and only the service's own tables are
compared, so a stray table of something else is not reported as "to drop".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import MetaData

from eventstore.db import kit_metadata, make_engine
from eventstore.service import ServiceSpec
from eventstore.settings import Settings

SpecFactory = Callable[[Settings], ServiceSpec]


def version_table(service: str) -> str:
    return f"alembic_version_{service}"


def spec_metadata(spec: ServiceSpec) -> MetaData:
    """The kit tables, every projection's tables of ``spec`` and its own, in one MetaData."""
    merged = MetaData()
    own = (spec.tables,) if spec.tables is not None else ()
    for md in (kit_metadata, *(p.metadata for p in spec.projections), *own):
        for table in md.tables.values():
            if table.name not in merged.tables:
                table.to_metadata(merged)
    return merged


def include_name(metadata: MetaData) -> Any:
    """Alembic's ``include_name``: only the service's own tables are compared."""

    def include(name: str | None, type_: str, parent: dict[str, str | None]) -> bool:
        return type_ != "table" or name in metadata.tables

    return include


def run_env(service: str, build_spec: SpecFactory) -> None:
    """The body of ``services/<service>/migrations/env.py``."""
    from alembic import context

    url = context.config.get_main_option("sqlalchemy.url") or Settings().database_url(service)
    metadata = spec_metadata(build_spec(Settings()))
    options: dict[str, Any] = {
        "target_metadata": metadata,
        "version_table": version_table(service),
        "include_name": include_name(metadata),
        "compare_type": True,
        "render_as_batch": url.startswith("sqlite"),
    }
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context.configure(connection=conn, **options)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()
