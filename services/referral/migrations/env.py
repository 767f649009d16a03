"""Alembic environment of the referral service (see eventstore/migrations.py)."""

from eventstore.migrations import run_env
from services.referral.app import build_spec

run_env("referral", build_spec)
