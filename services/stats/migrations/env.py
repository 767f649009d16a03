"""Alembic environment of the stats service (see eventstore/migrations.py)."""

from eventstore.migrations import run_env
from services.stats.app import build_spec

run_env("stats", build_spec)
