"""The meeting service's own settings, from the same TSUNAGU_* variables as the kit's."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class MeetingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TSUNAGU_", extra="ignore")

    #: Agencies that convene besides directory entries with can_triage: the city's one list
    #: of coordinating agencies, which the referral service reads too
    #: (contracts.directory.may_coordinate).
    triage_agencies: tuple[str, ...] = ()
