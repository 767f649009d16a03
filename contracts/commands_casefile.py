"""Commands of the casefile service (subject ``<prefix>.cmd.<agency_id>.<type>``).

Plan approval, closure, suspension, return to 包括 and the lead agency are *meeting
decisions*: they arrive as ``DecisionRecorded`` events and are applied by the casefile's
reactor. The direct commands below with those names exist only to be refused clearly.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.base import AgencyId, Command, Id, ShortText, WorldDate
from contracts.case import (
    AssessmentPersonal,
    MonitoringPersonal,
    PlanPersonal,
    PlanRole,
    SubjectPersonal,
)
from contracts.common import AgeBand, AttachmentRef, Program, Sex, SubjectRef


class OpenCase(Command):
    """Open a case that starts without a referral: アウトリーチ first, or 参加支援 (whose
    subject may be an agency consulting about someone not yet identified)."""

    type: Literal["open_case"] = "open_case"
    program: Literal[Program.outreach, Program.participation]
    subject: SubjectRef
    opened_on: WorldDate
    sex: Sex = Sex.unknown
    age_band: AgeBand = AgeBand.unknown
    reason: ShortText | None = None
    personal: SubjectPersonal | None = None


class RecordIntakeAssessment(Command):
    """インテークアセスメント: the national items (codes, required) plus optional sealed text,
    or the agency's own sheet as an attachment instead of the text."""

    type: Literal["record_intake_assessment"] = "record_intake_assessment"
    case_id: Id
    assessed_on: WorldDate
    national_items: dict[str, str] = Field(
        description="Codes for contracts.case.NATIONAL_ASSESSMENT_ITEMS (all required)"
    )
    personal: AssessmentPersonal | None = None
    attachment: AttachmentRef | None = None


class DraftPlan(Command):
    """A new plan, or (with ``plan_id`` of an existing plan) a revision: a new version that
    must be tabled and approved again."""

    type: Literal["draft_plan"] = "draft_plan"
    case_id: Id
    plan_id: Id | None = Field(default=None, description="Set to revise an existing plan")
    program: Program = Program.multi_agency
    drafted_on: WorldDate
    roles: tuple[PlanRole, ...] = Field(min_length=1)
    monitoring_on: WorldDate | None = None
    personal: PlanPersonal


class RecordMonitoring(Command):
    type: Literal["record_monitoring"] = "record_monitoring"
    case_id: Id
    program: Program = Program.multi_agency
    recorded_on: WorldDate
    next_monitoring_on: WorldDate | None = None
    personal: MonitoringPersonal


class StartEnrollment(Command):
    type: Literal["start_enrollment"] = "start_enrollment"
    case_id: Id
    program: Program
    subject: SubjectRef | None = Field(default=None, description="Default: the case's subject")
    started_on: WorldDate
    reason: ShortText | None = None


class EndEnrollment(Command):
    type: Literal["end_enrollment"] = "end_enrollment"
    case_id: Id
    enrollment_id: Id
    ended_on: WorldDate
    reason: ShortText


class InviteMember(Command):
    # Named for the case: the meeting service has its own `invite_member` (to a meeting).
    type: Literal["invite_case_member"] = "invite_case_member"
    case_id: Id
    agency_id: AgencyId
    joined_on: WorldDate


class ReopenCase(Command):
    type: Literal["reopen_case"] = "reopen_case"
    case_id: Id
    reopened_on: WorldDate
    reason: ShortText


class ErasePersonData(Command):
    """Operator only (subject ``<prefix>.cmd.operator.erase_person_data``): crypto-shred."""

    type: Literal["erase_person_data"] = "erase_person_data"
    person_id: Id
    reason: ShortText


# ---- Refused on purpose: these are meeting decisions. ---------------------------------


class ApprovePlan(Command):
    type: Literal["approve_plan"] = "approve_plan"
    case_id: Id
    plan_id: Id | None = None


class CloseCase(Command):
    type: Literal["close_case"] = "close_case"
    case_id: Id
    reason: ShortText | None = None


class SuspendCase(Command):
    type: Literal["suspend_case"] = "suspend_case"
    case_id: Id
    reason: ShortText | None = None


class AssignLeadAgency(Command):
    type: Literal["assign_lead_agency"] = "assign_lead_agency"
    case_id: Id
    agency_id: AgencyId | None = None


class ReturnToComprehensive(Command):
    type: Literal["return_to_comprehensive"] = "return_to_comprehensive"
    case_id: Id
    agency_id: AgencyId | None = None
