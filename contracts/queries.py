"""The queries agencies may ask, on ``<prefix>.query.<agency>.<name>``: arguments and the
shape of each result, for the AsyncAPI document (``contracts/export.py``).

Every answer is ``{"ok": true, "result": <result>}`` or the error reply of commands. The
services register the handlers (``services/*/queries.py``); ``tests/contracts`` checks that
this table names exactly the queries they serve. Results are open objects (fields may be
added, never removed within a schema version).

    >>> sorted(QUERIES["case_view"].args["properties"])
    ['case_id', 'offset', 'on', 'section']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Query:
    service: str
    summary: str
    args: dict[str, Any]
    result: dict[str, Any]


def _args(required: tuple[str, ...] = (), **props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(required)}


def _obj(*required: str, **props: Any) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": props}


def _list(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


S: dict[str, Any] = {"type": "string"}
N: dict[str, Any] = {"type": ["string", "null"]}
DATE: dict[str, Any] = {"type": "string", "format": "date"}
B: dict[str, Any] = {"type": "boolean"}
ID = {"type": "string", "minLength": 1, "maxLength": 128}
ON = {"type": "string", "format": "date", "description": "Default: today (JST)"}
ANY: dict[str, Any] = {"type": "object"}

REFERRAL_ROW = _obj("referral_id", "status", referral_id=S, status=S, referring_agency=S,
                    assigned_agency=N, triaged_by=N, outcome=N, case_id=N,
                    submitted_on=DATE, reason=N)
#: The lists of a case view that ``case_view`` pages through (``services/casefile/paging.py``).
CASE_VIEW_SECTIONS = ("members", "enrollments", "monitoring", "plans", "assessments")
CASE_VIEW = {
    "$ref": "#/components/schemas/CaseView",
}
MEETING_HEADER = _obj("meeting_id", "kind", "status", meeting_id=S, kind=S, regular=B,
                      series_id=N, title=N, scheduled_for=S, status=S,
                      held_on={"type": ["string", "null"], "format": "date"},
                      convened_by=S, acknowledged=B, needs_acknowledgement=B)
DECISION = _obj("decision_id", "decision", decision_id=S, meeting_id=S, item_id=S, case_id=S,
                decision=S, reason=N, decided_on=DATE, plan_id=N, lead_agency=N, program=N)
CONSENT_STATE = {"type": "string", "description": "The case's consent state on `on`"}
_MEETING_ID = _args(("meeting_id",), meeting_id=ID)

QUERIES: dict[str, Query] = {
    "inbox": Query("referral", "Referrals the agency sent, received (assigned) or triaged",
                   _args(), _obj("sent", "received", "triaged", sent=_list(REFERRAL_ROW),
                                 received=_list(REFERRAL_ROW), triaged=_list(REFERRAL_ROW))),
    "triage_queue": Query(
        "referral", "Referrals waiting for triage, with likely duplicates (triagers only)",
        _args(as_of=ON),
        _obj("as_of", "waiting", as_of=DATE, waiting=_list(
            {**REFERRAL_ROW, "properties": {**REFERRAL_ROW["properties"],
                                             "waiting_days": {"type": "integer"},
                                             "likely_matches": _list(ANY)}}))),
    "referral": Query("referral", "One referral and its sheet (the sender, triagers, the "
                      "assigned agency)", _args(("referral_id",), referral_id=ID),
                      {**REFERRAL_ROW, "properties": {**REFERRAL_ROW["properties"],
                                                      "likely_matches": _list(ANY)}}),
    "directory": Query(
        "referral", "The agency directory",
        _args(as_of=ON, include_retired=B, stale={**B, "description": "Only stale entries"}),
        _obj("as_of", "agencies", as_of=DATE, agencies=_list(_obj(
            "agency_id", "name", agency_id=S, name=S, category=S, active=B, can_triage=B,
            verified_at=DATE, stale=B)))),
    "consent_coverage": Query(
        "referral", "Whether a valid consent covers an agency on a day (members only)",
        _args(("case_id",), case_id=ID, agency_id=ID, on=ON),
        _obj("case_id", "agency_id", "covered", case_id=S, agency_id=S, on=DATE, covered=B,
             state=CONSENT_STATE, consents=_list(S))),
    "consent_history": Query(
        "referral", "The application and every consent with its status (members only)",
        _args(("case_id",), case_id=ID, on=ON),
        _obj("case_id", "state", "events", case_id=S, on=DATE, state=CONSENT_STATE,
             events=_list(_obj("type", type=S, status=S)))),
    "case_view": Query(
        "casefile", "What the agency may see of one case (as its feed); with `section`, one "
        "page of one of its lists (a view too large for one message names them in `more`)",
        _args(("case_id",), case_id=ID, on=ON, section={"enum": list(CASE_VIEW_SECTIONS)},
              offset={"type": "integer", "minimum": 0, "description": "Default: 0"}),
        {"oneOf": [CASE_VIEW, {"$ref": "#/components/schemas/CaseViewPage"}]}),
    "my_cases": Query("casefile", "The cases the agency takes part in",
                      _args(on=ON), _list(_obj("case_id", "stage", "redacted", case_id=S,
                                               stage=S, redacted=B, name=N,
                                               next_monitoring_on=N))),
    "case_timeline": Query("casefile", "What happened on a case (not while redacted)",
                           _args(("case_id",), case_id=ID, on=ON),
                           _list(_obj("seq", "type", seq={"type": "integer"}, type=S,
                                      occurred_at=S, agency_id=N, summary=N))),
    "meetings": Query("meeting", "Meetings the agency is invited to, soonest first",
                      _args(include_past=B), _list(MEETING_HEADER)),
    "meeting_agenda": Query(
        "meeting", "A meeting's members, items and decisions (bound members)", _MEETING_ID,
        {**MEETING_HEADER, "properties": {**MEETING_HEADER["properties"],
                                          "members": _list(ANY), "items": _list(ANY),
                                          "resource_gaps": _list(ANY)}}),
    "meeting_minutes": Query(
        "meeting", "The minutes, per item only where the agency has a basis", _MEETING_ID,
        _obj("meeting_id", "items", meeting_id=S, recorded_by=N, text=N, erased=B,
             items=_list(_obj("item_id", item_id=S, case_id=N, text=N, erased=B,
                              basis=ANY)))),
    "meeting_materials": Query("meeting", "Materials shared at a meeting (with a basis)",
                               _MEETING_ID, _list(ANY)),
    "case_decisions": Query("meeting", "Every decision about a case (its members)",
                            _args(("case_id",), case_id=ID), _list(DECISION)),
    "meeting_counts": Query(
        "meeting", "Meetings held per month and kind (counts only)",
        _args(from_month={"type": "string", "pattern": r"^\d{4}-\d{2}$"},
              to_month={"type": "string", "pattern": r"^\d{4}-\d{2}$"}),
        _list(_obj("month", "kind", "held", month=S, kind=S, held={"type": "integer"}))),
    "stats_report": Query("stats", "The monthly report (counts only, never a person)",
                          _args(("as_of",), as_of=DATE),
                          _obj("as_of", as_of=DATE,
                               projection_seq={"type": ["integer", "null"]})),
    "notification_settings": Query(
        "notifier", "The agency's own notification settings (the webhook secret masked)",
        _args(), _obj("agency_id", "configured", agency_id=S, configured=B,
                      mail_to=_list(S), webhook_url=N, delivery=S,
                      digest_hour={"type": "integer"}, quiet_hours={"type": ["object", "null"]},
                      webhook_secret={**N, "description": "Only its last 4 characters"})),
    "notification_deliveries": Query(
        "notifier", "The agency's latest mail and webhook deliveries, newest first",
        _args(limit={"type": "integer", "minimum": 1, "maximum": 500}),
        _list(_obj("idempotency_key", "channel", "kind", "status", idempotency_key=S,
                   channel=S, kind=S, status=S, attempts={"type": "integer"},
                   last_error=N, case_id=N, meeting_id=N, referral_id=N))),
}

#: Operator-only requests on ``<prefix>.admin.<service>.<name>``: what each is, and which
#: services answer it.
OPERATOR_QUERIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "person_record": ("What the service holds about one person (開示請求), operators only",
                      ("referral", "casefile", "meeting")),
    "resend_delivery": ("Send a dead delivery again (`tsunagu dlq retry`): `dlq_seq` is the "
                        "dead letter, which names the delivery and is removed once it is due "
                        "again", ("notifier",)),
}
