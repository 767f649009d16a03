"""The meeting service's own settings, from the same TSUNAGU_* variables as the kit's."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.directory import CoordinationSettings


class MeetingSettings(BaseSettings, CoordinationSettings):
    """``triage_agencies`` (who convenes besides directory entries with can_triage) is the
    city's one list, declared in ``contracts.directory.CoordinationSettings``."""

    model_config = SettingsConfigDict(env_prefix="TSUNAGU_", extra="ignore")
