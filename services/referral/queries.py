"""Queries on ``<prefix>.query.<agency>.<name>``: inbox, triage queue, one referral, the
directory, consent history and coverage.

The directory and the inboxes read the projection. Consent answers are computed from the
consent aggregate itself with the shared pure functions, so they are never behind.
"""

from __future__ import annotations

from datetime import date
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, or_, select

from contracts.base import ID_PATTERN
from contracts.common import REDACTED, reason_of, sealed_text
from contracts.consent import (
    ApplicationRecorded,
    ConsentRecorded,
    ConsentRecorderNamed,
    ConsentRefused,
    ConsentWithdrawn,
    active_consents,
    case_consent_state,
    consent_status,
    consent_text,
    covers,
)
from contracts.directory import Agency, inactive_agency, may_coordinate
from eventstore.crypto import sealed_key_ids
from eventstore.db import in_thread
from eventstore.disclosure import Disclosure, DisclosureLog
from eventstore.errors import Forbidden, InvalidInput, NotFound
from services.referral.domain import (
    fold_case,
    require_consent_reader,
    world_date,
)
from services.referral.projection import agencies, cases, match_decisions, match_keys, referrals
from services.referral.settings import ReferralSettings
from services.referral.sheets import sheet_of

if TYPE_CHECKING:
    from eventstore.service import QueryHandler, Runtime

import re

_ID = re.compile(ID_PATTERN)


def _arg_id(args: dict[str, Any], name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not _ID.match(value):
        raise InvalidInput(f"{name}: required, an id (letters, digits, - and _)",
                           details={"field": name, "rule": "id"})
    return value


def _arg_date(args: dict[str, Any], name: str, default: date) -> date:
    value = args.get(name)
    if value is None:
        return default
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidInput(f"{name}: {value!r} is not a date (YYYY-MM-DD)",
                           details={"field": name, "rule": "date"}) from exc


def _today(rt: Runtime) -> date:
    from contracts.base import utcnow

    return world_date(utcnow())


def one_year_before(d: date) -> date:
    try:
        return d.replace(year=d.year - 1)
    except ValueError:  # 29 February
        return d.replace(year=d.year - 1, day=28)


# ---- reading the projection (sync, in a worker thread) ---------------------------------


def _agency_row(engine: Engine, agency_id: str) -> dict[str, Any] | None:
    with engine.begin() as conn:
        row = conn.execute(select(agencies).where(agencies.c.agency_id == agency_id)).first()
    return dict(row._mapping) if row else None


def _standing(row: dict[str, Any] | None) -> Agency | None:
    """The directory table's row as the standing the shared rules judge."""
    if row is None:
        return None
    return Agency(row["agency_id"], bool(row["active"]), bool(row["can_triage"]), row["category"])


def _is_triager(row: dict[str, Any] | None, own: ReferralSettings) -> bool:
    return may_coordinate(_standing(row), own.triage_agencies)


async def _require_active(rt: Runtime, agency: str) -> dict[str, Any]:
    row = await in_thread(_agency_row, rt.engine, agency)
    refusal = inactive_agency(agency, _standing(row), role=None)
    if refusal is not None:
        raise Forbidden(refusal, details={"agency_id": agency})
    assert row is not None
    return row


def _row(r: Any) -> dict[str, Any]:
    out = dict(r._mapping)
    for k, v in out.items():
        if isinstance(v, date):
            out[k] = v.isoformat()
    return out


def _inbox_rows(engine: Engine, agency: str) -> dict[str, list[dict[str, Any]]]:
    with engine.begin() as conn:
        rows = conn.execute(
            select(referrals).where(or_(referrals.c.referring_agency == agency,
                                        referrals.c.assigned_agency == agency,
                                        referrals.c.triaged_by == agency))
            .order_by(referrals.c.submitted_at, referrals.c.referral_id)
        ).all()
    out: dict[str, list[dict[str, Any]]] = {"sent": [], "received": [], "triaged": []}
    for r in rows:
        row = _row(r)
        row.pop("seq", None)
        if r.referring_agency == agency:
            out["sent"].append(row)
        if r.assigned_agency == agency:
            out["received"].append(row)
        if r.triaged_by == agency:
            out["triaged"].append(row)
    return out


def _likely_matches(conn: Any, referral_id: str, person_id: str) -> list[dict[str, Any]]:
    mine = conn.execute(select(match_keys.c.kind, match_keys.c.key_hash)
                        .where(match_keys.c.source_id == referral_id)).all()
    decided = {r[0] for r in conn.execute(
        select(match_decisions.c.candidate_person_id)
        .where(match_decisions.c.referral_id == referral_id))}
    found: dict[str, dict[str, Any]] = {}
    for kind, key_hash in mine:
        for other in conn.execute(
            select(match_keys.c.person_id, match_keys.c.source_id)
            .where(match_keys.c.key_hash == key_hash, match_keys.c.kind == kind,
                   match_keys.c.person_id != person_id)
        ).all():
            if other.person_id in decided:
                continue
            entry = found.setdefault(other.person_id, {
                "person_id": other.person_id, "matched_on": [], "seen_in": [],
            })
            if kind not in entry["matched_on"]:
                entry["matched_on"].append(kind)
            if other.source_id not in entry["seen_in"]:
                entry["seen_in"].append(other.source_id)
    for entry in found.values():
        open_cases = conn.execute(select(cases.c.case_id).where(
            cases.c.person_id == entry["person_id"], cases.c.open.is_(True))).all()
        entry["open_cases"] = sorted(r[0] for r in open_cases)
        entry["matched_on"].sort()
        entry["seen_in"].sort()
    return sorted(found.values(), key=lambda m: (not m["open_cases"], m["person_id"]))


def _queue_rows(engine: Engine, as_of: date) -> list[dict[str, Any]]:
    with engine.begin() as conn:
        rows = conn.execute(
            select(referrals).where(referrals.c.status == "submitted")
            .order_by(referrals.c.submitted_at, referrals.c.referral_id)
        ).all()
        out = []
        for r in rows:
            row = _row(r)
            row.pop("seq", None)
            row["waiting_days"] = (as_of - r.submitted_on).days
            row["likely_matches"] = _likely_matches(conn, r.referral_id, r.person_id)
            out.append(row)
    return out


def _referral_row(engine: Engine, referral_id: str) -> dict[str, Any] | None:
    with engine.begin() as conn:
        r = conn.execute(select(referrals).where(referrals.c.referral_id == referral_id)).first()
        if r is None:
            return None
        row = _row(r)
        row["likely_matches"] = _likely_matches(conn, referral_id, r.person_id)
    row.pop("seq", None)
    return row


def _directory_rows(engine: Engine, as_of: date, include_retired: bool) -> list[dict[str, Any]]:
    limit = one_year_before(as_of)
    query = select(agencies).order_by(agencies.c.agency_id)
    if not include_retired:
        query = query.where(agencies.c.active.is_(True))
    with engine.begin() as conn:
        rows = conn.execute(query).all()
    out = []
    for r in rows:
        row = _row(r)
        row["stale"] = r.verified_at < limit
        out.append(row)
    return out


# ---- query handlers ----------------------------------------------------------------------


async def inbox(rt: Runtime, agency: str, args: dict[str, Any]) -> dict[str, Any]:
    """Referrals the agency sent, received (assigned to it) and triaged, with their status
    and who acted last."""
    await _require_active(rt, agency)
    return await in_thread(_inbox_rows, rt.engine, agency)


async def triage_queue(
    own: ReferralSettings, rt: Runtime, agency: str, args: dict[str, Any]
) -> dict[str, Any]:
    """Referrals waiting for triage, oldest first, with waiting days and likely matches."""
    row = await _require_active(rt, agency)
    if not _is_triager(row, own):
        raise Forbidden(f"agency {agency!r} may not triage, so it has no triage queue")
    as_of = _arg_date(args, "as_of", _today(rt))
    return {"as_of": as_of.isoformat(), "waiting": await in_thread(_queue_rows, rt.engine, as_of)}


async def referral(
    own: ReferralSettings, rt: Runtime, agency: str, args: dict[str, Any]
) -> dict[str, Any]:
    """One referral with its sheet (personal data) for its sender, the triaging agencies
    and the agency it was handed to; its history of who did what."""
    me = await _require_active(rt, agency)
    referral_id = _arg_id(args, "referral_id")
    row = await in_thread(_referral_row, rt.engine, referral_id)
    if row is None:
        raise NotFound(f"referral_id: no referral {referral_id}")
    if agency not in (row["referring_agency"], row["assigned_agency"]) and not _is_triager(me, own):
        raise Forbidden(f"agency {agency!r} is neither the sender, the triaging agency nor "
                        f"the agency referral {referral_id} was handed to")
    history, sheet = await sheet_of(rt, referral_id)
    if not _is_triager(me, own):
        row.pop("likely_matches", None)
    row["sheet"] = sheet
    if sheet is not None and sheet.get("personal"):
        # Recorded before the answer leaves: if the log does not ack, the query fails.
        await DisclosureLog(rt.broker.connection, rt.topology).record(
            _sheet_disclosure(agency, row, sheet, me, own))
    row["history"] = [
        {"type": env.type, "occurred_at": env.occurred_at.isoformat(),
         "agency": env.actor.agency_id, "staff": env.actor.staff}
        for env in history
    ]
    return row


def _sheet_disclosure(agency: str, row: dict[str, Any], sheet: dict[str, Any],
                      me: dict[str, Any] | None, own: ReferralSettings) -> Disclosure:
    role = ("sender" if agency == row["referring_agency"]
            else "assigned" if agency == row["assigned_agency"] else "triage")
    fields = [f"referral.{k}" for k, v in sheet["personal"].items() if v not in (None, "")]
    if sheet.get("attachment"):
        fields.append("referral.attachment")
    return Disclosure.new(
        agency=agency, person_id=row["person_id"], case_id=row.get("case_id"), fields=fields,
        basis={"kind": "referral", "referral_id": row["referral_id"], "role": role,
               "triager": _is_triager(me, own)},
        channel="query.referral")


async def directory(rt: Runtime, agency: str, args: dict[str, Any]) -> dict[str, Any]:
    """Directory entries; ``stale`` when not verified in the 12 months before ``as_of``."""
    as_of = _arg_date(args, "as_of", _today(rt))
    rows = await in_thread(_directory_rows, rt.engine, as_of, bool(args.get("include_retired")))
    if args.get("stale"):
        rows = [r for r in rows if r["stale"]]
    return {"as_of": as_of.isoformat(), "agencies": rows}


async def _consent_events(rt: Runtime, agency: str, case_id: str) -> list[Any]:
    """The case's consent events, for one of its members only (else not_found), their
    reasons unsealed (shown as ``reason``)."""
    assert rt.store is not None and rt.keyring is not None
    case = await rt.store.load("case", case_id)
    require_consent_reader(fold_case(case_id, (env.event for env in case.envelopes)), agency)
    events = [env.event for env in (await rt.store.load("consent", case_id)).envelopes]
    ids: set[str] = set()
    for e in events:
        ids |= sealed_key_ids(e)
    await rt.keyring.prefetch(ids)
    return [rt.keyring.unseal_event(e) for e in events]


async def consent_coverage(rt: Runtime, agency: str, args: dict[str, Any]) -> dict[str, Any]:
    """Was case C covered by a valid consent for agency X on date D? Members only."""
    await _require_active(rt, agency)
    case_id = _arg_id(args, "case_id")
    target = _arg_id(args, "agency_id") if "agency_id" in args else agency
    on = _arg_date(args, "on", _today(rt))
    events = await _consent_events(rt, agency, case_id)
    active = active_consents(events, on)
    return {
        "case_id": case_id, "agency_id": target, "on": on.isoformat(),
        "covered": covers(events, target, on),
        "state": case_consent_state(events, on),
        "consents": sorted(c.consent_id for c in active if target in c.agencies),
    }


async def consent_history(rt: Runtime, agency: str, args: dict[str, Any]) -> dict[str, Any]:
    """The case's application and every consent with where it stood on ``on``. Members
    only."""
    await _require_active(rt, agency)
    case_id = _arg_id(args, "case_id")
    on = _arg_date(args, "on", _today(rt))
    events = await _consent_events(rt, agency, case_id)
    history: list[dict[str, Any]] = []
    for e in events:
        item = e.model_dump(mode="json", exclude={"schema_version", "case_id", "person_id",
                                                  "personal_reason", "personal"})
        if isinstance(e, ConsentWithdrawn | ConsentRefused):
            item["reason"] = REDACTED if sealed_text(e, "reason") else reason_of(e)
        if isinstance(e, ConsentRecorded):
            item.update(_consent_text(e))
            item["status"] = consent_status(e, events, on)
        if isinstance(e, ApplicationRecorded | ConsentRecorded | ConsentWithdrawn
                      | ConsentRefused | ConsentRecorderNamed):
            history.append(item)
    return {"case_id": case_id, "on": on.isoformat(),
            "state": case_consent_state(events, on), "events": history}


def _consent_text(e: ConsentRecorded) -> dict[str, Any]:
    """A consent's free text as the history shows it (the marker once it was erased)."""
    text = consent_text(e)
    if text is None:
        return {"purposes": [REDACTED], "obtained_by_staff": REDACTED, "form_ref": REDACTED}
    return text.model_dump(mode="json")


def queries(own: ReferralSettings) -> dict[str, QueryHandler]:
    """The service's queries; those that ask who may triage know the configured list."""
    return {
        "inbox": inbox,
        "triage_queue": partial(triage_queue, own),
        "referral": partial(referral, own),
        "directory": directory,
        "consent_coverage": consent_coverage,
        "consent_history": consent_history,
    }
