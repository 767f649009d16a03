"""Every contract round-trips through JSON; unknown or malformed events are refused clearly."""

from __future__ import annotations

import json

import jsonschema
import pytest

from contracts.base import Actor, PersonalData
from contracts.catalog import command_types, event_types
from contracts.export import export
from eventstore import codec
from eventstore.codec import decode, encode, new_envelope
from eventstore.errors import DecodeError
from tests.contracts.examples import build

EVENTS = event_types()
COMMANDS = command_types()


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_every_event_round_trips_through_its_envelope(name):
    event = build(EVENTS[name])
    env = new_envelope(event, Actor(agency_id="a1", staff="山田"), correlation_id="c1")
    back = decode(encode(env))
    assert back == env
    assert back.event == event and type(back.event) is EVENTS[name]
    assert back.type == name and back.aggregate == EVENTS[name].aggregate


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_round_trips_through_json(name):
    cmd = build(COMMANDS[name])
    assert type(cmd).model_validate_json(cmd.model_dump_json()) == cmd


def test_event_ids_are_time_ordered_uuids():
    a = new_envelope(build(EVENTS["AgencyRetired"]), Actor(agency_id="a"))
    b = new_envelope(build(EVENTS["AgencyRetired"]), Actor(agency_id="a"))
    assert a.event_id.version == 7 and a.event_id < b.event_id


def _stored(name: str = "AgencyRetired") -> dict:
    env = new_envelope(build(EVENTS[name]), Actor(agency_id="a"))
    return json.loads(encode(env))


def test_an_unknown_event_type_is_refused_with_its_name():
    doc = _stored()
    doc["event"]["type"] = "SomethingElse"
    with pytest.raises(DecodeError, match="unknown event type 'SomethingElse'"):
        decode(json.dumps(doc).encode())


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["event"].pop("reason"), "reason"),
        (lambda d: d["event"].update(agency_id="not an id!"), "agency_id"),
        (lambda d: d["event"].update(surprise=1), "surprise"),
        (lambda d: d.update(occurred_at="yesterday"), "occurred_at"),
        (lambda d: d.pop("event"), "no 'event' object"),
        (lambda d: d["event"].update(schema_version=99), "newer than this code"),
    ],
)
def test_a_malformed_event_is_refused_naming_what_is_wrong(mutate, message):
    doc = _stored()
    mutate(doc)
    with pytest.raises(DecodeError, match=message):
        decode(json.dumps(doc).encode())


def test_bytes_that_are_not_json_are_refused():
    with pytest.raises(DecodeError, match="not JSON"):
        decode(b"\xff\x00garbage")


def test_an_older_schema_version_is_upcast_on_read(monkeypatch):
    doc = _stored()
    doc["event"]["schema_version"] = 0
    doc["event"]["why"] = doc["event"].pop("reason")

    def v0_to_v1(body: dict) -> dict:
        body = dict(body)
        body["reason"] = body.pop("why")
        return body

    monkeypatch.setitem(codec._UPCASTERS, ("AgencyRetired", 0), v0_to_v1)
    env = decode(json.dumps(doc).encode())
    assert env.event.reason and env.event.schema_version == 1


def test_export_writes_a_schema_per_event_and_command_and_an_asyncapi_document(tmp_path):
    export(tmp_path)
    for name in EVENTS:
        assert (tmp_path / "events" / f"{name}.schema.json").exists()
    for name in COMMANDS:
        assert (tmp_path / "commands" / f"{name}.schema.json").exists()
    api = json.loads((tmp_path / "asyncapi.json").read_text())
    assert api["asyncapi"].startswith("3.")
    assert api["channels"]["events"]["address"] == (
        "tsunagu.events.{aggregate}.{aggregate_id}.{event_type}"
    )
    for name in COMMANDS:
        assert api["channels"][f"cmd_{name}"]["address"] == f"tsunagu.cmd.{{agency_id}}.{name}"
        assert f"send_{name}" in api["operations"]
    assert set(api["channels"]["events"]["messages"]) == set(EVENTS)


def test_exported_schemas_accept_real_events_and_reject_bad_ones(tmp_path):
    export(tmp_path)
    envelope_schema = json.loads((tmp_path / "envelope.schema.json").read_text())
    for name in EVENTS:
        env = new_envelope(build(EVENTS[name]), Actor(agency_id="a"))
        jsonschema.validate(json.loads(encode(env)), envelope_schema)
    bad = json.loads(encode(new_envelope(build(EVENTS["AgencyRetired"]), Actor(agency_id="a"))))
    bad["event"]["type"] = "Nope"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, envelope_schema)


def test_personal_fields_are_marked_in_the_schema(tmp_path):
    export(tmp_path)
    schema = json.loads((tmp_path / "events" / "ReferralSubmitted.schema.json").read_text())
    personal = schema["$defs"]["ReferralPersonal"]
    assert personal.get("x-personal") is True
    assert personal["properties"]["name"]["x-personal"] is True
    assert personal["properties"]["birth_date"]["x-personal"] is True
    # Non-personal statistical fields are not marked.
    assert "x-personal" not in schema["properties"]["sex"]


def test_every_personal_block_marks_each_of_its_fields():
    blocks = {
        cls for cls in _all_models() if issubclass(cls, PersonalData) and cls is not PersonalData
    }
    assert blocks
    for cls in blocks:
        for fname, field in cls.model_fields.items():
            extra = field.json_schema_extra or {}
            if cls.__name__ == "HouseholdMember":
                continue  # nested inside a personal field, covered by its parent's mark
            assert isinstance(extra, dict) and extra.get("x-personal"), f"{cls.__name__}.{fname}"


def _all_models() -> set[type]:
    seen: set[type] = set()
    stack = [PersonalData]
    while stack:
        cls = stack.pop()
        seen.add(cls)
        stack.extend(cls.__subclasses__())
    return seen
