"""Alembic environment of the meeting service (see tsunagu/deploy/migrations.py)."""

from tsunagu.deploy.migrations import run_env

run_env("meeting")
