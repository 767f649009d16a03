"""Commands of the referral service: つなぐシート, triage, person matching, application and
consent. Sent to ``<prefix>.cmd.<agency_id>.<type>``; the agency in the subject is the actor.

Ids of new records (referral, person, case, consent) are derived from the sender and the
``command_id``, so a retried command lands on the same records and gets the original reply.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.base import AgencyId, Command, Contract, Id, ShortText, WorldDate
from contracts.common import AgeBand, AttachmentRef, Concern, Sex
from contracts.consent import ConsentMethod
from contracts.referral import ContactRoute, ReferralPersonal, TriageOutcome

# ---- つなぐシート --------------------------------------------------------------------


class _ReferralSheet(Command):
    """The fields of a つなぐシート: a small required core, everything personal optional."""

    contact_route: ContactRoute = Field(description="How to reach the person, or that one cannot")
    concerns: tuple[Concern, ...] = Field(min_length=1, description="Checklist of problem areas")
    suspected_abuse: bool = False
    sex: Sex = Sex.unknown
    age_band: AgeBand = Field(
        default=AgeBand.unknown, description="年代 when the birth date is not known"
    )
    personal: ReferralPersonal = Field(description="Summary (required) and optional details")
    attachment: AttachmentRef | None = Field(
        default=None, description="The agency's own sheet, uploaded with `tsunagu attach`"
    )


class SubmitReferral(_ReferralSheet):
    type: Literal["submit_referral"] = "submit_referral"


class CorrectReferral(_ReferralSheet):
    """Replaces the sheet's content; only the sender, only until triaged."""

    type: Literal["correct_referral"] = "correct_referral"
    referral_id: Id


class WithdrawReferral(Command):
    type: Literal["withdraw_referral"] = "withdraw_referral"
    referral_id: Id
    reason: ShortText


class TriageReferral(Command):
    """The coordinator's decision: 重層案件 / 通常案件 / returned / abuse response."""

    type: Literal["triage_referral"] = "triage_referral"
    referral_id: Id
    outcome: TriageOutcome
    triaged_on: WorldDate | None = Field(
        default=None, description="Decision date (default: the date of occurred_at, or today)"
    )
    assigned_agency: AgencyId | None = Field(
        default=None,
        description="Required for ordinary; optional for abuse_response (e.g. 児童相談所)",
    )
    reason: ShortText | None = Field(default=None, description="Required when returned")


class DecidePersonMatch(Command):
    """Link the referral's person to a likely duplicate, or keep them apart (never automatic)."""

    type: Literal["decide_person_match"] = "decide_person_match"
    referral_id: Id
    candidate_person_id: Id
    decision: Literal["link", "separate"]


# ---- 利用申込書 and 本人同意 ---------------------------------------------------------


class ConsentScope(Contract):
    """Scope of a consent (not a command): which agencies, for which purposes, how."""

    agencies: tuple[AgencyId, ...] = Field(min_length=1, max_length=100)
    purposes: tuple[ShortText, ...] = Field(min_length=1, max_length=20)
    method: ConsentMethod
    given_on: WorldDate
    valid_until: WorldDate | None = Field(default=None, description="Last valid day")
    obtained_by: AgencyId | None = Field(
        default=None, description="The member agency that obtained it, named by the recorder "
        "(the lead or coordinating agency); default: the sender")
    obtained_by_staff: ShortText | None = Field(
        default=None, description="Who obtained it (required; default: the command's staff)")
    form_ref: ShortText | None = Field(
        default=None, description="Reference of the signed form (同意書); required if written")


class RecordApplication(Command):
    """利用申込書: with consent (give its scope) or without it."""

    type: Literal["record_application"] = "record_application"
    case_id: Id
    applied_on: WorldDate
    with_consent: bool
    consent: ConsentScope | None = Field(
        default=None, description="Required when with_consent is true"
    )


class RecordConsent(Command):
    """A consent (e.g. later than the application), recorded by the lead or a coordinating
    agency: who obtained it (agency, staff) and the signed form's reference. No other member
    records one, so no member widens coverage to itself."""

    type: Literal["record_consent"] = "record_consent"
    case_id: Id
    agencies: tuple[AgencyId, ...] = Field(min_length=1, max_length=100)
    purposes: tuple[ShortText, ...] = Field(min_length=1, max_length=20)
    method: ConsentMethod
    given_on: WorldDate
    valid_until: WorldDate | None = Field(default=None, description="Last valid day")
    obtained_by: AgencyId | None = Field(
        default=None, description="The member agency that obtained it (default: the sender)")
    obtained_by_staff: ShortText | None = Field(
        default=None, description="Who obtained it (required; default: the command's staff)")
    form_ref: ShortText | None = Field(
        default=None, description="Reference of the signed form (同意書); required if written")


class NameConsentRecorder(Command):
    """Sent by the case's lead agency: ``agency_id`` (a member) may record the consents it
    obtains; it still cannot record one that widens coverage to itself."""

    type: Literal["name_consent_recorder"] = "name_consent_recorder"
    case_id: Id
    agency_id: AgencyId


class WithdrawConsent(Command):
    type: Literal["withdraw_consent"] = "withdraw_consent"
    case_id: Id
    consent_id: Id
    withdrawn_on: WorldDate
    reason: ShortText | None = None


class RecordConsentRefusal(Command):
    type: Literal["record_consent_refusal"] = "record_consent_refusal"
    case_id: Id
    refused_on: WorldDate
    reason: ShortText | None = None
