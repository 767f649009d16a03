"""Alembic environment of the meeting service (see eventstore/migrations.py)."""

from eventstore.migrations import run_env
from services.meeting.app import build_spec

run_env("meeting", build_spec)
