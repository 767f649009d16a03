"""Each cross-field rule the schemas state (``contracts/cross_field.py``) agrees with the
decider that enforces it: on one valid and one invalid example, the exported JSON Schema
and the decider say the same, and the decider names the same field and rule."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from contracts.catalog import command_types
from contracts.cross_field import RULES
from contracts.export import command_schema
from eventstore.errors import DomainError
from tests.referral.test_properties import TODAY, World, accept, decide

SHEET: dict[str, Any] = {"command_id": "c", "contact_route": "phone", "concerns": ["income"],
                         "personal": {"summary": "相談の概要", "phone": "090-0000-0000"}}
SCOPE: dict[str, Any] = {"agencies": ["hq", "npo"], "purposes": ["支援調整"],
                         "method": "written", "given_on": "2025-09-01",
                         "obtained_by_staff": "相談員A", "form_ref": "同意書-1"}
APPLY = {"command_id": "c", "case_id": "k1", "applied_on": "2025-09-01"}


def sheet(route: str, **personal: Any) -> dict[str, Any]:
    return {**SHEET, "contact_route": route,
            "personal": {"summary": "相談の概要", **personal}}


def triage(outcome: str, **extra: Any) -> dict[str, Any]:
    return {"command_id": "c", "referral_id": "r1", "outcome": outcome, **extra}


#: (command, field, rule, valid example, invalid example)
CASES = [
    ("submit_referral", "personal.summary", "required",
     SHEET, {**SHEET, "personal": {"summary": "  ", "phone": "090"}}),
    ("submit_referral", "personal.contact_note", "required_for_route",
     sheet("via_agency", contact_note="民生委員経由"), sheet("via_agency")),
    ("submit_referral", "personal.contact_note", "required_for_route",
     sheet("not_reachable", contact_note="転居先不明"), sheet("not_reachable", contact_note=" ")),
    ("submit_referral", "personal.phone", "required_for_route",
     sheet("phone", contact_note="日中は不在、夕方に"), sheet("phone", phone="")),
    ("submit_referral", "personal.address", "required_for_route",
     sheet("visit", address="市内1-2-3"), sheet("visit", phone="090")),
    ("triage_referral", "assigned_agency", "required_for_ordinary",
     triage("ordinary", assigned_agency="city"), triage("ordinary")),
    ("triage_referral", "assigned_agency", "only_for_ordinary_or_abuse",
     triage("complex"), triage("complex", assigned_agency="city")),
    ("triage_referral", "reason", "required_when_returned",
     triage("returned", reason="対象外"), triage("returned")),
    ("record_application", "consent", "required_with_consent",
     {**APPLY, "with_consent": True, "consent": SCOPE}, {**APPLY, "with_consent": True}),
    ("record_application", "consent", "only_with_consent",
     {**APPLY, "with_consent": False}, {**APPLY, "with_consent": False, "consent": SCOPE}),
    ("record_application", "consent.form_ref", "required_for_written",
     {**APPLY, "with_consent": True, "consent": SCOPE},
     {**APPLY, "with_consent": True, "consent": {**SCOPE, "form_ref": None}}),
    ("record_consent", "form_ref", "required_for_written",
     {"command_id": "c", "case_id": "k1", **SCOPE},
     {"command_id": "c", "case_id": "k1", **{**SCOPE, "form_ref": None}}),
]


def schema_accepts(command: str, body: dict[str, Any]) -> bool:
    schema = command_schema(command, command_types()[command])
    return Draft202012Validator(schema).is_valid(body)


def world_with_a_case() -> World:
    """A referral from npo, triaged by hq into case k1: what the consent rules need."""
    world = World()
    submit = command_types()["submit_referral"].model_validate(SHEET)
    accept(world, decide(world, submit, "npo", False), TODAY)
    complex_ = command_types()["triage_referral"].model_validate(triage("complex"))
    accept(world, decide(world, complex_, "hq", True), TODAY)
    return world


def decider_refusal(command: str, body: dict[str, Any]) -> tuple[str, str] | None:
    """(field, rule) of the decider's refusal, or None when it accepts."""
    cmd = command_types()[command].model_validate(body)
    world = world_with_a_case() if command != "submit_referral" else World()
    if command == "triage_referral":  # a fresh referral to triage
        world = World()
        accept(world, decide(world, command_types()["submit_referral"].model_validate(SHEET),
                             "npo", False), TODAY)
    try:
        decide(world, cmd, "hq", True)
    except DomainError as exc:
        details = exc.details or {}
        return details.get("field", ""), details.get("rule", exc.code)
    return None


@pytest.mark.parametrize(("command", "field", "rule", "valid", "invalid"), CASES,
                         ids=[f"{c[0]}:{c[1]}:{c[2]}" for c in CASES])
def test_a_cross_field_rule_in_the_schema_is_the_rule_the_decider_enforces(
    command, field, rule, valid, invalid
):
    assert schema_accepts(command, valid) and decider_refusal(command, valid) is None
    assert not schema_accepts(command, invalid)
    assert decider_refusal(command, invalid) == (field, rule)


def test_every_rule_stated_in_a_schema_is_checked_against_its_decider():
    stated = {(c, r.field.removeprefix("consent."), r.rule)
              for c, rules in RULES.items() if c != "correct_referral"
              for r in rules if r.schema is not None}
    checked = {(c, f.removeprefix("consent."), r) for c, f, r, _, _ in CASES}
    assert stated <= checked


def test_the_exported_command_schema_lists_its_rules_for_people():
    schema = command_schema("triage_referral", command_types()["triage_referral"])
    rules = {r["rule"] for r in schema["x-rules"]}
    assert {"required_for_ordinary", "required_when_returned", "abuse_routing"} <= rules
    assert len(schema["allOf"]) == 3


def test_a_sheet_with_the_agencys_own_sheet_attached_needs_no_phone_in_either():
    attachment = {"object_name": "sha256-ab", "sha256": "ab" * 32, "size": 10,
                  "media_type": "application/pdf", "filename": "sheet.pdf"}
    body = sheet("phone") | {"attachment": attachment}
    assert schema_accepts("submit_referral", body)
    assert decider_refusal("submit_referral", body) is None
    assert not schema_accepts("submit_referral", sheet("phone") | {"attachment": None})
