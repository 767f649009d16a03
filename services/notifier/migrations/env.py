"""Alembic environment of the notifier service (see tsunagu/deploy/migrations.py)."""

from tsunagu.deploy.migrations import run_env

run_env("notifier")
