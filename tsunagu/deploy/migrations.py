"""Alembic per service: each service's projection tables plus the kit tables
(``eventstore.db.kit_metadata``), in the service's own database or schema.

Every service has ``services/<name>/migrations/`` (env.py calls
``eventstore.migrations.run_env``) and needs a database or schema of its own: each service's
migrations create the kit tables.
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

from eventstore.db import make_engine
from eventstore.migrations import include_name, spec_metadata, version_table
from eventstore.settings import Settings


def migrations_dir(service: str) -> Path:
    module = importlib.import_module(f"services.{service}")
    assert module.__file__ is not None
    return Path(module.__file__).parent / "migrations"


def service_metadata(service: str, settings: Settings | None = None) -> MetaData:
    """The kit tables and every projection's tables of ``service``, in one MetaData."""
    from tsunagu.services import spec_factory

    return spec_metadata(spec_factory(service)(settings or Settings()))


def alembic_config(service: str, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir(service)))
    # ConfigParser interpolation: a literal % in a URL (encoded options) must be doubled.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["service"] = service
    return cfg


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
                "include_name": include_name(metadata),
                "compare_type": True,
                "version_table": version_table(service),
            })
            return list(compare_metadata(ctx, metadata))
    finally:
        engine.dispose()
