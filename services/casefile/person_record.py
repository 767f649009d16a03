"""What casefile holds about one person, for the person's own request (開示請求): their cases
in full (subject, members, enrollments, plans, assessments with their documents, monitoring),
the consent history and each case's timeline. Operator-only (``ServiceSpec.operator_queries``):
no agency asks this."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from eventstore.db import in_thread
from eventstore.disclosure import Disclosure, DisclosureLog, to_operator
from eventstore.errors import InvalidInput
from eventstore.service import Runtime
from services.casefile import tables as t
from services.casefile import views
from services.casefile.disclosures import personal_fields


def _person_id(args: dict[str, Any]) -> str:
    value = args.get("person_id")
    if not isinstance(value, str) or not value or len(value) > 64:
        raise InvalidInput("person_id: required (a person id string)",
                           details={"field": "person_id"})
    return value


def held_about(engine: Engine, person_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {"cases": [], "consent": [], "timeline": []}
    with engine.connect() as conn:
        case_ids = sorted(conn.execute(select(t.cases.c.case_id)
                                       .where(t.cases.c.person_id == person_id)).scalars())
        for case_id in case_ids:
            data = views.load_case(conn, case_id)
            if data is None:
                continue
            out["cases"].append({"case_id": case_id, "stage": data.case["stage"],
                                 **views._full(data)})
            out["consent"] += [{"case_id": case_id, **e.model_dump(
                mode="json", exclude={"schema_version", "case_id", "person_id"})}
                for e in data.consent]
            out["timeline"] += [{"case_id": case_id, **row}
                                for row in views.timeline(conn, case_id)]
    return out


def _records(operator: str, args: dict[str, Any], person_id: str,
             held: dict[str, Any]) -> list[Disclosure]:
    out = []
    for case in held["cases"]:
        fields = personal_fields({**case, "redacted": False})
        if any(e["case_id"] == case["case_id"] for e in held["consent"]):
            fields.append("consent.history")
        if any(t["case_id"] == case["case_id"] for t in held["timeline"]):
            fields.append("timeline.summary")
        if fields:
            out.append(to_operator(operator, args, person_id, case["case_id"], fields))
    return out


async def person_record(rt: Runtime, operator: str, args: dict[str, Any]) -> dict[str, Any]:
    """Recorded (to the operator, for the person's request) before it is answered."""
    person_id = _person_id(args)
    held = await in_thread(held_about, rt.engine, person_id)
    await DisclosureLog(rt.broker.connection, rt.topology).record(
        *_records(operator, args, person_id, held))
    return held


OPERATOR_QUERIES = {"person_record": person_record}
