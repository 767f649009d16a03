"""The referral service's own settings, from the same TSUNAGU_* variables as the kit's."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class ReferralSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TSUNAGU_", extra="ignore")

    #: Agencies that may triage besides directory entries with can_triage
    #: (contracts.directory.may_coordinate); the meeting service reads the same list.
    triage_agencies: tuple[str, ...] = ()
    #: Abuse routing: referrals flagged as suspected abuse go to the abuse-response process.
    route_abuse: bool = True
    #: Directory categories a city adds to seed 004's list (the directory import).
    extra_agency_categories: tuple[str, ...] = ()
