"""Alembic environment of the notifier service (see eventstore/migrations.py)."""

from eventstore.migrations import run_env
from services.notifier.app import build_spec

run_env("notifier", build_spec)
