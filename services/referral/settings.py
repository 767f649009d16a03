"""The referral service's own settings, from the same TSUNAGU_* variables as the kit's."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.directory import CoordinationSettings


class ReferralSettings(BaseSettings, CoordinationSettings):
    """``triage_agencies`` (who triages besides directory entries with can_triage) is the
    city's one list, declared in ``contracts.directory.CoordinationSettings``."""

    model_config = SettingsConfigDict(env_prefix="TSUNAGU_", extra="ignore")

    #: Abuse routing: referrals flagged as suspected abuse go to the abuse-response process.
    route_abuse: bool = True
    #: Directory categories a city adds to seed 004's list (the directory import).
    extra_agency_categories: tuple[str, ...] = ()
