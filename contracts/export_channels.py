"""The parts of the AsyncAPI document beyond events and commands: servers, security, the
query channels, the migration subjects, operator queries and the feed's messages.

    >>> sorted(servers("tsunagu"))
    ['dev', 'secured']
"""

from __future__ import annotations

from typing import Any

from contracts.queries import OPERATOR_QUERIES, QUERIES

try:  # the typed feed notices (docs/FEEDS.md), where this build has them
    from contracts.feed import NOTICE_TYPES  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - a build with the case view only
    NOTICE_TYPES = ()

_S: dict[str, Any] = {"type": "string"}
_N: dict[str, Any] = {"type": ["string", "null"]}
_DATE: dict[str, Any] = {"type": "string", "format": "date"}
_LIST: dict[str, Any] = {"type": "array", "items": {"type": "object"}}


def servers(prefix: str) -> dict[str, Any]:
    return {
        "dev": {
            "host": "127.0.0.1:{port}", "protocol": "nats",
            "title": "Development (`tsunagu up`): no authentication",
            "variables": {"port": {"default": "4222",
                                   "description": "The port `tsunagu up` printed"}},
        },
        "secured": {
            "host": "{host}:{port}", "protocol": "nats",
            "title": "Secured (`tsunagu up --secure`, production): TLS with a client "
            "certificate, an nkey user per agency in its own account",
            "description": "Connect to `tls://<host>:<port>` with the agency's nkey seed "
            "(`tsunagu creds issue`), its client certificate (`tsunagu certs issue`) and the "
            "inbox prefix `_INBOX.agency.<agency_id>` (the only inbox its user may "
            f"subscribe to). JetStream is reached through the imported API prefix "
            f"`{prefix}.jsapi`. See docs/INTEGRATING.md.",
            "variables": {"host": {"default": "nats.example.lg.jp"},
                          "port": {"default": "4222"}},
            "security": [{"$ref": "#/components/securitySchemes/agencyNkey"},
                         {"$ref": "#/components/securitySchemes/mutualTls"}],
            "x-inbox-prefix": "_INBOX.agency.<agency_id>",
            "x-jetstream-api-prefix": f"{prefix}.jsapi",
            "x-feed-consumer": "feed-<agency_id>",
            "bindings": {"nats": {"bindingVersion": "0.1.0"}},
        },
    }


SECURITY_SCHEMES: dict[str, Any] = {
    "agencyNkey": {
        "type": "asymmetricEncryption",
        "description": "NATS nkey authentication: the agency's seed file "
        "(`agency-<id>.nk`) signs the server's nonce. Every agency is a user in its own "
        "account `AGENCY_<id>`; it may publish only `<prefix>.cmd.<id>.>` and "
        "`<prefix>.query.<id>.>`, subscribe only `_INBOX.agency.<id>.>`, and use the "
        "JetStream API imported at `<prefix>.jsapi` for its own feed consumer.",
    },
    "mutualTls": {
        "type": "X509",
        "description": "Mutual TLS: a client certificate issued to the agency by the "
        "platform's CA and pinned by the server.",
    },
}


def _reply(result: dict[str, Any], name: str) -> dict[str, Any]:
    return {
        "name": f"{name}_reply", "contentType": "application/json",
        "payload": {"oneOf": [
            {"type": "object", "required": ["ok", "result"],
             "properties": {"ok": {"const": True}, "result": result}},
            {"$ref": "#/components/schemas/CommandError"},
        ]},
    }


def add_queries(prefix: str, channels: dict[str, Any], operations: dict[str, Any],
                messages: dict[str, Any]) -> None:
    for name, q in QUERIES.items():
        messages[f"query_{name}"] = {
            "name": name, "summary": q.summary, "contentType": "application/json",
            "payload": {"title": f"{name} arguments", **q.args}, "x-service": q.service,
        }
        messages[f"query_{name}_reply"] = _reply(q.result, name)
        channels[f"query_{name}"] = {
            "address": f"{prefix}.query.{{agency_id}}.{name}", "title": f"Query {name}",
            "parameters": {"agency_id": {"description": "The asking agency"}},
            "messages": {"request": {"$ref": f"#/components/messages/query_{name}"}},
        }
        channels[f"query_{name}_reply"] = {
            "address": None,
            "messages": {"reply": {"$ref": f"#/components/messages/query_{name}_reply"}}}
        operations[f"ask_{name}"] = {
            "action": "send", "summary": q.summary,
            "channel": {"$ref": f"#/channels/query_{name}"},
            "reply": {"channel": {"$ref": f"#/channels/query_{name}_reply"}},
        }
    channels["admin_actions"] = {
        "address": f"{prefix}.admin.{{service}}.{{action}}",
        "title": "Operator actions (status, rebuild, replay, discard), operators only",
        "description": "Replies only to `_INBOX.operator.`/`_INBOX.admin.`; agencies cannot "
        f"publish here. `{prefix}.admin.discover` is answered by every running service.",
        "parameters": {"service": {"enum": ["referral", "casefile", "meeting", "stats",
                                           "notifier"]},
                       "action": {"enum": ["status", "rebuild", "replay", "discard"]}},
    }
    for name, (summary, services) in OPERATOR_QUERIES.items():
        channels[f"admin_{name}"] = {
            "address": f"{prefix}.admin.{{service}}.{name}", "title": f"Operator query {name}",
            "description": f"{summary}. Replies only to `_INBOX.operator.`/`_INBOX.admin.`.",
            "parameters": {"service": {"enum": list(services)}},
        }


def add_migrate(prefix: str, command: str, channels: dict[str, Any],
                operations: dict[str, Any]) -> None:
    channels[f"migrate_{command}"] = {
        "address": f"{prefix}.migrate.{{agency_id}}.{command}",
        "title": f"Migration {command} (operator and admin only)",
        "description": "The same command under the migration role: records may be dated "
        "before the agencies' backdating limit (ledger import, demo). Agencies cannot publish "
        "here.",
        "parameters": {"agency_id": {"description": "The agency the record is imported for"}},
        "messages": {"request": {"$ref": f"#/components/messages/cmd_{command}"}},
    }
    operations[f"migrate_{command}"] = {
        "action": "send", "channel": {"$ref": f"#/channels/migrate_{command}"},
        "reply": {"channel": {"$ref": f"#/channels/reply_{command}"}},
    }


CASE_VIEW: dict[str, Any] = {
    "title": "CaseView",
    "description": "What one agency may see of one case (`services/casefile/views.py`). "
    "Redacted (no valid consent covers the agency and it holds no bound 支援会議 seat): only "
    "the first four fields and `redacted: true`.",
    "type": "object",
    "required": ["case_id", "stage", "my_roles", "my_tasks", "redacted"],
    "properties": {
        "case_id": _S, "stage": _S, "my_roles": _LIST,
        "my_tasks": {"type": "array", "items": {
            "type": "object", "required": ["task", "due_on", "overdue"],
            "properties": {"task": _S, "due_on": _DATE, "overdue": {"type": "boolean"},
                           "program": _S}}},
        "redacted": {"type": "boolean"},
        "access": {"enum": ["consent", "confidential_meeting"]},
        "basis": {"type": "object", "description": "Why the personal data is shown"},
        "status": _S, "origin": _S, "opened_on": _DATE, "coordinator": _N, "lead_agency": _N,
        "next_monitoring_on": _N, "erased": {"type": "boolean"},
        "subject": {"type": "object", "properties": {
            "person_id": _S, "agency_id": _N, "sex": _S, "age_band": _S,
            "personal": {"type": ["object", "null"], "x-personal": True}}},
        "members": _LIST, "enrollments": _LIST, "plans": _LIST, "assessments": _LIST,
        "monitoring": _LIST,
        "more": {"type": "object", "description": "Present when the whole view would not fit "
                 "in one message: per list cut short, `total`, `returned` and `read_with` (the "
                 "`case_view` arguments that read the rest, a page at a time)",
                 "additionalProperties": {"type": "object", "properties": {
                     "total": {"type": "integer"}, "returned": {"type": "integer"},
                     "read_with": {"type": "object"}}}},
    },
    "if": {"properties": {"redacted": {"const": False}}},
    "then": {"required": ["access", "basis", "status", "subject", "members"]},
}

CASE_VIEW_PAGE: dict[str, Any] = {
    "title": "CaseViewPage",
    "description": "One page of a list of a case view (`case_view` with `section`): the "
    "items from `offset` that fit in one message; `next_offset` is where the next page "
    "starts (null: this is the last).",
    "type": "object",
    "required": ["case_id", "section", "offset", "total", "items", "next_offset"],
    "properties": {"case_id": _S, "redacted": {"type": "boolean"}, "section": _S,
                   "offset": {"type": "integer"}, "total": {"type": "integer"},
                   "items": _LIST, "next_offset": {"type": ["integer", "null"]}},
}

FEED_MESSAGES: dict[str, dict[str, Any]] = {
    "case": {
        "title": "FeedCaseView", "type": "object",
        "description": "Kind `case`: the whole current view as of stream sequence `seq` "
        "(state, not a step). Or, when the view exceeds the server's max payload, the "
        "`too_large` notice naming the query that reads it.",
        "oneOf": [
            {"type": "object", "required": ["seq", "event_type", "as_of", "view"],
             "properties": {"seq": {"type": "integer"}, "event_type": _S, "as_of": _DATE,
                            "view": {"$ref": "#/components/schemas/CaseView"}}},
            {"type": "object", "required": ["case_id", "too_large", "read_with"],
             "properties": {"seq": {"type": ["integer", "null"]}, "case_id": _S,
                            "too_large": {"const": True}, "bytes": {"type": "integer"},
                            "limit": {"type": "integer"}, "read_with": {"type": "object"}}},
        ],
    },
    "erased": {
        "title": "FeedErased", "type": "object",
        "description": "Kind `erased`: the person's data was erased; earlier `case` "
        "messages of the case are purged from the stream.",
        "required": ["seq", "event_type", "case_id", "erased"],
        "properties": {"seq": {"type": "integer"}, "event_type": {"const": "PersonDataErased"},
                       "case_id": _S, "erased": {"const": True}},
    },
}


def _notice_schemas(schemas: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """kind -> schema of each typed feed notice (``contracts/feed.py``)."""
    out = {}
    for cls in NOTICE_TYPES:
        sub = cls.model_json_schema(mode="serialization",
                                    ref_template="#/components/schemas/{model}")
        schemas.update(sub.pop("$defs", {}))
        out[cls.model_fields["kind"].default] = {**sub, "title": f"Notice{cls.__name__}"}
    return out


def add_feed(channels: dict[str, Any], messages: dict[str, Any],
             schemas: dict[str, Any]) -> None:
    """The feed's messages: the case view, the erasure notice and every typed notice.
    A kind both publish (``erased``) accepts either shape."""
    schemas["CaseView"] = CASE_VIEW
    schemas["CaseViewPage"] = CASE_VIEW_PAGE
    bodies: dict[str, list[dict[str, Any]]] = {}
    for kind, schema in [*FEED_MESSAGES.items(), *_notice_schemas(schemas).items()]:
        schemas[schema["title"]] = schema
        bodies.setdefault(kind, []).append({"$ref": f"#/components/schemas/{schema['title']}"})
    refs = {}
    for kind, payloads in sorted(bodies.items()):
        name = f"feed_{kind}"
        first = schemas[payloads[0]["$ref"].rsplit("/", 1)[-1]]
        messages[name] = {"name": name, "title": f"Feed message {kind}",
                          "contentType": "application/json",
                          "summary": (first.get("description") or kind).split("\n")[0],
                          "headers": {"type": "object", "properties": {
                              "Nats-Msg-Id": {"type": "string"},
                              "Tsunagu-Kind": {"type": "string", "const": kind}}},
                          "payload": payloads[0] if len(payloads) == 1 else {"oneOf": payloads},
                          "x-kind": kind}
        refs[name] = {"$ref": f"#/components/messages/{name}"}
    channels["feed"]["messages"] = refs
    channels["feed"]["parameters"]["kind"] = {"enum": sorted(bodies)}
