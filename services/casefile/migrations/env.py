"""Alembic environment of the casefile service (see eventstore/migrations.py)."""

from eventstore.migrations import run_env
from services.casefile.app import build_spec

run_env("casefile", build_spec)
