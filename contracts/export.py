"""Export the public contracts: JSON Schema for every event and command, and AsyncAPI 3.0.

``tsunagu contracts export DIR`` writes::

    DIR/envelope.schema.json
    DIR/events/<EventType>.schema.json
    DIR/commands/<command>.schema.json
    DIR/replies/{ok,error}.schema.json
    DIR/asyncapi.json
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from contracts import cross_field
from contracts.catalog import command_types, event_types
from contracts.deadline import DEADLINE_HEADER, DEADLINE_HEADER_SCHEMA
from contracts.envelope import Envelope
from contracts.export_channels import (
    SECURITY_SCHEMES,
    add_feed,
    add_migrate,
    add_queries,
    servers,
)
from contracts.feed import NOTICE_TYPES


def reply_ids_schema() -> dict[str, Any]:
    """``ids`` of a command's reply: every created record by kind (the fields events
    declare in ``creates``), then the first record of each aggregate the command touched."""
    props: dict[str, Any] = {}
    for name, cls in sorted(event_types().items()):
        for field in cls.creates:
            kind = field.removesuffix("_id")
            props[field] = {"type": "string",
                            "description": f"The {kind} created or acted on ({name})"}
            props[f"{kind}_ids"] = {"type": "array", "items": {"type": "string"},
                                    "description": f"Every {kind} created, in order ({name})"}
    return {
        "type": "object",
        "description": "`<aggregate>_id` names the first record of each aggregate the "
        "command touched (e.g. `case_id`, `referral_id`, `meeting_id`, `meeting_series_id`, "
        "`stats_id`). Every record the command created is listed by kind in `<kind>_ids`, "
        "and named by `<kind>_id` when exactly one was created and that key does not already "
        "name a touched record (holding a 定例 that schedules the next: `meeting_id` is the "
        "held meeting, `meeting_ids` the next). A replayed reply carries the same ids.",
        "properties": props,
        "additionalProperties": {"type": "string"},
    }


OK_REPLY: dict[str, Any] = {
    "title": "CommandOk",
    "type": "object",
    "required": ["ok", "command_id", "replayed", "events", "ids"],
    "properties": {
        "ok": {"const": True},
        "command_id": {"type": "string"},
        "replayed": {"type": "boolean", "description": "True when this is the reply to a retry"},
        "events": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "event_id": {"type": "string", "format": "uuid"},
                    "type": {"type": "string"},
                    "seq": {"type": "integer"},
                    "aggregate_id": {"type": "string"},
                },
            },
        },
        "ids": reply_ids_schema(),
        "once": {"type": "object", "description": "Only in the first reply, never in a "
                 "replayed one: what the sender must keep (e.g. `webhook_secret`)"},
    },
}
ERROR_REPLY: dict[str, Any] = {
    "title": "CommandError",
    "type": "object",
    "required": ["ok", "error"],
    "properties": {
        "ok": {"const": False},
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {
                    "type": "string",
                    "description": "Stable machine code: invalid, too_large, forbidden, "
                    "not_found, conflict, unknown_command, command_id_reused (this agency "
                    "already sent this command_id with another type or body: nothing was "
                    "stored; a new command needs a new command_id), busy (not started: "
                    "send the same command again after details.retry_after_ms), or a rule's "
                    "own code (every code: docs/INTEGRATING.md, Errors)",
                },
                "message": {"type": "string", "description": "What is wrong, for a person"},
                "details": {"description": "Field-level details where there are any"},
            },
        },
    },
}


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def command_schema(name: str, model: type[BaseModel]) -> dict[str, Any]:
    """A command's JSON Schema with its cross-field rules (``contracts/cross_field.py``).
    Validation mode: what a sender writes (defaults may be left out)."""
    schema = model.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return cross_field.apply(name, schema)


def envelope_schema(components: dict[str, Any] | None = None) -> dict[str, Any]:
    """The envelope with ``event`` as a oneOf of every event, discriminated by ``type``.
    With ``components``, for the AsyncAPI document: event schemas go there and are referred
    to as ``#/components/schemas/...``, and the discriminator is AsyncAPI's (a string)."""
    template = "#/components/schemas/{model}" if components is not None else "#/$defs/{model}"
    schema = Envelope.model_json_schema(mode="serialization", ref_template=template)
    defs: dict[str, Any] = components if components is not None else {}
    defs.update(schema.pop("$defs", {}))
    refs = []
    for name, cls in event_types().items():
        sub = cls.model_json_schema(mode="serialization", ref_template=template)
        defs.update(sub.pop("$defs", {}))
        defs[name] = sub
        refs.append({"$ref": template.format(model=name)})
    discriminator: Any = "type" if components is not None else {"propertyName": "type"}
    schema["properties"]["event"] = {
        "oneOf": refs,
        "discriminator": discriminator,
        "description": "The event itself",
    }
    defs.pop("DomainEvent", None)
    if components is None:
        schema["$defs"] = defs
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def asyncapi(prefix: str = "tsunagu") -> dict[str, Any]:
    events = event_types()
    commands = command_types()
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}

    def add_schema(name: str, model: type[BaseModel], command: str = "") -> dict[str, str]:
        sub = model.model_json_schema(
            mode="validation" if command else "serialization",
            ref_template="#/components/schemas/{model}",
        )
        schemas.update(sub.pop("$defs", {}))
        schemas[name] = cross_field.apply(command, sub) if command else sub
        return {"$ref": f"#/components/schemas/{name}"}

    schemas["Envelope"] = envelope_schema(schemas)
    for name, cls in events.items():
        messages[name] = {
            "name": name,
            "title": name,
            "summary": (cls.__doc__ or "").strip().split("\n")[0] or name,
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "properties": {"Nats-Msg-Id": {"type": "string", "description": "= event_id"}},
            },
            "payload": add_schema(name, cls) | {},
            "x-aggregate": cls.aggregate,
        }
        # The wire payload is the envelope; the event schema describes its `event` member.
        messages[name]["payload"] = {"$ref": "#/components/schemas/Envelope"}
    schemas["CommandOk"] = OK_REPLY
    schemas["CommandError"] = ERROR_REPLY
    messages["CommandReply"] = {
        "name": "CommandReply",
        "contentType": "application/json",
        "payload": {
            "oneOf": [
                {"$ref": "#/components/schemas/CommandOk"},
                {"$ref": "#/components/schemas/CommandError"},
            ]
        },
    }
    channels: dict[str, Any] = {
        "events": {
            "address": f"{prefix}.events.{{aggregate}}.{{aggregate_id}}.{{event_type}}",
            "title": "Domain events (JetStream stream TSUNAGU_EVENTS)",
            "description": "The source of truth. One subject per aggregate instance and event "
            "type; per-aggregate optimistic concurrency on "
            f"`{prefix}.events.<aggregate>.<id>.*`. Never deleted.",
            "parameters": {
                "aggregate": {
                    "description": "agency, referral, consent, case, meeting, person, stats, audit"
                },
                "aggregate_id": {"description": "The aggregate's id (one subject token)"},
                "event_type": {"enum": sorted(events)},
            },
            "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in events},
        },
        "feed": {
            "address": f"{prefix}.feed.{{agency_id}}.{{about}}.{{kind}}",
            "title": "Per-agency feed (JetStream stream TSUNAGU_FEED)",
            "description": "What one agency may see of the cases, referrals and meetings it "
            "takes part in; personal data only while a valid consent covers it (or as a bound "
            "支援会議 member). The stream keeps one current message per subject. Kind `case`: "
            "the whole current view of the case as of stream sequence `seq` (state, not a log "
            "of steps: changes applied together are sent as one view, the latest). Kind "
            "`erased`: the person's data was erased. Typed notices (docs/FEEDS.md) may add "
            "tokens after the kind (`<kind>.<id>…`); the header `Tsunagu-Kind` names the kind. "
            "Agencies consume it with their durable consumer `feed-<agency_id>`.",
            "parameters": {
                "agency_id": {"description": "The reading agency"},
                "about": {"description": "The case id (or the referral or meeting id)"},
                "kind": {},
            },
        },
        "deadLetters": {
            "address": f"{prefix}.dlq.{{projection}}",
            "title": "Dead letters (stream TSUNAGU_DLQ), for operators",
            "parameters": {"projection": {}},
        },
    }
    operations: dict[str, Any] = {
        "storeEvents": {
            "action": "send",
            "channel": {"$ref": "#/channels/events"},
            "summary": "Services append events (agencies never publish here)",
        },
        "consumeFeed": {
            "action": "receive",
            "channel": {"$ref": "#/channels/feed"},
            "summary": "An agency system reads its own feed",
        },
    }
    for name, ccls in commands.items():
        msg_name = f"cmd_{name}"
        messages[msg_name] = {
            "name": name,
            "title": ccls.__name__,
            "summary": (ccls.__doc__ or "").strip().split("\n")[0] or name,
            "contentType": "application/json",
            "headers": {"type": "object",
                        "properties": {DEADLINE_HEADER: DEADLINE_HEADER_SCHEMA}},
            # Keyed by the command type: two services may name their classes alike.
            "payload": add_schema(name, ccls, name),
        }
        channels[f"cmd_{name}"] = {
            "address": f"{prefix}.cmd.{{agency_id}}.{name}",
            "title": f"Command {name}",
            "parameters": {
                "agency_id": {"description": "The acting agency (bound by permissions)"}
            },
            "messages": {"request": {"$ref": f"#/components/messages/{msg_name}"}},
        }
        channels[f"reply_{name}"] = {
            "address": None,
            "messages": {"reply": {"$ref": "#/components/messages/CommandReply"}},
        }
        operations[f"send_{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/cmd_{name}"},
            "reply": {"channel": {"$ref": f"#/channels/reply_{name}"}},
        }
        add_migrate(prefix, name, channels, operations)
    add_queries(prefix, channels, operations, messages)
    add_feed(channels, messages, schemas)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Tsunagu",
            "version": "1.0.0",
            "description": "Inter-agency messaging for the 重層的支援体制整備事業. Commands are "
            "NATS request/reply; every command carries a sender-chosen command_id, and sending "
            "the same command again returns the original reply without appending anything. "
            "The key is (agency, command_id): the same id from another agency is another "
            "command, and the same id with another type or body is refused "
            "(command_id_reused). A reply's `ids` names every record the command created. "
            "Fields marked `x-personal` are personal data: encrypted in stored events with a "
            "per-subject key (crypto-shredding) and masked in views that consent does not cover.",
        },
        "defaultContentType": "application/json",
        "servers": servers(prefix),
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas,
                       "securitySchemes": SECURITY_SCHEMES},
    }


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def export(out: Path) -> list[Path]:
    written = [_write(out / "envelope.schema.json", envelope_schema())]
    for name, cls in event_types().items():
        written.append(_write(out / "events" / f"{name}.schema.json", schema_of(cls)))
    for name, command_cls in command_types().items():
        written.append(_write(out / "commands" / f"{name}.schema.json",
                              command_schema(name, command_cls)))
    for notice in NOTICE_TYPES:
        kind = notice.model_fields["kind"].default
        written.append(_write(out / "feeds" / f"{kind}.schema.json", schema_of(notice)))
    written.append(_write(out / "replies" / "ok.schema.json", OK_REPLY))
    written.append(_write(out / "replies" / "error.schema.json", ERROR_REPLY))
    written.append(_write(out / "asyncapi.json", asyncapi()))
    return written
