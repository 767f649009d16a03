"""The casefile projection: cases, members, plans, timeline, what each agency may see,
and the per-agency feeds (published through the transactional outbox).

Every event that can change what an agency sees of a case (the case's own events, its
consent, a 支援会議 binding, a corrected つなぐシート, an erasure) makes the case due: at the
end of the batch's transaction the current view of each due case goes to every agency in its
audience, on ``<prefix>.feed.<agency>.<case>.case`` — once per batch, as of the case's last
event in it. The msg id is derived from that event's stream sequence, and a feed mark keeps a
rebuild from publishing anything again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import Connection, bindparam, case, exists, insert, or_, select, update

from contracts import catalog
from contracts.base import PersonalData
from contracts.case import (
    CaseClosed,
    CaseEvent,
    CaseOpened,
    CaseReopened,
    CaseReturnedToComprehensive,
    CaseSuspended,
    DecisionNotApplied,
    EnrollmentEnded,
    EnrollmentStarted,
    IntakeAssessmentRecorded,
    LeadAgencyAssigned,
    MemberJoined,
    MonitoringRecorded,
    PlanApproved,
    PlanDrafted,
    PlanTabled,
)
from contracts.common import reason_of
from contracts.consent import ConsentEvent
from contracts.envelope import Envelope
from contracts.feed import KIND_HEADER
from contracts.jst import JST
from contracts.meeting import (
    CaseMovedToSupportPlanMeeting,
    CaseTabled,
    ConfidentialityAcknowledged,
    DecisionRecorded,
    MaterialShared,
    MeetingCancelled,
    MeetingEvent,
    MeetingHeld,
    MeetingScheduled,
    MemberInvited,
    MinutesRecorded,
    ResourceGapRecorded,
)
from contracts.person import PersonDataErased
from contracts.referral import (
    PersonMatchDecided,
    ReferralCorrected,
    ReferralSubmitted,
    ReferralTriaged,
    ReferralWithdrawn,
)
from eventstore import fastsql
from eventstore.db import read_checkpoint, update_where, upsert, write_checkpoint
from eventstore.disclosure import DisclosureLog
from eventstore.projection import ApplyContext
from eventstore.topology import Topology
from services.casefile import batch, disclosures, notices, views
from services.casefile import tables as t
from services.casefile.feeds import too_large_notice

#: A row of the kit's tracking table: the last stream sequence whose feed was published.
FEED_MARK = "casefile.feed"
REFERRAL_FIELDS = ("name", "kana", "birth_date", "address", "phone", "summary")


# Built once (building a statement costs more than running it). ----------------------------
_C = t.cases.c


def _has(table: Any, *where: Any) -> Any:
    return exists().where(table.c.case_id == _C.case_id, *where)


#: What agencies see as the case's progress (opened … monitoring, or its status when not open),
#: computed from the rows in the UPDATE itself.
_STAGE = case(
    (_C.status != "open", _C.status),
    (_has(t.plans, t.plans.c.approved_on.is_not(None)),
     case((_has(t.monitorings), "monitoring"), else_="support")),
    (_has(t.plans, t.plans.c.tabled_at.is_not(None)), "plan_tabled"),
    (_has(t.plans), "plan_drafted"),
    (_has(t.assessments), "assessed"),
    else_="opened",
)
_RESTAGE = (update(t.cases).where(_C.case_id == bindparam("key_case_id"))
            .values(stage=_STAGE, last_seq=bindparam("new_last_seq")))
_PLAN_MONITORING_ON = select(t.plans.c.monitoring_on).where(
    t.plans.c.case_id == bindparam("case_id"), t.plans.c.plan_id == bindparam("plan_id"),
    t.plans.c.version == bindparam("version"))
_MEETING_KIND = select(t.meetings.c.kind).where(t.meetings.c.meeting_id == bindparam("mid"))
_MEETING_CASES = (select(t.meeting_cases.c.case_id)
                  .where(t.meeting_cases.c.meeting_id == bindparam("mid"))
                  .order_by(t.meeting_cases.c.case_id))
_REFERRAL_CASES = select(_C.case_id).where(_C.referral_id == bindparam("referral_id"))
_CONSENT_ROW = insert(t.consent)
#: A consent's free text (reasons, purposes, who obtained it, the form): coverage needs
#: none of it, so the casefile never keeps it.
_FREE_TEXT = {"reason", "personal_reason", "personal", "purposes", "obtained_by_staff",
              "form_ref"}
#: ApplyContext.scratch keys: the feed mark as advanced in this transaction, and the cases
#: whose views are due, {case_id: (seq, event type, recorded_at)} of their last event.
_MARK, _DUE = "casefile.feed_mark", "casefile.feeds_due"
_KIND_CASE = {KIND_HEADER: "case"}  # every feed message names its kind (docs/FEEDS.md)


def _plain(block: object, fields: tuple[str, ...] | None = None) -> dict[str, Any] | None:
    """A decrypted personal block as JSON, or None when it is still sealed (key destroyed)."""
    if not isinstance(block, PersonalData):
        return None
    data = block.model_dump(mode="json")
    return {k: data.get(k) for k in fields} if fields else data


def _type_names(*classes: type) -> frozenset[str]:
    return frozenset(c.model_fields["type"].default for c in classes)  # type: ignore[attr-defined]


AGGREGATES = ("case", "consent", "meeting", "referral", "person",
              "agency")  # the directory: who triages (notices)
#: Types of its aggregates that only notices use, and only for events after the feed mark.
NOTICE_ONLY = _type_names(DecisionRecorded, ReferralTriaged)
#: Types of its aggregates that change nothing here (the minutes, attendance, material and
#: gaps are the meeting service's; a withdrawn or matched referral opens no case).
UNUSED = _type_names(MeetingHeld, MinutesRecorded, MaterialShared, ResourceGapRecorded,
                     CaseMovedToSupportPlanMeeting, ReferralWithdrawn, PersonMatchDecided)


class CasefileProjection:
    name = "casefile"
    metadata = t.metadata
    aggregates: tuple[str, ...] | None = AGGREGATES
    needs_personal = True
    #: What a rebuild decodes: every type of its aggregates but the unused ones (a new type
    #: is decoded until it is listed), notice-only types only after the feed mark.
    event_types = frozenset(name for name, cls in catalog.event_types().items()
                            if cls.aggregate in AGGREGATES
                            ) - UNUSED - NOTICE_ONLY
    effect_types = NOTICE_ONLY
    effect_mark = FEED_MARK

    def __init__(self, topology: Topology) -> None:
        self.topology = topology

    #: A view too large for one message goes out as a notice naming the query (feeds.py).
    too_large_notice = staticmethod(too_large_notice)

    # ----- entry point ---------------------------------------------------------------
    def apply(self, conn: Connection, env: Envelope, ctx: ApplyContext) -> None:
        b = batch.of(ctx, _RESTAGE)  # first: its flush precedes the feeds at commit
        env = ctx.unseal(env)
        event = env.event
        # The cases whose views the event changes; read only when feeds go out (a rebuild
        # sends none, so it skips the reads).
        touched: Callable[[], list[str]] = list
        if isinstance(event, CaseEvent):
            if self._case(conn, env, ctx.seq, b):
                touched = partial(list, [event.case_id])
        elif isinstance(event, ConsentEvent):
            # Coverage needs no reason (free text about the person): not kept.
            fastsql.run(conn, _CONSENT_ROW, {"case_id": event.case_id, "seq": ctx.seq, "event":
                                        event.model_dump(mode="json", exclude=_FREE_TEXT)})
            _timeline(b, event.case_id, ctx.seq, env, _consent_summary(event))
            touched = partial(list, [event.case_id])
        elif isinstance(event, MeetingEvent):
            if self._meeting(conn, event):
                touched = partial(_bound_cases, conn, event.meeting_id)
        elif isinstance(event, ReferralSubmitted | ReferralCorrected):
            self._referral(conn, event, b)
            touched = partial(_referral_cases, conn, event.referral_id)
        elif isinstance(event, PersonDataErased):
            self._erase(conn, event, ctx, b)
            return
        notices.track(conn, env)
        if not self._feed_due(conn, ctx):  # once per event: it advances the feed mark
            return
        due_cases = touched()
        notices.notify(conn, env, ctx, self.topology)
        if due_cases:
            due = ctx.scratch.setdefault(_DUE, {})
            for case_id in due_cases:
                due.pop(case_id, None)  # re-inserted: views go out in the order of last change
                due[case_id] = (ctx.seq, env.type, env.recorded_at)
            ctx.before_commit(_DUE, lambda c: self._publish_due(c, ctx))

    # ----- feeds ---------------------------------------------------------------------
    def _publish_due(self, conn: Connection, ctx: ApplyContext) -> None:
        """Once per transaction: the current view of every case the batch changed, to every
        agency in its audience. Each case is read once for all its agencies, and a case
        changed by several events of the batch is sent once, as of its last one: the feed
        says what the case is now, not each step (intermediate views were never promised
        and a busy batch would otherwise send a view per event per agency)."""
        due: dict[str, tuple[int, str, datetime]] = ctx.scratch.pop(_DUE, {})
        for case_id, (seq, event_type, recorded_at) in due.items():
            data = views.load_case(conn, case_id)
            if data is None:
                continue
            # Tasks as of the day the event was stored, in Japan; consent judged now (a
            # backlog sent late never shows what today's consent no longer allows).
            on = recorded_at.astimezone(JST).date()
            today = max(on, datetime.now(JST).date())
            for agency in data.audience:
                view = views.view_of(data, agency, on, today)
                if view is None:
                    continue
                body = {"kind": "case", "at": recorded_at.isoformat(), "case_id": case_id,
                        "seq": seq, "event_type": event_type, "as_of": on.isoformat(),
                        "view": view}
                msg_id = f"feed-{agency}-{case_id}-{seq}"
                ctx.publish(
                    self.topology.feed_subject(agency, case_id, "case"),
                    json.dumps(body, ensure_ascii=False).encode(), msg_id=msg_id,
                    headers=_KIND_CASE,
                )
                # In the same outbox transaction: the feed goes out recorded, or not at all.
                record = disclosures.of_view(data, agency, view, "feed")
                if record is not None:
                    DisclosureLog.in_outbox(ctx, self.topology, record, msg_id)

    @staticmethod
    def _feed_due(conn: Connection, ctx: ApplyContext) -> bool:
        """Feeds are published once per event, ever: a rebuild (which drops this projection's
        tables and checkpoint, not this mark) replays without re-sending agencies' feeds.
        The mark is read once per transaction and written once at its end."""
        mark = ctx.scratch.get(_MARK)
        if mark is None:
            mark = read_checkpoint(conn, FEED_MARK)
        if ctx.seq <= mark:
            ctx.scratch[_MARK] = mark
            return False
        ctx.scratch[_MARK] = ctx.seq
        ctx.before_commit(_MARK, lambda c: write_checkpoint(c, FEED_MARK, ctx.scratch[_MARK]))
        return True

    # ----- cases ---------------------------------------------------------------------
    def _case(self, conn: Connection, env: Envelope, seq: int, b: batch.Batch) -> bool:
        e = env.event
        assert isinstance(e, CaseEvent)
        cid = e.case_id
        if isinstance(e, CaseOpened):
            erased = b.person_is_erased(conn, e.subject.person_id or "")
            b.staged.pop(cid, None)  # its row is written whole, stage "opened"
            b.case_erased[cid] = erased
            upsert(conn, t.cases, {
                "case_id": cid, "person_id": e.subject.person_id,
                "subject_agency_id": e.subject.agency_id, "referral_id": e.referral_id,
                "origin": e.origin.value, "coordinator": e.coordinator, "opened_on": e.opened_on,
                "status": "open", "stage": "opened", "lead_agency": None,
                "next_monitoring_on": None, "sex": e.sex.value, "age_band": e.age_band.value,
                "erased": erased, "personal": None if erased else _plain(e.personal),
                "last_seq": seq,
            }, ["case_id"])
            _timeline(b, cid, seq, env, f"case opened ({e.origin.value})")
            return True
        known = b.case_is_erased(conn, cid)
        if known is None:
            return False  # an event of a case we never saw opened: nothing to hang it on
        erased = known
        summary = e.type
        match e:
            case EnrollmentStarted():
                upsert(conn, t.enrollments, {
                    "enrollment_id": e.enrollment_id, "case_id": cid, "program": e.program.value,
                    "subject_person_id": e.subject.person_id,
                    "subject_agency_id": e.subject.agency_id, "started_on": e.started_on,
                    "ended_on": None, "end_reason": None,
                }, ["enrollment_id"])
                summary = f"enrolled in {e.program.value}"
            case EnrollmentEnded():
                update_where(conn, t.enrollments, {"enrollment_id": e.enrollment_id},
                             ended_on=e.ended_on, end_reason=None if erased else reason_of(e))
                summary = _why(f"{e.program.value} enrollment ended", e)
            case MemberJoined():
                upsert(conn, t.members, {"case_id": cid, "agency_id": e.agency_id,
                                         "joined_on": e.joined_on, "how": e.how.value},
                       ["case_id", "agency_id"])
                summary = f"{e.agency_id} joined ({e.how.value})"
            case IntakeAssessmentRecorded():
                upsert(conn, t.assessments, {
                    "assessment_id": e.assessment_id, "case_id": cid,
                    "assessed_on": e.assessed_on, "assessed_by": e.assessed_by,
                    "national_items": dict(e.national_items),
                    # Sealed with the case key; None once it is destroyed, never ciphertext.
                    "attachment": None if erased else _plain(e.attachment),
                    "personal": None if erased else _plain(e.personal),
                }, ["assessment_id"])
                summary = f"intake assessment by {e.assessed_by}"
            case PlanDrafted():
                upsert(conn, t.plans, {
                    "case_id": cid, "plan_id": e.plan_id, "version": e.version,
                    "program": e.program.value, "drafted_by": e.drafted_by,
                    "drafted_on": e.drafted_on,
                    "roles": [r.model_dump(mode="json") for r in e.roles],
                    "monitoring_on": e.monitoring_on, "tabled_at": None, "approved_on": None,
                    "approved_by_meeting": None,
                    "personal": None if erased else _plain(e.personal),
                }, ["case_id", "plan_id", "version"])
                summary = f"plan {e.plan_id} v{e.version} ({e.program.value}) drafted"
            case PlanTabled():
                update_where(conn, t.plans, self._plan_key(cid, e.plan_id, e.version),
                             tabled_at=e.meeting_id)
                summary = f"plan {e.plan_id} v{e.version} tabled at meeting {e.meeting_id}"
            case PlanApproved():
                key = self._plan_key(cid, e.plan_id, e.version)
                update_where(conn, t.plans, key,
                             approved_on=e.approved_on, approved_by_meeting=e.meeting_id)
                monitoring_on = fastsql.scalar(conn, _PLAN_MONITORING_ON, key)
                if monitoring_on is not None:
                    update_where(conn, t.cases, {"case_id": cid},
                                 next_monitoring_on=monitoring_on)
                summary = f"plan {e.plan_id} v{e.version} approved at meeting {e.meeting_id}"
            case MonitoringRecorded():
                upsert(conn, t.monitorings, {
                    "monitoring_id": e.monitoring_id, "case_id": cid, "program": e.program.value,
                    "recorded_on": e.recorded_on, "recorded_by": e.recorded_by,
                    "next_monitoring_on": e.next_monitoring_on,
                    "personal": None if erased else _plain(e.personal),
                }, ["monitoring_id"])
                update_where(conn, t.cases, {"case_id": cid},
                             next_monitoring_on=e.next_monitoring_on)
                summary = f"monitoring by {e.recorded_by}"
            case LeadAgencyAssigned():
                update_where(conn, t.cases, {"case_id": cid}, lead_agency=e.agency_id)
                summary = f"lead agency {e.agency_id} (meeting {e.meeting_id})"
            case CaseClosed():
                self._status(conn, cid, "closed")
                summary = _why(f"closed (終結) by meeting {e.meeting_id}", e)
            case CaseSuspended():
                self._status(conn, cid, "suspended")
                summary = _why(f"suspended (中断) by meeting {e.meeting_id}", e)
            case CaseReturnedToComprehensive():
                update_where(conn, t.cases, {"case_id": cid}, status="returned",
                             lead_agency=e.lead_agency)
                summary = _why(f"returned to 包括 ({e.lead_agency}) by meeting {e.meeting_id}",
                               e)
            case CaseReopened():
                self._status(conn, cid, "open")
                summary = _why("reopened", e)
            case DecisionNotApplied():
                summary = (f"decision {e.decision_id} of meeting {e.meeting_id} not applied: "
                           f"{e.reason}")
        b.staged.pop(cid, None)  # re-inserted: restaged in the order of last change
        b.staged[cid] = seq
        _timeline(b, cid, seq, env, summary)
        return True

    @staticmethod
    def _plan_key(case_id: str, plan_id: str, version: int) -> dict[str, Any]:
        return {"case_id": case_id, "plan_id": plan_id, "version": version}

    @staticmethod
    def _status(conn: Connection, case_id: str, status: str) -> None:
        update_where(conn, t.cases, {"case_id": case_id}, status=status)

    # ----- meetings (only who is bound; 支援会議 material never enters this service) -------
    def _meeting(self, conn: Connection, e: MeetingEvent) -> bool:
        """Writes who is bound; whether that may change who sees the meeting's cases."""
        mid = e.meeting_id
        match e:
            case MeetingScheduled():
                upsert(conn, t.meetings, {"meeting_id": mid, "kind": e.kind.value,
                                          "cancelled": False}, ["meeting_id"])
                for agency in e.members:
                    self._meeting_member(conn, mid, agency)
            case MemberInvited() if e.agency_id:
                self._meeting_member(conn, mid, e.agency_id)
            case ConfidentialityAcknowledged() if e.agency_id:
                self._meeting_member(conn, mid, e.agency_id)
                update_where(conn, t.meeting_members,
                             {"meeting_id": mid, "agency_id": e.agency_id}, acknowledged=True,
                             acknowledged_on=e.acknowledged_on)
            case MeetingCancelled():
                update_where(conn, t.meetings, {"meeting_id": mid}, cancelled=True)
            case CaseTabled():
                upsert(conn, t.meeting_cases, {"meeting_id": mid, "case_id": e.case_id},
                       ["meeting_id", "case_id"])
            case _:
                return False
        return True

    @staticmethod
    def _meeting_member(conn: Connection, meeting_id: str, agency_id: str) -> None:
        upsert(conn, t.meeting_members, {"meeting_id": meeting_id, "agency_id": agency_id,
                                         "invited": True, "acknowledged": False},
               ["meeting_id", "agency_id"], overwrite=False)

    # ----- referrals (the personal part of triaged cases) ----------------------------------
    def _referral(self, conn: Connection, e: ReferralSubmitted | ReferralCorrected,
                  b: batch.Batch) -> None:
        erased = b.person_is_erased(conn, e.person_id)
        upsert(conn, t.referrals, {
            "referral_id": e.referral_id, "person_id": e.person_id,
            "personal": None if erased else _plain(e.personal, REFERRAL_FIELDS),
        }, ["referral_id"])

    # ----- erasure -----------------------------------------------------------------------
    def _erase(self, conn: Connection, e: PersonDataErased, ctx: ApplyContext,
               b: batch.Batch) -> None:
        pid = e.person_id
        upsert(conn, t.erased_persons, {"person_id": pid, "erased_seq": ctx.seq}, ["person_id"])
        b.person_erased[pid] = True
        # A referral submitted under another id and matched to the person is theirs too;
        # this projection keeps its submitter's id, so the event names it (referral_ids).
        conn.execute(update(t.referrals).where(or_(
            t.referrals.c.person_id == pid, t.referrals.c.referral_id.in_(e.referral_ids)))
                     .values(personal=None))
        case_ids = set(conn.execute(select(t.cases.c.case_id).where(
            t.cases.c.person_id == pid)).scalars())
        case_ids |= set(e.key_ids) & set(conn.execute(select(t.cases.c.case_id)).scalars())
        for cid in sorted(case_ids):
            conn.execute(update(t.cases).where(t.cases.c.case_id == cid)
                         .values(personal=None, erased=True))
            b.case_erased[cid] = True
            for table in (t.plans, t.assessments, t.monitorings):
                conn.execute(update(table).where(table.c.case_id == cid).values(personal=None))
            conn.execute(update(t.enrollments).where(t.enrollments.c.case_id == cid)
                         .values(end_reason=None))  # an agency's reason, about the person
            # Older events carried the attachment reference (and its filename) in plain.
            conn.execute(update(t.assessments).where(t.assessments.c.case_id == cid)
                         .values(attachment=None))
        due = ctx.scratch.get(_DUE, {})
        for cid in case_ids:
            due.pop(cid, None)  # views from before the erasure in this batch: not sent
        if case_ids and self._feed_due(conn, ctx):
            for cid in sorted(case_ids):
                self._erased_notice(conn, cid, ctx)

    def _erased_notice(self, conn: Connection, case_id: str, ctx: ApplyContext) -> None:
        # Kind "erased", not "case": the shredder purges the old "case" snapshots.
        for agency in views.audience(conn, case_id):
            body = {"kind": "erased", "at": datetime.now(UTC).isoformat(), "seq": ctx.seq,
                    "event_type": "PersonDataErased", "case_id": case_id, "erased": True}
            ctx.publish(self.topology.feed_subject(agency, case_id, "erased"),
                        json.dumps(body).encode(), msg_id=f"feed-{agency}-{case_id}-{ctx.seq}",
                        headers={KIND_HEADER: "erased"})


def _bound_cases(conn: Connection, meeting_id: str) -> list[str]:
    """The cases tabled at a 支援会議 (only its members' binding changes who may see what)."""
    if fastsql.scalar(conn, _MEETING_KIND, {"mid": meeting_id}) != "confidential":
        return []
    return [r[0] for r in fastsql.all_rows(conn, _MEETING_CASES, {"mid": meeting_id})]


def _referral_cases(conn: Connection, referral_id: str) -> list[str]:
    return [r[0] for r in fastsql.all_rows(conn, _REFERRAL_CASES, {"referral_id": referral_id})]


def _timeline(b: batch.Batch, case_id: str, seq: int, env: Envelope, summary: str) -> None:
    b.timeline.append({
        "case_id": case_id, "seq": seq, "type": env.type,
        "occurred_at": env.occurred_at.isoformat(), "agency_id": env.actor.agency_id,
        "summary": summary[:600],
    })


def _why(summary: str, e: CaseEvent) -> str:
    """The reason goes into the timeline only from events stored before reasons were
    sealed; a sealed reason (free text about the person) stays in the event, shredded with
    the case key, and is shown by the meeting's decisions to its members."""
    plain = getattr(e, "reason", None)
    return f"{summary}: {plain}" if plain else summary


def _consent_summary(e: ConsentEvent) -> str:
    return f"{e.type}"
