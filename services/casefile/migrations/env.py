"""Alembic environment of the casefile service (see tsunagu/deploy/migrations.py)."""

from tsunagu.deploy.migrations import run_env

run_env("casefile")
