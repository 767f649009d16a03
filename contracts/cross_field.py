"""Cross-field rules of the commands, as JSON Schema (``if``/``then``) and as a rule list.

The deciders judge these rules (``services/referral/domain.py``); this module only
*describes* them for integrators, so a sheet can be checked before it is sent. Each rule
names the ``field`` and ``rule`` the decider's ``invalid`` error carries in its
``details``, and ``tests/contracts/test_cross_field.py`` checks, rule by rule, that the
schema and the decider agree on a valid and an invalid example. Rules that JSON Schema
cannot state (comparing two dates, the directory, the case's members) carry no schema.

    >>> [r.rule for r in RULES["triage_referral"]][:2]
    ['required_for_ordinary', 'only_for_ordinary_or_abuse']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NON_BLANK: dict[str, Any] = {"type": "string", "pattern": r"\S"}
_NO_NOTE: dict[str, Any] = {"properties": {"contact_note": {"not": NON_BLANK}}}


@dataclass(frozen=True)
class Rule:
    field: str
    rule: str
    text: str
    schema: dict[str, Any] | None = None  # an ``if``/``then`` over the command, when statable

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "rule": self.rule, "text": self.text,
                "in_schema": self.schema is not None}


#: A phone or address counts when not empty (the decider's ``not p.phone``).
FILLED: dict[str, Any] = {"type": "string", "minLength": 1}


def _route_needs(route: str, field: str, *, unless_attachment: bool) -> dict[str, Any]:
    cond: dict[str, Any] = {"required": ["contact_route"],
                            "properties": {"contact_route": {"const": route},
                                           "personal": _NO_NOTE}}
    if unless_attachment:
        cond["properties"]["attachment"] = {"type": "null"}
    return {"if": cond, "then": {"required": ["personal"], "properties": {
        "personal": {"required": [field],
                     "properties": {field: NON_BLANK if field == "contact_note" else FILLED}}}}}


_SHEET = [
    Rule("personal.summary", "required", "The 相談の概要 (summary) must not be blank.",
         {"properties": {"personal": {"properties": {"summary": NON_BLANK}}}}),
    Rule("personal.contact_note", "required_for_route",
         "contact_route not_reachable: a contact_note says why the person cannot be reached.",
         _route_needs("not_reachable", "contact_note", unless_attachment=False)),
    Rule("personal.contact_note", "required_for_route",
         "contact_route via_agency: a contact_note says through whom.",
         _route_needs("via_agency", "contact_note", unless_attachment=False)),
    Rule("personal.phone", "required_for_route",
         "contact_route phone: the phone number, unless a contact_note or the agency's own "
         "sheet (attachment) says how.",
         _route_needs("phone", "phone", unless_attachment=True)),
    Rule("personal.address", "required_for_route",
         "contact_route visit: the address, unless a contact_note or the agency's own sheet "
         "(attachment) says how.",
         _route_needs("visit", "address", unless_attachment=True)),
    Rule("personal.birth_date", "not_in_future", "A birth date is not after today."),
    Rule("age_band", "matches_birth_date",
         "With a birth date, age_band is unknown or the band of that birth date."),
]


def _outcome(values: list[str]) -> dict[str, Any]:
    return {"required": ["outcome"], "properties": {"outcome": {"enum": values}}}


_CONSENT_WRITTEN = {"if": {"required": ["method"], "properties": {"method": {"const": "written"}}},
                    "then": {"required": ["form_ref"], "properties": {"form_ref": NON_BLANK}}}
_CONSENT = [
    Rule("form_ref", "required_for_written",
         "A written consent references its signed form (同意書).", _CONSENT_WRITTEN),
    Rule("valid_until", "not_before_given_on", "valid_until is not before given_on."),
    Rule("given_on", "not_in_future", "given_on is not after today."),
    Rule("obtained_by", "case_member", "obtained_by is the sender or a member of the case."),
]

RULES: dict[str, list[Rule]] = {
    "submit_referral": _SHEET,
    "correct_referral": _SHEET,
    "triage_referral": [
        Rule("assigned_agency", "required_for_ordinary",
             "An ordinary triage (通常案件) names the assigned_agency.",
             {"if": _outcome(["ordinary"]),
              "then": {"required": ["assigned_agency"],
                       "properties": {"assigned_agency": {"type": "string"}}}}),
        Rule("assigned_agency", "only_for_ordinary_or_abuse",
             "complex or returned: no assigned_agency.",
             {"if": _outcome(["complex", "returned"]),
              "then": {"properties": {"assigned_agency": {"type": "null"}}}}),
        Rule("reason", "required_when_returned", "A returned referral says why (reason).",
             {"if": _outcome(["returned"]),
              "then": {"required": ["reason"], "properties": {"reason": {"type": "string"}}}}),
        Rule("outcome", "abuse_routing",
             "A referral flagged suspected_abuse is triaged to abuse_response (when the "
             "platform routes abuse), error code abuse_must_be_routed."),
        Rule("assigned_agency", "active_directory_entry",
             "The assigned_agency is an active directory entry (error code unknown_agency)."),
        Rule("triaged_on", "not_before_submission",
             "triaged_on is not before the referral was submitted, nor after today."),
    ],
    "record_consent": _CONSENT,
    "record_application": [
        Rule("consent", "required_with_consent",
             "with_consent true: the consent scope is given; its form_ref when written.",
             {"if": {"required": ["with_consent"],
                     "properties": {"with_consent": {"const": True}}},
              "then": {"required": ["consent"],
                       "properties": {"consent": {"type": "object", **_CONSENT_WRITTEN}}}}),
        Rule("consent", "only_with_consent", "with_consent false: no consent scope.",
             {"if": {"required": ["with_consent"],
                     "properties": {"with_consent": {"const": False}}},
              "then": {"properties": {"consent": {"type": "null"}}}}),
    ],
}


def apply(command: str, schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` of ``command`` with its statable rules in ``allOf`` and every rule listed
    under ``x-rules``."""
    rules = RULES.get(command, [])
    if not rules:
        return schema
    stated = [r.schema for r in rules if r.schema is not None]
    out = dict(schema)
    out["allOf"] = [*schema.get("allOf", []), *stated]
    out["x-rules"] = [r.as_dict() for r in rules]
    return out
