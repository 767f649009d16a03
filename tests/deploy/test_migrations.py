"""Alembic per service: after `upgrade`, the database matches the projection metadata."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from eventstore.db import make_engine
from eventstore.projection import ProjectionRunner, RunnerOptions
from tests.kit.fakes import CountingProjection
from tsunagu.deploy.migrations import diff, service_metadata, upgrade, version_table
from tsunagu.services import SERVICES


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_upgrade_creates_exactly_the_service_tables(service: str, db_url: str):
    upgrade(service, db_url)
    assert diff(service, db_url) == []
    engine = make_engine(db_url)
    try:
        names = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(service_metadata(service).tables) <= names
    assert version_table(service) in names


def test_upgrading_again_changes_nothing(db_url: str):
    upgrade("referral", db_url)
    upgrade("referral", db_url)
    assert diff("referral", db_url) == []


async def test_a_runner_set_up_for_migrations_creates_no_tables(nc, topology, db_url: str):
    engine = make_engine(db_url)
    runner = ProjectionRunner(nc, topology, CountingProjection(), engine,
                              options=RunnerOptions(create_tables=False))
    try:
        with pytest.raises(Exception, match="tsunagu_tracking"):
            await runner.start()
        assert inspect(engine).get_table_names() == []
    finally:
        await runner.stop()
        engine.dispose()
