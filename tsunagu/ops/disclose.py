"""個人情報の開示請求: everything the platform holds about one person, gathered through the
services' operator-only queries (each service unseals with its own key ring; nothing is read
from the event stream's raw bytes here), plus the disclosure log about them. Recorded as a
disclosure itself (channel ``disclose``, basis: the person's request) before it is handed
over: if the record is not acknowledged, nothing is written.

>>> held = await gather(nc, topology, "p-123")             # doctest: +SKIP
>>> await record(nc, topology, held, request_id="R7-0042")  # doctest: +SKIP
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client

from eventstore.disclosure import Disclosure, DisclosureLog
from eventstore.errors import DomainError
from eventstore.topology import Topology
from services.casefile.disclosures import personal_fields
from tsunagu.clikit import request
from tsunagu.ops import disclosures
from tsunagu.ops.disclosures import jst

OPS = "ops"


async def _person_record(nc: Client, topology: Topology, service: str,
                         args: dict[str, Any]) -> dict[str, Any]:
    reply = await request(nc, f"{topology.prefix}.admin.{service}.person_record", args,
                          timeout=30)
    if not reply.get("ok"):
        error = reply.get("error") or {}
        raise DomainError(f"{service}: {error.get('message', 'no answer')}",
                          code=error.get("code", "rejected"))
    result: dict[str, Any] = reply["result"]
    return result


def _documents(held: dict[str, Any]) -> list[dict[str, Any]]:
    """Every document (attachment) referenced about the person, and where."""
    docs = []
    for r in held["referrals"]:
        if r.get("attachment"):
            docs.append({"where": f"つなぐシート {r['referral_id']}", **r["attachment"]})
    for case in held["cases"]:
        for a in case.get("assessments") or []:
            if a.get("attachment"):
                docs.append({"where": f"アセスメント {a['assessment_id']}", **a["attachment"]})
    for m in held["meeting_materials"]:
        if m.get("attachment"):
            docs.append({"where": f"会議資料 {m['material_id']}", **m["attachment"]})
    return docs


async def gather(nc: Client, topology: Topology, person_id: str) -> dict[str, Any]:
    casefile = await _person_record(nc, topology, "casefile", {"person_id": person_id})
    referral = await _person_record(nc, topology, "referral", {"person_id": person_id})
    case_ids = [c["case_id"] for c in casefile["cases"]]
    meeting = (await _person_record(nc, topology, "meeting", {"case_ids": case_ids})
               if case_ids else {"meeting_items": [], "meeting_decisions": [],
                                 "meeting_materials": [], "meeting_minutes": []})
    log = await disclosures.read(nc, topology, person_id=person_id)
    held: dict[str, Any] = {
        "person_id": person_id, "prepared_at": jst(datetime.now(UTC)),
        **referral, **casefile, **meeting,
        "disclosures": [d.model_dump(mode="json") for d in log],
    }
    held["documents"] = _documents(held)
    return held


def fields_of(held: dict[str, Any]) -> list[str]:
    """Names of what is handed over (for the record of this disclosure)."""
    out: set[str] = {"disclosure_log"}
    for r in held["referrals"]:
        out |= {f"referral.{k}" for k, v in (r.get("personal") or {}).items() if v}
    for case in held["cases"]:
        out |= set(personal_fields({**case, "redacted": False}))
    for name, field in (("consent", "consent.history"), ("timeline", "timeline.summary"),
                        ("meeting_materials", "material.text"),
                        ("meeting_minutes", "minutes.item_text"),
                        ("meeting_decisions", "decision.reason"),
                        ("documents", "documents.list")):
        if held.get(name):
            out.add(field)
    return sorted(out)


async def record(nc: Client, topology: Topology, held: dict[str, Any],
                 request_id: str | None = None) -> Disclosure:
    """Record the hand-over (awaiting the log's ack); the operator is who the server says."""
    basis: dict[str, Any] = {"kind": "data_subject_request", "request_id": request_id}
    d = Disclosure.new(agency=OPS, operator=await disclosures.operator_identity(nc),
                       person_id=held["person_id"], fields=fields_of(held), basis=basis,
                       channel="disclose")
    await DisclosureLog(nc, topology).record(d)
    return d


def as_json(held: dict[str, Any]) -> str:
    return json.dumps(held, ensure_ascii=False, indent=2, default=str)
