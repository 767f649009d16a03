"""Feed notices (contracts/feed.py): who hears of what, beside the case views.

``track`` runs for every event (a rebuild restores what it keeps: referrers, meetings, due
tasks); ``notify`` only for events whose feeds were never published (the projection's feed
mark). ``recipients`` is the pure table of who gets which notice; the consent rule
(``views.basis_of``) decides, per agency, whether a decision's free-text reason goes along,
and each such delivery is recorded in the disclosure log in the same outbox transaction.
Reminders of due tasks are sent by ``reminders.py``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, Connection, Date, String, Table, bindparam, delete, select

from contracts.case import (
    CaseClosed,
    CaseReturnedToComprehensive,
    CaseSuspended,
    LeadAgencyAssigned,
    MemberJoined,
    MonitoringRecorded,
    PlanApproved,
)
from contracts.case import DecisionNotApplied as DecisionNotAppliedEvent
from contracts.common import reason_of
from contracts.consent import ConsentRecorded, ConsentWithdrawn
from contracts.directory import (
    AgencyRegistered,
    AgencyRetired,
    AgencyUpdated,
    evolve_agency,
    may_coordinate,
)
from contracts.envelope import Envelope
from contracts.feed import (
    KIND_HEADER,
    CaseDecision,
    CaseJoined,
    DecisionApplied,
    DecisionNotApplied,
    LeadChanged,
    MeetingCancelled,
    MeetingChanged,
    MeetingInvitation,
    Notice,
    ReferralAssigned,
    ReferralReceived,
    ReferralReturned,
    ReferralTriaged,
    notice_subject,
)
from contracts.jst import JST
from contracts.meeting import (
    DecisionRecorded,
    MeetingRescheduled,
    MeetingScheduled,
    MemberInvited,
)
from contracts.meeting import MeetingCancelled as MeetingCancelledEvent
from contracts.referral import ReferralSubmitted, TriageOutcome
from contracts.referral import ReferralTriaged as ReferralTriagedEvent
from eventstore import fastsql
from eventstore.db import upsert
from eventstore.disclosure import Disclosure, DisclosureLog
from eventstore.projection import ApplyContext
from eventstore.topology import Topology
from services.casefile import tables as t
from services.casefile import views

ID = t.ID

referrers = Table(
    "casefile_notice_referrals", t.metadata,
    Column("referral_id", String(ID), primary_key=True),
    Column("referring_agency", String(ID), nullable=False),
)
meetings = Table(
    "casefile_notice_meetings", t.metadata,
    Column("meeting_id", String(ID), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("convened_by", String(ID), nullable=False),
    Column("scheduled_for", String(40), nullable=False),
)
#: Agencies the directory lets triage: they hear of every new referral.
triagers = Table(
    "casefile_notice_triagers", t.metadata,
    Column("agency_id", String(ID), primary_key=True),
)
#: Tasks due on a day (reminders.py sends them). ``agency`` set: only to that agency.
tasks = Table(
    "casefile_tasks", t.metadata,
    Column("task_key", String(240), primary_key=True),
    Column("case_id", String(ID), nullable=False, index=True),
    Column("task", String(20), nullable=False),
    Column("ref", String(ID)),
    Column("agency", String(ID)),
    Column("due_on", Date, nullable=False, index=True),
)


# ----- the pure table: who gets which notice ----------------------------------------------
def recipients(notice: Notice, *, referrer: str | None = None,
               audience: list[str] | None = None, members: list[str] | None = None,
               convener: str | None = None, triaging: list[str] | None = None) -> list[str]:
    """The agencies ``notice`` goes to, given what the projection knows.

    >>> n = ReferralTriaged(at="2026-05-01T09:00:00+09:00", seq=3, referral_id="r1",
    ...                     outcome="ordinary", triaged_by="shakyo", assigned_agency="npo")
    >>> recipients(n, referrer="hokatsu")
    ['hokatsu', 'shakyo']
    """
    match notice:
        case ReferralReceived():
            found = [notice.referring_agency, *(triaging or ())]
        case ReferralTriaged() | ReferralReturned():
            found = [a for a in (referrer, notice.triaged_by) if a]
        case ReferralAssigned():
            found = [notice.assigned_agency]
        case MeetingInvitation() | MeetingChanged() | MeetingCancelled():
            found = list(members or ())
        case DecisionApplied() | DecisionNotApplied():
            found = [*(audience or ()), *([convener] if convener else [])]
        case _:
            found = list(audience or ())
    return sorted(set(found))


# ----- tracking (every event, rebuilds too) -------------------------------------------------
def track(conn: Connection, env: Envelope) -> None:
    e = env.event
    match e:
        case AgencyRegistered() | AgencyUpdated() | AgencyRetired():
            conn.execute(delete(triagers).where(triagers.c.agency_id == e.agency_id))
            # The latest directory event alone gives the standing (contracts.directory).
            if may_coordinate(evolve_agency(None, e)):
                conn.execute(triagers.insert(), {"agency_id": e.agency_id})
        case ReferralSubmitted():
            upsert(conn, referrers, {"referral_id": e.referral_id,
                                     "referring_agency": e.referring_agency}, ["referral_id"])
        case MeetingScheduled():
            upsert(conn, meetings, {"meeting_id": e.meeting_id, "kind": e.kind.value,
                                    "convened_by": e.convened_by,
                                    "scheduled_for": e.scheduled_for.isoformat()},
                   ["meeting_id"])
        case MeetingRescheduled():
            conn.execute(meetings.update().where(meetings.c.meeting_id == e.meeting_id)
                         .values(scheduled_for=e.scheduled_for.isoformat()))
        case PlanApproved():
            _plan_tasks(conn, e.case_id, e.plan_id, e.version)
        case MonitoringRecorded():
            _due(conn, e.case_id, "monitoring", None, None, e.next_monitoring_on)
        case ConsentRecorded():
            _due(conn, e.case_id, "consent_expiry", e.consent_id, None, e.valid_until)
        case ConsentWithdrawn():
            _due(conn, e.case_id, "consent_expiry", e.consent_id, None, None)


# Built once: building a statement costs more than running it (bench/README.md).
_DROP_TASK = delete(tasks).where(tasks.c.task_key == bindparam("task_key"))
_PLAN_DUE = select(t.plans.c.monitoring_on, t.plans.c.roles).where(
    t.plans.c.case_id == bindparam("case_id"), t.plans.c.plan_id == bindparam("plan_id"),
    t.plans.c.version == bindparam("version"))


def _due(conn: Connection, case_id: str, task: str, ref: str | None, agency: str | None,
         due_on: date | None) -> None:
    key = f"{case_id}:{task}:{ref or ''}:{agency or ''}"
    if due_on is None:
        fastsql.run(conn, _DROP_TASK, {"task_key": key})
        return
    upsert(conn, tasks, {"task_key": key, "case_id": case_id, "task": task, "ref": ref,
                         "agency": agency, "due_on": due_on}, ["task_key"])


def _plan_tasks(conn: Connection, case_id: str, plan_id: str, version: int) -> None:
    row = fastsql.first(conn, _PLAN_DUE,
                        {"case_id": case_id, "plan_id": plan_id, "version": version})
    if row is None:
        return
    monitoring_on, roles = row
    _due(conn, case_id, "monitoring", None, None, monitoring_on)
    for role in roles or ():
        if role.get("period_to"):
            _due(conn, case_id, "plan_role_end", plan_id, role["agency_id"],
                 date.fromisoformat(role["period_to"]))


# ----- notices (fresh events only) ----------------------------------------------------------
def notify(conn: Connection, env: Envelope, ctx: ApplyContext, topology: Topology) -> None:
    e, base = env.event, {"at": env.recorded_at, "seq": ctx.seq}
    match e:
        case ReferralSubmitted():
            _send(ctx, topology, ReferralReceived(**base, referral_id=e.referral_id,
                                                  referring_agency=e.referring_agency),
                  triaging=list(conn.execute(select(triagers.c.agency_id)).scalars()))
        case ReferralTriagedEvent():
            _referral(conn, ctx, topology, e, base)
        case MemberJoined():
            _send(ctx, topology, CaseJoined(**base, case_id=e.case_id, agency_id=e.agency_id,
                                            how=e.how.value, joined_on=e.joined_on),
                  audience=views.audience(conn, e.case_id))
        case LeadAgencyAssigned() | CaseReturnedToComprehensive():
            lead = e.agency_id if isinstance(e, LeadAgencyAssigned) else e.lead_agency
            on = e.assigned_on if isinstance(e, LeadAgencyAssigned) else e.returned_on
            _send(ctx, topology, LeadChanged(**base, case_id=e.case_id, agency_id=lead,
                                             meeting_id=e.meeting_id,
                                             decision_id=e.decision_id, on=on),
                  audience=views.audience(conn, e.case_id))
        case MeetingScheduled() | MemberInvited() | MeetingRescheduled() \
                | MeetingCancelledEvent():
            _meeting(conn, ctx, topology, e, base)
        case DecisionRecorded() | DecisionNotAppliedEvent():
            _decision(conn, ctx, topology, env, base)
    if type(e) in APPLIED_ON:  # besides lead_changed above: the outcome, convener included
        _applied(conn, ctx, topology, e, base)


def _referral(conn: Connection, ctx: ApplyContext, topology: Topology,
              e: ReferralTriagedEvent, base: dict[str, Any]) -> None:
    referrer = conn.execute(select(referrers.c.referring_agency).where(
        referrers.c.referral_id == e.referral_id)).scalar()
    common = {**base, "referral_id": e.referral_id, "triaged_by": e.triaged_by,
              "triaged_on": e.triaged_on}
    if e.outcome is TriageOutcome.returned:
        _send(ctx, topology, ReferralReturned(**common, reason=reason_of(e)), referrer=referrer)
        return
    _send(ctx, topology, ReferralTriaged(**common, outcome=e.outcome.value, case_id=e.case_id,
                                         assigned_agency=e.assigned_agency), referrer=referrer)
    if e.assigned_agency:
        _send(ctx, topology, ReferralAssigned(**common, assigned_agency=e.assigned_agency))


def _meeting(conn: Connection, ctx: ApplyContext, topology: Topology, e: Any,
             base: dict[str, Any]) -> None:
    mid = e.meeting_id
    m = conn.execute(select(meetings).where(meetings.c.meeting_id == mid)).mappings().first()
    if m is None:
        return  # a meeting we never saw scheduled: nothing to say about it
    members = list(conn.execute(select(t.meeting_members.c.agency_id).where(
        t.meeting_members.c.meeting_id == mid)).scalars())
    if isinstance(e, MeetingScheduled | MemberInvited):
        if isinstance(e, MemberInvited):
            if not e.agency_id:
                return  # an external member has no feed
            members = [e.agency_id]
        n: Notice = MeetingInvitation(**base, meeting_id=mid, meeting_kind=m["kind"],
                                      scheduled_for=m["scheduled_for"],
                                      convened_by=m["convened_by"])
    elif isinstance(e, MeetingRescheduled):
        n = MeetingChanged(**base, meeting_id=mid, scheduled_for=e.scheduled_for)
    else:
        n = MeetingCancelled(**base, meeting_id=mid)
    _send(ctx, topology, n, members=members)


#: Case events by which a meeting's decision was applied, with the field of their date.
APPLIED_ON: dict[type, str] = {
    PlanApproved: "approved_on", LeadAgencyAssigned: "assigned_on", CaseClosed: "closed_on",
    CaseSuspended: "suspended_on", CaseReturnedToComprehensive: "returned_on",
}


def _applied(conn: Connection, ctx: ApplyContext, topology: Topology, e: Any,
             base: dict[str, Any]) -> None:
    n = DecisionApplied(**base, case_id=e.case_id, meeting_id=e.meeting_id,
                        decision_id=e.decision_id, event_type=e.type,
                        on=getattr(e, APPLIED_ON[type(e)]))
    _send(ctx, topology, n, audience=views.audience(conn, e.case_id),
          convener=_convener(conn, e.meeting_id))


def _convener(conn: Connection, meeting_id: str) -> str | None:
    return conn.execute(select(meetings.c.convened_by).where(
        meetings.c.meeting_id == meeting_id)).scalar()


def _decision(conn: Connection, ctx: ApplyContext, topology: Topology, env: Envelope,
              base: dict[str, Any]) -> None:
    e = env.event
    assert isinstance(e, DecisionRecorded | DecisionNotAppliedEvent)
    data = views.load_case(conn, e.case_id)
    if data is None:
        return
    today = max(env.recorded_at.astimezone(JST).date(), datetime.now(JST).date())
    convener = _convener(conn, e.meeting_id)
    common = {**base, "case_id": e.case_id, "meeting_id": e.meeting_id,
              "decision_id": e.decision_id}
    reason = (reason_of(e) or "")[:200] or None  # sealed since privdisk; None once shredded
    n: Notice
    if isinstance(e, DecisionRecorded):
        n = CaseDecision(**common, decision=e.decision.value, decided_on=e.decided_on)
    else:
        n = DecisionNotApplied(**common, code=e.code)
    for agency in recipients(n, audience=data.audience, convener=convener):
        basis = views.basis_of(data, agency, today)
        told = n.model_copy(update={"reason": reason}) if basis else n
        msg_id = _publish(ctx, topology, agency, told)
        if basis is not None and reason:  # about the person: recorded with its basis
            DisclosureLog.in_outbox(ctx, topology, Disclosure.new(
                agency=agency, person_id=data.case["person_id"], case_id=e.case_id,
                fields=["decision.reason"], basis=basis.as_dict(), channel="feed"), msg_id)


def _send(ctx: ApplyContext, topology: Topology, n: Notice, **known: Any) -> None:
    for agency in recipients(n, **known):
        _publish(ctx, topology, agency, n)


def _publish(ctx: ApplyContext, topology: Topology, agency: str, n: Notice) -> str:
    kind = n.kind
    msg_id = f"notice-{agency}-{kind}-{n.seq}"
    ctx.publish(notice_subject(topology.prefix, agency, n), n.model_dump_json().encode(),
                msg_id=msg_id, headers={KIND_HEADER: kind})
    return msg_id
