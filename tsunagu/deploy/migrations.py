"""Alembic per service: each service's projection tables plus the kit tables
(``eventstore.db.kit_metadata``), in the service's own database or schema.

Every service has ``services/<name>/migrations/`` (env.py calls ``run_env``) and needs a
database or schema of its own: each service's migrations create the kit tables. The
version table is ``alembic_version_<service>`` and only the service's own tables are
compared, so a stray table of something else is not reported as "to drop".
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import MetaData

from eventstore.db import kit_metadata, make_engine
from eventstore.settings import Settings


def migrations_dir(service: str) -> Path:
    module = importlib.import_module(f"services.{service}")
    assert module.__file__ is not None
    return Path(module.__file__).parent / "migrations"


def version_table(service: str) -> str:
    return f"alembic_version_{service}"


def service_metadata(service: str, settings: Settings | None = None) -> MetaData:
    """The kit tables and every projection's tables of ``service``, in one MetaData."""
    from tsunagu.services import spec_factory

    spec = spec_factory(service)(settings or Settings())
    merged = MetaData()
    for md in (kit_metadata, *(p.metadata for p in spec.projections)):
        for table in md.tables.values():
            if table.name not in merged.tables:
                table.to_metadata(merged)
    return merged


def alembic_config(service: str, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir(service)))
    # ConfigParser interpolation: a literal % in a URL (encoded options) must be doubled.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["service"] = service
    return cfg


def _include_name(metadata: MetaData) -> Any:
    def include(name: str | None, type_: str, parent: dict[str, str | None]) -> bool:
        return type_ != "table" or name in metadata.tables

    return include


def run_env(service: str) -> None:
    """The body of ``services/<service>/migrations/env.py``."""
    from alembic import context

    url = context.config.get_main_option("sqlalchemy.url") or Settings().database_url(service)
    metadata = service_metadata(service)
    options: dict[str, Any] = {
        "target_metadata": metadata,
        "version_table": version_table(service),
        "include_name": _include_name(metadata),
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


def upgrade(service: str, url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(service, url), revision)


def revision(service: str, url: str, message: str) -> None:
    """Autogenerate a revision from the difference between the database and the code."""
    command.revision(alembic_config(service, url), message=message, autogenerate=True)


def diff(service: str, url: str) -> list[Any]:
    """What Alembic would still change: empty when the database matches the metadata."""
    metadata = service_metadata(service)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={
                "include_name": _include_name(metadata),
                "compare_type": True,
                "version_table": version_table(service),
            })
            return list(compare_metadata(ctx, metadata))
    finally:
        engine.dispose()
