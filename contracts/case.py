"""The case: lifecycle, programs, assessment, plans, members, lead, monitoring, closure."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field

from contracts.base import (
    AgencyId,
    Contract,
    DomainEvent,
    Id,
    LongText,
    PersonalData,
    Sealed,
    ShortText,
    WorldDate,
    personal,
)
from contracts.common import AgeBand, AttachmentRef, FreeText, Program, Sex, SubjectRef


class CaseEvent(DomainEvent):
    aggregate: ClassVar[str] = "case"
    id_field: ClassVar[str] = "case_id"
    case_id: Id


class CaseOrigin(StrEnum):
    triage = "triage"  # 重層案件 from a referral
    outreach = "outreach"  # outreach started before 多機関協働 was involved
    participation = "participation"


class SubjectPersonal(PersonalData):
    """Who the case is about, for cases opened without a referral (outreach first)."""

    name: ShortText | None = personal("氏名", default=None)
    kana: ShortText | None = personal("フリガナ", default=None)
    birth_date: WorldDate | None = personal("生年月日", default=None)
    address: ShortText | None = personal("住所", default=None)
    phone: ShortText | None = personal("電話", default=None)


class CaseOpened(CaseEvent):
    type: Literal["CaseOpened"] = "CaseOpened"
    creates: ClassVar[tuple[str, ...]] = ("case_id",)
    subject: SubjectRef
    referral_id: Id | None = None
    origin: CaseOrigin
    opened_on: WorldDate
    coordinator: AgencyId
    sex: Sex = Sex.unknown
    age_band: AgeBand = Field(
        default=AgeBand.unknown, description="Recorded band, if no birth date"
    )
    personal: SubjectPersonal | Sealed | None = None


class EnrollmentStarted(CaseEvent):
    type: Literal["EnrollmentStarted"] = "EnrollmentStarted"
    creates: ClassVar[tuple[str, ...]] = ("enrollment_id",)
    enrollment_id: Id
    program: Program
    subject: SubjectRef
    started_on: WorldDate
    reason: ShortText | None = Field(
        default=None, description="Plain, in events stored before reasons were sealed only")
    personal_reason: FreeText | Sealed | None = None


class EnrollmentEnded(CaseEvent):
    type: Literal["EnrollmentEnded"] = "EnrollmentEnded"
    enrollment_id: Id
    program: Program
    ended_on: WorldDate
    reason: ShortText | None = Field(
        default=None, description="The platform's own note (\"case closed\"), or an agency's "
        "reason in events stored before reasons were sealed")
    personal_reason: FreeText | Sealed | None = None


#: The intake-assessment items the national report needs (marked, required, checked by the
#: casefile service). Values are codes from these lists, never free text: they are stored in
#: clear, so a person's story must go into the sealed ``personal`` block instead.
NATIONAL_ASSESSMENT_ITEMS: dict[str, tuple[str, ...]] = {
    # 世帯の状況
    "household": ("single", "couple", "with_children", "with_parents", "multi_generation", "other"),
    # 相談経路
    "route": ("self", "family", "agency", "minsei", "neighbour", "outreach", "other"),
    # 主訴 (the main problem area, as on the つなぐシート)
    "main_concern": (
        "health_disability", "housing", "income", "debt", "work", "family", "childcare",
        "care", "withdrawal", "abuse_dv", "food", "other",
    ),
    # 緊急性
    "urgency": ("high", "medium", "low"),
}
#: Items a municipality may add; checked the same way when present, never required.
OPTIONAL_ASSESSMENT_ITEMS: dict[str, tuple[str, ...]] = {
    "income_source": ("work", "pension", "public_assistance", "family", "none", "other"),
    "housing_status": ("own", "rent", "public", "none", "other"),
}


class AssessmentPersonal(PersonalData):
    situation: LongText = personal("本人・世帯の状況")
    outlook: LongText | None = personal("支援の見立て", default=None)
    notes: LongText | None = personal(default=None)


class IntakeAssessmentRecorded(CaseEvent):
    type: Literal["IntakeAssessmentRecorded"] = "IntakeAssessmentRecorded"
    creates: ClassVar[tuple[str, ...]] = ("assessment_id",)
    assessment_id: Id
    assessed_on: WorldDate
    assessed_by: AgencyId
    national_items: dict[str, str] = Field(
        default_factory=dict, description="Items the national report needs (checked by casefile)"
    )
    personal: AssessmentPersonal | Sealed | None = None
    attachment: AttachmentRef | Sealed | None = None


class PlanRole(Contract):
    """One agency's role in a plan (not an event)."""

    agency_id: AgencyId
    role: ShortText
    frequency: ShortText | None = None
    period_from: WorldDate | None = None
    period_to: WorldDate | None = None


class PlanPersonal(PersonalData):
    long_term_goal: LongText = personal("長期目標")
    short_term_goals: tuple[LongText, ...] = personal("短期目標")
    direction: LongText = personal("支援の方向性")


class PlanDrafted(CaseEvent):
    """A plan version. Only an approved version is "the plan"; a revision is a new version."""

    type: Literal["PlanDrafted"] = "PlanDrafted"
    creates: ClassVar[tuple[str, ...]] = ("plan_id",)
    plan_id: Id
    version: int = Field(ge=1)
    program: Program
    drafted_by: AgencyId
    drafted_on: WorldDate
    roles: tuple[PlanRole, ...] = Field(min_length=1)
    monitoring_on: WorldDate | None = None
    personal: PlanPersonal | Sealed


class PlanTabled(CaseEvent):
    type: Literal["PlanTabled"] = "PlanTabled"
    plan_id: Id
    version: int
    meeting_id: Id
    item_id: Id


class PlanApproved(CaseEvent):
    type: Literal["PlanApproved"] = "PlanApproved"
    plan_id: Id
    version: int
    program: Program
    meeting_id: Id
    decision_id: Id
    approved_on: WorldDate


class MonitoringPersonal(PersonalData):
    progress: LongText = personal("経過")


class MonitoringRecorded(CaseEvent):
    type: Literal["MonitoringRecorded"] = "MonitoringRecorded"
    creates: ClassVar[tuple[str, ...]] = ("monitoring_id",)
    monitoring_id: Id
    program: Program = Program.multi_agency
    recorded_on: WorldDate
    recorded_by: AgencyId
    next_monitoring_on: WorldDate | None = None
    personal: MonitoringPersonal | Sealed


class MembershipReason(StrEnum):
    referral = "referral"
    plan_role = "plan_role"
    meeting = "meeting"
    invitation = "invitation"
    triage = "triage"
    opened = "opened"  # the agency that opened a case without a referral (outreach first)


class MemberJoined(CaseEvent):
    type: Literal["MemberJoined"] = "MemberJoined"
    agency_id: AgencyId
    joined_on: WorldDate
    how: MembershipReason


class LeadAgencyAssigned(CaseEvent):
    type: Literal["LeadAgencyAssigned"] = "LeadAgencyAssigned"
    agency_id: AgencyId
    meeting_id: Id
    decision_id: Id
    assigned_on: WorldDate


class CaseClosed(CaseEvent):
    """終結: a meeting decision."""

    type: Literal["CaseClosed"] = "CaseClosed"
    closed_on: WorldDate
    meeting_id: Id
    decision_id: Id
    reason: ShortText | None = Field(
        default=None, description="Plain, in events stored before reasons were sealed only")
    personal_reason: FreeText | Sealed | None = None


class CaseSuspended(CaseEvent):
    """中断: a meeting decision."""

    type: Literal["CaseSuspended"] = "CaseSuspended"
    suspended_on: WorldDate
    meeting_id: Id
    decision_id: Id
    reason: ShortText | None = Field(
        default=None, description="Plain, in events stored before reasons were sealed only")
    personal_reason: FreeText | Sealed | None = None


class CaseReturnedToComprehensive(CaseEvent):
    """Back to 包括的相談支援 as lead: a meeting decision."""

    type: Literal["CaseReturnedToComprehensive"] = "CaseReturnedToComprehensive"
    lead_agency: AgencyId
    returned_on: WorldDate
    meeting_id: Id
    decision_id: Id
    reason: ShortText | None = Field(
        default=None, description="Plain, in events stored before reasons were sealed only")
    personal_reason: FreeText | Sealed | None = None


class CaseReopened(CaseEvent):
    type: Literal["CaseReopened"] = "CaseReopened"
    reopened_on: WorldDate
    reason: ShortText | None = Field(
        default=None, description="Plain, in events stored before reasons were sealed only")
    personal_reason: FreeText | Sealed | None = None


class NotAppliedCode(StrEnum):
    """Why a case could not take a meeting's decision (or the tabling of a plan), as the
    casefile judges it (services/casefile/decisions.py). The meeting's own rules (which
    case may go to which meeting, what a kind of meeting may decide, the lead's standing)
    refuse the command instead, and have no code here."""

    case_not_open = "case_not_open"  # closed, suspended or returned (as the decision needs)
    already_closed = "already_closed"
    not_support_plan_meeting = "not_support_plan_meeting"  # plans: 重層的支援会議 only
    meeting_kind_unknown = "meeting_kind_unknown"  # a tabling stored without meeting_kind
    no_plan = "no_plan"  # the decision names no plan_id
    plan_not_drafted = "plan_not_drafted"
    plan_not_tabled = "plan_not_tabled"  # not tabled at this meeting
    plan_superseded = "plan_superseded"
    plan_already_approved = "plan_already_approved"
    no_consent = "no_consent"  # an approval without valid consent on the day of the decision
    no_lead_agency = "no_lead_agency"  # only in decisions stored before the meeting required one
    #: Stored only: the meeting judges the lead's standing when it records the decision, and
    #: the casefile no longer reads the directory (kept so stored events still parse).
    lead_not_active = "lead_not_active"


class DecisionNotApplied(CaseEvent):
    """A meeting decision the case could not take (e.g. it was closed meanwhile). ``code``
    says why for machines (absent in events stored before it was added); ``reason`` is the
    platform's own sentence, never a person's data."""

    type: Literal["DecisionNotApplied"] = "DecisionNotApplied"
    meeting_id: Id
    decision_id: Id
    reason: ShortText
    code: NotAppliedCode | None = Field(
        default=None, description="Why, as a code (absent in events stored before)")
