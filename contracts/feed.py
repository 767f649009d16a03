"""Feed notices: the typed messages an agency's feed carries besides the case view.

Every notice is JSON with at least ``kind``, ``at`` (when the event behind it was stored,
ISO time) and ``seq`` (its stream sequence), plus the ids it is about; the NATS header
``Tsunagu-Kind`` repeats ``kind``. A notice goes to
``<prefix>.feed.<agency>.<case, referral or meeting id>.<kind>[.<id>]`` (``notice_subject``):
one current message per subject, so each notice that must not replace another has its own
last token. Notices carry ids, codes and dates; the only free-text fields (``reason``) are
set only where the receiving agency may read them (docs/FEEDS.md).

>>> n = ReferralReturned(at="2026-05-01T09:00:00+09:00", seq=7, referral_id="r1",
...                      triaged_by="hokatsu", reason="窓口が違います")
>>> n.kind, notice_subject("tsunagu", "npo", n)
('referral_returned', 'tsunagu.feed.npo.r1.referral_returned')
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field

from contracts.base import AgencyId, Contract, Id, ShortText
from contracts.case import NotAppliedCode

KIND_HEADER = "Tsunagu-Kind"
#: Kinds that may carry a person's data (a view, a decision's or a return's reason): the
#: erasure of the person removes them from the feed stream; the others carry ids, codes and
#: dates only.
PERSONAL_KINDS = frozenset({"case", "case_decision", "decision_not_applied",
                            "referral_returned"})


class Notice(Contract):
    """What every feed notice has."""

    kind: str = Field(description="What happened; also the header Tsunagu-Kind")
    at: AwareDatetime = Field(description="When the event behind the notice was stored")
    seq: int = Field(ge=1, description="Stream sequence of that event (orders notices)")


class ReferralReceived(Notice):
    """To the referring agency (its referral was stored) and to every agency the directory
    lets triage (a referral awaits triage)."""

    kind: Literal["referral_received"] = "referral_received"
    referral_id: Id
    referring_agency: AgencyId


class ReferralTriaged(Notice):
    """To the referring agency and the triager: the referral's outcome (not ``returned``)."""

    kind: Literal["referral_triaged"] = "referral_triaged"
    referral_id: Id
    outcome: Literal["complex", "ordinary", "abuse_response"]
    triaged_by: AgencyId
    case_id: Id | None = None
    assigned_agency: AgencyId | None = None
    triaged_on: date | None = None


class ReferralReturned(Notice):
    """To the referring agency: the referral came back, with the triager's reason."""

    kind: Literal["referral_returned"] = "referral_returned"
    referral_id: Id
    triaged_by: AgencyId
    reason: ShortText | None = None
    triaged_on: date | None = None


class ReferralAssigned(Notice):
    """To the agency an ordinary (通常案件) referral was handed to."""

    kind: Literal["referral_assigned"] = "referral_assigned"
    referral_id: Id
    triaged_by: AgencyId
    assigned_agency: AgencyId
    triaged_on: date | None = None


class CaseJoined(Notice):
    """To every agency of the case: ``agency_id`` joined it."""

    kind: Literal["case_joined"] = "case_joined"
    case_id: Id
    agency_id: AgencyId
    how: str
    joined_on: date


class LeadChanged(Notice):
    """To every agency of the case: the lead (主担当) is now ``agency_id``."""

    kind: Literal["lead_changed"] = "lead_changed"
    case_id: Id
    agency_id: AgencyId
    meeting_id: Id | None = None
    decision_id: Id | None = None
    on: date


class MeetingInvitation(Notice):
    """To each invited agency. No title: a 支援会議's title may name the person."""

    kind: Literal["meeting_invitation"] = "meeting_invitation"
    meeting_id: Id
    meeting_kind: str
    scheduled_for: AwareDatetime | None = None
    convened_by: AgencyId | None = None


class MeetingChanged(Notice):
    """To each invited agency: the meeting moved."""

    kind: Literal["meeting_changed"] = "meeting_changed"
    meeting_id: Id
    scheduled_for: AwareDatetime


class MeetingCancelled(Notice):
    """To each invited agency: the meeting will not take place."""

    kind: Literal["meeting_cancelled"] = "meeting_cancelled"
    meeting_id: Id


class CaseDecision(Notice):
    """To every agency of the case: a meeting decided about it. ``reason`` (free text about
    the person) only where the agency may see the case's personal data."""

    kind: Literal["case_decision"] = "case_decision"
    case_id: Id
    meeting_id: Id
    decision_id: Id
    decision: str
    decided_on: date
    reason: ShortText | None = None


class DecisionApplied(Notice):
    """To the meeting's convener and every agency of the case: the case took the decision
    (``event_type`` says what it became). Decisions that change nothing on a case
    (evaluate, continue_support …) have no outcome to tell."""

    kind: Literal["decision_applied"] = "decision_applied"
    case_id: Id
    meeting_id: Id
    decision_id: Id
    event_type: Literal["PlanApproved", "LeadAgencyAssigned", "CaseClosed", "CaseSuspended",
                        "CaseReturnedToComprehensive"]
    on: date


class DecisionNotApplied(Notice):
    """To the meeting's convener and every agency of the case: the case could not take the
    decision, ``code`` says why (no personal data; absent for events stored before codes);
    ``reason``, the platform's own sentence, only where the agency may see the case."""

    kind: Literal["decision_not_applied"] = "decision_not_applied"
    case_id: Id
    meeting_id: Id
    decision_id: Id
    code: NotAppliedCode | None = None
    reason: ShortText | None = None


class TaskDue(Notice):
    """On the day: a monitoring date, the end of a plan role's period or of a consent."""

    kind: Literal["task_due"] = "task_due"
    case_id: Id
    task: Literal["monitoring", "plan_role_end", "consent_expiry"]
    due_on: date
    ref: Id | None = Field(default=None, description="The plan or consent it is about")


class CaseErased(Notice):
    """The person's data of the case was erased: drop what you kept of it."""

    kind: Literal["erased"] = "erased"
    case_id: Id
    event_type: Literal["PersonDataErased"] = "PersonDataErased"
    erased: Literal[True] = True


class CaseView(Notice):
    """The case as the agency may see it now (``<case>.case``, replaced by each change).
    ``view``: the case view of the ``case_view`` query (personal parts only with a basis)."""

    kind: Literal["case"] = "case"
    case_id: Id
    event_type: str = Field(description="The last event that changed the view")
    as_of: date
    view: dict[str, Any]


FeedNotice = Annotated[
    ReferralReceived | ReferralTriaged | ReferralReturned | ReferralAssigned | CaseJoined
    | LeadChanged | MeetingInvitation | MeetingChanged | MeetingCancelled | CaseDecision
    | DecisionApplied | DecisionNotApplied | TaskDue | CaseErased | CaseView,
    Field(discriminator="kind"),
]
NOTICE_TYPES: tuple[type[Notice], ...] = (
    ReferralReceived, ReferralTriaged, ReferralReturned, ReferralAssigned, CaseJoined,
    LeadChanged, MeetingInvitation, MeetingChanged, MeetingCancelled, CaseDecision,
    DecisionApplied, DecisionNotApplied, TaskDue, CaseErased, CaseView,
)


def notice_subject(prefix: str, agency: str, n: Notice) -> str:
    """Where ``n`` goes in ``agency``'s feed: one subject per thing that must stay."""
    kind = n.kind
    about = (getattr(n, "case_id", None) or getattr(n, "referral_id", None)
             or getattr(n, "meeting_id", None))
    last = {"case_joined": "agency_id", "case_decision": "decision_id",
            "decision_applied": "decision_id", "decision_not_applied": "decision_id"}.get(kind)
    tail = f".{getattr(n, last)}" if last else ""
    if isinstance(n, DecisionNotApplied):
        # A tabling not taken is named by its item id, which repeats across meetings.
        tail = f".{n.meeting_id}.{n.decision_id}"
    if isinstance(n, TaskDue):
        tail = f".{n.task}.{n.ref or 'case'}.{n.due_on.isoformat()}"
    return f"{prefix}.feed.{agency}.{about}.{kind}{tail}"
