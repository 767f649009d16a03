"""The meeting service's read model (SQLAlchemy Core; SQLite or PostgreSQL).

Minutes and materials are personal data: they are kept here, decrypted, only because the
members' views show them; who may read them is decided in ``queries``, never here. Those of
an agenda item are sealed with the item's case key; on PersonDataErased the rows of the
erased cases are nulled (older events sealed with the meeting's key are covered that way too).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    select,
    update,
)

from contracts.common import REDACTED, AttachmentRef, reason_of, sealed_text, text_of
from contracts.consent import ConsentRecorded, ConsentWithdrawn
from contracts.envelope import Envelope
from contracts.meeting import (
    CaseMovedToSupportPlanMeeting,
    CaseTabled,
    ConfidentialityAcknowledged,
    DecisionRecorded,
    MaterialPersonal,
    MaterialShared,
    MeetingCancelled,
    MeetingHeld,
    MeetingRescheduled,
    MeetingScheduled,
    MeetingSeriesEnded,
    MeetingSeriesStarted,
    MemberInvited,
    MinutesPersonal,
    MinutesRecorded,
    ResourceGapRecorded,
)
from contracts.person import PersonDataErased
from eventstore.db import update_where, upsert
from eventstore.projection import ApplyContext
from services.meeting.recurrence import describe, local_date

metadata = MetaData()

meetings = Table(
    "meeting_meetings", metadata,
    Column("meeting_id", String(64), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("regular", Boolean, nullable=False),
    Column("series_id", String(64)),
    Column("title", String(200)),
    # UTC ISO-8601 text: sorts and compares the same way on SQLite and PostgreSQL.
    Column("scheduled_at", String(32), nullable=False, index=True),
    Column("scheduled_on", Date, nullable=False),
    Column("convened_by", String(64), nullable=False),
    Column("status", String(12), nullable=False),
    Column("held_on", Date),
    Column("cancel_reason", String(200)),
)

members = Table(
    "meeting_members", metadata,
    Column("meeting_id", String(64), primary_key=True),
    # The agency id, or "ext:<member_id>" for an outside professional.
    Column("member", String(70), primary_key=True),
    Column("agency_id", String(64), index=True),
    Column("external_id", String(64)),
    Column("profession", String(200)),
    Column("name", String(200)),
    Column("acknowledged", Boolean, nullable=False, default=False),
    Column("attended", Boolean, nullable=False, default=False),
    Column("acknowledged_on", Date),  # the seat's date: part of a disclosure's basis
)

#: The consents and withdrawals of each case, as stored on the stream (still sealed where
#: the contract seals): an item's material and minutes go only to members covered today.
consents = Table(
    "meeting_consents", metadata,
    Column("case_id", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("event", JSON, nullable=False),
)

items = Table(
    "meeting_items", metadata,
    Column("meeting_id", String(64), primary_key=True),
    Column("item_id", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("case_id", String(64), nullable=False, index=True),
    Column("asks", JSON, nullable=False),
    Column("plan_id", String(64)),
    Column("plan_version", Integer),
    Column("program", String(20)),
    Column("moved_to", String(64)),
)

decisions = Table(
    "meeting_decisions", metadata,
    Column("decision_id", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("meeting_id", String(64), nullable=False, index=True),
    Column("item_id", String(64), nullable=False),
    Column("case_id", String(64), nullable=False, index=True),
    Column("decision", String(40), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("decided_on", Date, nullable=False),
    Column("plan_id", String(64)),
    Column("plan_version", Integer),
    Column("lead_agency", String(64)),
    Column("program", String(20)),
)

minutes = Table(
    "meeting_minutes", metadata,
    Column("meeting_id", String(64), primary_key=True),
    Column("recorded_by", String(64), nullable=False),
    Column("text", Text),  # None once the key is destroyed
)

#: Minutes of one agenda item (sealed with its case's key).
item_minutes = Table(
    "meeting_item_minutes", metadata,
    Column("meeting_id", String(64), primary_key=True),
    Column("item_id", String(64), primary_key=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("seq", BigInteger, nullable=False),
    Column("recorded_by", String(64), nullable=False),
    Column("text", Text),  # None once the case's key is destroyed
)

materials = Table(
    "meeting_materials", metadata,
    Column("material_id", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("meeting_id", String(64), nullable=False, index=True),
    Column("item_id", String(64)),
    Column("case_id", String(64), index=True),  # the item's case: erasure nulls the row
    Column("shared_by", String(64), nullable=False),
    Column("title", String(200)),
    Column("text", Text),
    Column("attachment", JSON),
)

gaps = Table(
    "meeting_gaps", metadata,
    Column("gap_id", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("meeting_id", String(64), nullable=False, index=True),
    Column("description", Text, nullable=False),
)

counts = Table(
    "meeting_counts", metadata,
    Column("kind", String(20), primary_key=True),
    Column("month", String(7), primary_key=True),  # YYYY-MM of held_on
    Column("held", Integer, nullable=False),
)

series = Table(
    "meeting_series", metadata,
    Column("series_id", String(64), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("rule", String(100), nullable=False),
    Column("convened_by", String(64), nullable=False),
    Column("title", String(200)),
    Column("active", Boolean, nullable=False),
)


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _member(conn: Connection, meeting_id: str, member: str, **values: object) -> None:
    upsert(conn, members, {"meeting_id": meeting_id, "member": member, **values},
           ["meeting_id", "member"])


def _set_member(conn: Connection, meeting_id: str, member: str, **values: object) -> None:
    update_where(conn, members, {"meeting_id": meeting_id, "member": member}, **values)


# Built once: building a statement costs more than running it.
_MID: Any = bindparam("meeting_id")
_LAST_POSITION = (select(items.c.position).where(items.c.meeting_id == _MID)
                  .order_by(items.c.position.desc()).limit(1))
_ITEM_CASE = select(items.c.case_id).where(items.c.meeting_id == _MID,
                                           items.c.item_id == bindparam("item_id"))
_KIND = select(meetings.c.kind).where(meetings.c.meeting_id == _MID)
_HELD = select(counts.c.held).where(counts.c.kind == bindparam("kind"),
                                    counts.c.month == bindparam("month"))


class MeetingProjection:
    name = "meeting"
    aggregates: tuple[str, ...] | None = ("meeting", "meeting_series", "person", "consent")
    needs_personal = True
    metadata = metadata

    def apply(self, conn: Connection, env: Envelope, ctx: ApplyContext) -> None:
        event = env.event
        match event:
            case MeetingScheduled():
                upsert(conn, meetings, {
                    "meeting_id": event.meeting_id, "kind": event.kind.value,
                    "regular": event.regular, "series_id": event.series_id,
                    "title": _text(env, ctx, "title"),
                    "scheduled_at": utc_text(event.scheduled_for),
                    "scheduled_on": local_date(event.scheduled_for),
                    "convened_by": event.convened_by, "status": "scheduled",
                    "held_on": None, "cancel_reason": None,
                }, ["meeting_id"])
                for agency_id in event.members:
                    _member(conn, event.meeting_id, agency_id, agency_id=agency_id,
                            acknowledged=False, attended=False)
                for ext in event.external_members:
                    _member(conn, event.meeting_id, f"ext:{ext.member_id}",
                            external_id=ext.member_id, profession=ext.profession, name=ext.name,
                            acknowledged=False, attended=False)
            case MeetingRescheduled():
                update_where(conn, meetings, {"meeting_id": event.meeting_id},
                             scheduled_at=utc_text(event.scheduled_for),
                             scheduled_on=local_date(event.scheduled_for))
            case MeetingCancelled():
                update_where(conn, meetings, {"meeting_id": event.meeting_id},
                             status="cancelled", cancel_reason=_text(env, ctx, "reason"))
            case MemberInvited():
                if event.agency_id:
                    _member(conn, event.meeting_id, event.agency_id, agency_id=event.agency_id,
                            acknowledged=False, attended=False)
                if event.external:
                    x = event.external
                    _member(conn, event.meeting_id, f"ext:{x.member_id}", external_id=x.member_id,
                            profession=x.profession, name=x.name, acknowledged=False,
                            attended=False)
            case ConfidentialityAcknowledged():
                who = event.agency_id or f"ext:{event.member_id}"
                _set_member(conn, event.meeting_id, who, acknowledged=True,
                            acknowledged_on=event.acknowledged_on)
            case ConsentRecorded() | ConsentWithdrawn():
                upsert(conn, consents, {"case_id": event.case_id, "seq": ctx.seq,
                                        "event": event.model_dump(mode="json")},
                       ["case_id", "seq"])
            case CaseTabled():
                position = conn.execute(_LAST_POSITION,
                                        {"meeting_id": event.meeting_id}).scalar()
                upsert(conn, items, {
                    "meeting_id": event.meeting_id, "item_id": event.item_id,
                    "position": (position or 0) + 1, "case_id": event.case_id,
                    "asks": [a.value for a in event.asks], "plan_id": event.plan_id,
                    "plan_version": event.plan_version,
                    "program": event.program.value if event.program else None,
                    "moved_to": None,
                }, ["meeting_id", "item_id"])
            case CaseMovedToSupportPlanMeeting():
                update_where(conn, items, {"meeting_id": event.meeting_id,
                                           "item_id": event.item_id},
                             moved_to=event.to_meeting_id)
            case MeetingHeld():
                update_where(conn, meetings, {"meeting_id": event.meeting_id},
                             status="held", held_on=event.held_on)
                for agency_id in event.attendees:
                    _set_member(conn, event.meeting_id, agency_id, attended=True)
                for member_id in event.external_attendees:
                    _set_member(conn, event.meeting_id, f"ext:{member_id}", attended=True)
                self._count(conn, event.meeting_id, event.held_on.strftime("%Y-%m"))
            case DecisionRecorded():
                upsert(conn, decisions, {
                    "decision_id": event.decision_id, "seq": ctx.seq,
                    "meeting_id": event.meeting_id, "item_id": event.item_id,
                    "case_id": event.case_id, "decision": event.decision.value,
                    # "" once the case key is destroyed (the column predates sealed reasons).
                    "reason": reason_of(ctx.unseal(env).event) or "",
                    "decided_on": event.decided_on,
                    "plan_id": event.plan_id, "plan_version": event.plan_version,
                    "lead_agency": event.lead_agency,
                    "program": event.program.value if event.program else None,
                }, ["decision_id"])
            case MinutesRecorded():
                plain = ctx.unseal(env).event
                assert isinstance(plain, MinutesRecorded)
                text = plain.personal.text if isinstance(plain.personal, MinutesPersonal) else None
                if event.item_id and event.case_id:
                    upsert(conn, item_minutes, {
                        "meeting_id": event.meeting_id, "item_id": event.item_id,
                        "case_id": event.case_id, "seq": ctx.seq,
                        "recorded_by": event.recorded_by, "text": text,
                    }, ["meeting_id", "item_id"])
                else:
                    upsert(conn, minutes, {"meeting_id": event.meeting_id,
                                           "recorded_by": event.recorded_by, "text": text},
                           ["meeting_id"])
            case MaterialShared():
                self._material(conn, ctx.unseal(env).event, ctx.seq)
            case PersonDataErased():
                self._erase(conn, event.key_ids, event.meeting_ids)
            case ResourceGapRecorded():
                upsert(conn, gaps, {"gap_id": event.gap_id, "seq": ctx.seq,
                                    "meeting_id": event.meeting_id,
                                    "description": _text(env, ctx, "description") or ""},
                       ["gap_id"])
            case MeetingSeriesStarted():
                upsert(conn, series, {
                    "series_id": event.series_id, "kind": event.kind.value,
                    "rule": describe(event.rule), "convened_by": event.convened_by,
                    "title": _text(env, ctx, "title"), "active": True,
                }, ["series_id"])
            case MeetingSeriesEnded():
                update_where(conn, series, {"series_id": event.series_id}, active=False)

    @staticmethod
    def _material(conn: Connection, event: object, seq: int) -> None:
        assert isinstance(event, MaterialShared)
        block = event.personal if isinstance(event.personal, MaterialPersonal) else None
        case_id = event.case_id
        if case_id is None and event.item_id:  # older events: the case from the agenda
            case_id = conn.execute(_ITEM_CASE, {"meeting_id": event.meeting_id,
                                                "item_id": event.item_id}).scalar()
        ref = event.attachment if isinstance(event.attachment, AttachmentRef) else None
        upsert(conn, materials, {
            "material_id": event.material_id, "seq": seq, "meeting_id": event.meeting_id,
            "item_id": event.item_id, "case_id": case_id, "shared_by": event.shared_by,
            "title": block.title if block else None, "text": block.text if block else None,
            "attachment": ref.model_dump(mode="json") if ref else None,
        }, ["material_id"])

    @staticmethod
    def _erase(conn: Connection, key_ids: tuple[str, ...], meeting_ids: tuple[str, ...]
               ) -> None:
        """The erased person's case ids are among the destroyed keys: what was about those
        cases goes, whatever key it was sealed with (the meeting's own rows stay). The own
        free text of the meetings that tabled them (title, cancel reason, resource gaps)
        shows the redaction marker: its keys were destroyed too."""
        mids = list(meeting_ids)
        conn.execute(update(meetings).where(meetings.c.meeting_id.in_(mids),
                                            meetings.c.title.is_not(None))
                     .values(title=REDACTED))
        conn.execute(update(meetings).where(meetings.c.meeting_id.in_(mids),
                                            meetings.c.cancel_reason.is_not(None))
                     .values(cancel_reason=REDACTED))
        conn.execute(update(gaps).where(gaps.c.meeting_id.in_(mids)).values(description=REDACTED))
        case_ids = list(key_ids)
        conn.execute(update(materials).where(materials.c.case_id.in_(case_ids))
                     .values(title=None, text=None, attachment=None))
        conn.execute(update(item_minutes).where(item_minutes.c.case_id.in_(case_ids))
                     .values(text=None))
        conn.execute(update(decisions).where(decisions.c.case_id.in_(case_ids))
                     .values(reason=""))

    @staticmethod
    def _count(conn: Connection, meeting_id: str, month: str) -> None:
        kind = conn.execute(_KIND, {"meeting_id": meeting_id}).scalar_one()
        current = conn.execute(_HELD, {"kind": kind, "month": month}).scalar()
        upsert(conn, counts, {"kind": kind, "month": month, "held": (current or 0) + 1},
               ["kind", "month"])


def _text(env: Envelope, ctx: ApplyContext, name: str) -> str | None:
    """A meeting's own free text (``title``, ``reason``, ``description``) as rows keep it:
    unsealed, or the redaction marker when its key was destroyed (a rebuild after an
    erasure)."""
    event = ctx.unseal(env).event
    return REDACTED if sealed_text(event, name) else text_of(event, name)
