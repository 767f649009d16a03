"""The referral projection: the directory, per-agency inboxes and the triage queue, and an
index of keyed hashes for spotting likely duplicate people.

Personal data is not stored here: inbox rows carry ids, status and who acted; the duplicate
index holds only HMAC-SHA256 values of (kana + birth date) and of the phone number, keyed by
a secret in the services-only key bucket. The triage view reads the sheet itself from the
event log on demand.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from datetime import date
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    Engine,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    or_,
    select,
    update,
)

from contracts.case import CaseClosed, CaseOpened, CaseReopened, SubjectPersonal
from contracts.common import REDACTED, reason_of, sealed_text
from contracts.directory import AgencyRegistered, AgencyRetired, AgencyUpdated
from contracts.envelope import Envelope
from contracts.person import PersonDataErased
from contracts.referral import (
    PersonMatchDecided,
    ReferralCorrected,
    ReferralPersonal,
    ReferralSubmitted,
    ReferralTriaged,
    ReferralWithdrawn,
)
from eventstore.db import update_where, upsert
from eventstore.projection import ApplyContext
from services.referral.domain import world_date

#: Key id of the matching secret in the key bucket (created on service start).
MATCH_KEY_ID = "referral-match-hmac"

metadata = MetaData()

agencies = Table(
    "referral_agencies", metadata,
    Column("agency_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kana", String(200)),
    Column("category", String(200), nullable=False),
    Column("contact", String(200)),
    Column("verified_at", Date, nullable=False),
    Column("can_triage", Boolean, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("retired_reason", String(200)),
)

referrals = Table(
    "referral_referrals", metadata,
    Column("referral_id", String(64), primary_key=True),
    Column("referring_agency", String(64), nullable=False, index=True),
    Column("person_id", String(64), nullable=False),
    Column("status", String(20), nullable=False),  # submitted | withdrawn | triaged
    Column("outcome", String(20)),
    Column("case_id", String(64)),
    Column("assigned_agency", String(64), index=True),
    Column("triaged_by", String(64), index=True),
    Column("triaged_on", Date),
    Column("reason", String(200)),
    Column("submitted_on", Date, nullable=False),
    Column("submitted_at", String(40), nullable=False),
    Column("concerns", JSON, nullable=False),
    Column("suspected_abuse", Boolean, nullable=False),
    Column("has_attachment", Boolean, nullable=False),
    Column("sex", String(10), nullable=False),
    Column("age_band", String(10), nullable=False),
    Column("last_action", String(40), nullable=False),
    Column("last_actor", String(64), nullable=False),
    Column("last_staff", String(200)),
    Column("last_action_at", String(40), nullable=False),
    Column("seq", BigInteger, nullable=False),
)

#: One row per (source, kind): a referral's or a case's hashed matching keys.
match_keys = Table(
    "referral_match_keys", metadata,
    Column("source_id", String(64), primary_key=True),
    Column("kind", String(20), primary_key=True),  # kana_birth | phone
    Column("key_hash", String(64), nullable=False, index=True),
    Column("person_id", String(64), nullable=False, index=True),
)

cases = Table(
    "referral_cases", metadata,
    Column("case_id", String(64), primary_key=True),
    Column("person_id", String(64), index=True),
    Column("open", Boolean, nullable=False),
)

match_decisions = Table(
    "referral_match_decisions", metadata,
    Column("referral_id", String(64), primary_key=True),
    Column("candidate_person_id", String(64), primary_key=True),
    Column("decision", String(10), nullable=False),
)


# ---- matching keys ---------------------------------------------------------------------


def normal_kana(kana: str) -> str:
    """Full-width katakana without spaces, so ﾔﾏﾀﾞ ﾀﾛｳ, やまだ たろう and ヤマダタロウ agree."""
    text = unicodedata.normalize("NFKC", kana)
    text = "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text)
    return "".join(text.split())


def normal_phone(phone: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKC", phone) if c.isdigit())


def matching_keys(
    secret: bytes, kana: str | None, birth_date: date | None, phone: str | None
) -> dict[str, str]:
    out: dict[str, str] = {}
    if kana and birth_date and normal_kana(kana):
        msg = f"kb|{normal_kana(kana)}|{birth_date.isoformat()}"
        out["kana_birth"] = hmac.new(secret, msg.encode(), hashlib.sha256).hexdigest()
    digits = normal_phone(phone or "")
    if len(digits) >= 8:  # shorter is not a usable number
        out["phone"] = hmac.new(secret, f"ph|{digits}".encode(), hashlib.sha256).hexdigest()
    return out


#: Built once: building a statement costs more than running it.
_DROP_KEYS_OF_SOURCE = delete(match_keys).where(match_keys.c.source_id == bindparam("source_id"))


class ReferralProjection:
    name = "referral"
    metadata = metadata
    # "consent" is read (and ignored) so the checkpoint follows every event this service writes.
    aggregates: tuple[str, ...] | None = ("agency", "referral", "case", "consent", "person")
    needs_personal = True
    #: What apply uses; a rebuild skips the rest (most case and every consent event) undecoded.
    event_types = frozenset(c.model_fields["type"].default for c in (
        AgencyRegistered, AgencyUpdated, AgencyRetired, ReferralSubmitted, ReferralCorrected,
        ReferralWithdrawn, ReferralTriaged, PersonMatchDecided, CaseOpened, CaseClosed,
        CaseReopened, PersonDataErased))

    def apply(self, conn: Connection, env: Envelope, ctx: ApplyContext) -> None:
        env = ctx.unseal(env)  # the staff name (last_staff) is sealed in the envelope
        e = env.event
        if isinstance(e, AgencyRegistered | AgencyUpdated):
            upsert(conn, agencies, {
                "agency_id": e.agency_id, "name": e.name, "kana": e.kana,
                "category": e.category, "contact": e.contact, "verified_at": e.verified_at,
                "can_triage": e.can_triage, "active": True, "retired_reason": None,
            }, ["agency_id"])
        elif isinstance(e, AgencyRetired):
            update_where(conn, agencies, {"agency_id": e.agency_id},
                         active=False, retired_reason=e.reason)
        elif isinstance(e, ReferralSubmitted | ReferralCorrected):
            self._sheet(conn, env, ctx)
        elif isinstance(e, ReferralWithdrawn):
            self._act(conn, env, status="withdrawn", reason=_reason(env, ctx))
        elif isinstance(e, ReferralTriaged):
            self._act(conn, env, status="triaged", outcome=e.outcome.value, case_id=e.case_id,
                      assigned_agency=e.assigned_agency, triaged_by=e.triaged_by,
                      triaged_on=e.triaged_on or world_date(env.occurred_at),
                      reason=_reason(env, ctx))
        elif isinstance(e, PersonMatchDecided):
            upsert(conn, match_decisions, {"referral_id": e.referral_id,
                                           "candidate_person_id": e.candidate_person_id,
                                           "decision": e.decision},
                   ["referral_id", "candidate_person_id"])
            self._act(conn, env, person_id=e.person_id)
            update_where(conn, match_keys, {"source_id": e.referral_id}, person_id=e.person_id)
        elif isinstance(e, CaseOpened):
            upsert(conn, cases, {"case_id": e.case_id, "person_id": e.subject.person_id,
                                 "open": True}, ["case_id"])
            personal = ctx.unseal(env).event.personal  # type: ignore[attr-defined]
            if e.subject.person_id and isinstance(personal, SubjectPersonal):
                self._keys(conn, ctx, e.case_id, e.subject.person_id, personal.kana,
                           personal.birth_date, personal.phone)
        elif isinstance(e, CaseClosed | CaseReopened):
            update_where(conn, cases, {"case_id": e.case_id}, open=isinstance(e, CaseReopened))
        elif isinstance(e, PersonDataErased):
            # Without the person's data nothing may still link to them.
            conn.execute(delete(match_keys).where(match_keys.c.person_id == e.person_id))
            # Their reasons (triage, withdrawal) were about them: the marker replaces them.
            conn.execute(update(referrals).where(
                or_(referrals.c.person_id == e.person_id,
                    referrals.c.referral_id.in_(e.referral_ids)),
                referrals.c.reason.is_not(None)).values(reason=REDACTED))
            conn.execute(update(referrals).where(or_(
                referrals.c.person_id == e.person_id,
                referrals.c.referral_id.in_(e.referral_ids))).values(last_staff=None))

    def _sheet(self, conn: Connection, env: Envelope, ctx: ApplyContext) -> None:
        e = env.event
        assert isinstance(e, ReferralSubmitted | ReferralCorrected)
        common: dict[str, Any] = {
            "person_id": e.person_id, "concerns": [c.value for c in e.concerns],
            "suspected_abuse": e.suspected_abuse, "has_attachment": e.attachment is not None,
            "sex": e.sex.value, "age_band": e.age_band.value,
        }
        if isinstance(e, ReferralSubmitted):
            upsert(conn, referrals, {
                "referral_id": e.referral_id, "referring_agency": e.referring_agency,
                "status": "submitted", "submitted_on": world_date(env.occurred_at),
                "submitted_at": env.occurred_at.isoformat(), **common,
                **self._actor(env, ctx),
            }, ["referral_id"])
        else:
            self._act(conn, env, **common)
        personal = ctx.unseal(env).event.personal  # type: ignore[attr-defined]
        conn.execute(_DROP_KEYS_OF_SOURCE, {"source_id": e.referral_id})
        if isinstance(personal, ReferralPersonal):
            self._keys(conn, ctx, e.referral_id, e.person_id, personal.kana,
                       personal.birth_date, personal.phone)

    @staticmethod
    def _actor(env: Envelope, ctx: ApplyContext) -> dict[str, Any]:
        return {"last_action": env.type, "last_actor": env.actor.agency_id,
                "last_staff": env.actor.staff, "last_action_at": env.occurred_at.isoformat(),
                "seq": ctx.seq}

    def _act(self, conn: Connection, env: Envelope, **values: Any) -> None:
        # ctx.seq is not needed for ordering here: the runner applies in stream order.
        values.update(last_action=env.type, last_actor=env.actor.agency_id,
                      last_staff=env.actor.staff, last_action_at=env.occurred_at.isoformat())
        update_where(conn, referrals, {"referral_id": env.aggregate_id}, **values)

    @staticmethod
    def _keys(conn: Connection, ctx: ApplyContext, source_id: str, person_id: str,
              kana: str | None, birth_date: date | None, phone: str | None) -> None:
        secret = ctx.keyring.get_cached(MATCH_KEY_ID) if ctx.keyring else None
        if secret is None:
            raise RuntimeError("the matching key is not loaded yet")  # retried by the runner
        for kind, key_hash in matching_keys(secret, kana, birth_date, phone).items():
            upsert(conn, match_keys, {"source_id": source_id, "kind": kind,
                                      "key_hash": key_hash, "person_id": person_id},
                   ["source_id", "kind"])


def person_known(engine: Engine, person_id: str) -> bool:
    """Whether a person id appears on any referral or case this service has seen."""
    with engine.begin() as conn:
        return bool(
            conn.execute(select(referrals.c.referral_id)
                         .where(referrals.c.person_id == person_id).limit(1)).first()
            or conn.execute(select(cases.c.case_id)
                            .where(cases.c.person_id == person_id).limit(1)).first()
        )


def _reason(env: Envelope, ctx: ApplyContext) -> str | None:
    """A triage or withdrawal reason as the referral's row shows it: unsealed, or the
    redaction marker once the person's key is destroyed (a rebuild after erasure)."""
    event = ctx.unseal(env).event
    return REDACTED if sealed_text(event, "reason") else reason_of(event)
