"""個人情報の開示請求: everything the platform holds about one person, gathered through the
services' operator-only ``person_record`` queries (each service unseals with its own key
ring; nothing is read from the event stream's raw bytes here), plus the disclosure log about
them. Each service records its part as a disclosure (agency ``ops``, the operator named by
its credentials, channel ``disclose``, basis: the person's request) before it answers: if
the log does not acknowledge, the service answers an error and nothing is written.

>>> held = await gather(nc, topology, "p-123", request_id="R7-0042")  # doctest: +SKIP
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client

from eventstore.errors import DomainError
from eventstore.topology import Topology
from tsunagu.clikit import request
from tsunagu.ops import disclosures
from tsunagu.ops.disclosures import jst


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


async def gather(nc: Client, topology: Topology, person_id: str,
                 request_id: str | None = None) -> dict[str, Any]:
    """Each service records what it hands over (to this operator, for the person's request)
    before it answers: nothing reaches this process unrecorded."""
    ask: dict[str, Any] = {"person_id": person_id, "request_id": request_id}
    casefile = await _person_record(nc, topology, "casefile", ask)
    referral = await _person_record(nc, topology, "referral", ask)
    case_ids = [c["case_id"] for c in casefile["cases"]]
    meeting = (await _person_record(nc, topology, "meeting",
                                    {"case_ids": case_ids, "request_id": request_id})
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


def as_json(held: dict[str, Any]) -> str:
    return json.dumps(held, ensure_ascii=False, indent=2, default=str)
