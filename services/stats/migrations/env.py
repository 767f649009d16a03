"""Alembic environment of the stats service (see tsunagu/deploy/migrations.py)."""

from tsunagu.deploy.migrations import run_env

run_env("stats")
