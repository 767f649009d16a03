"""Reading the disclosure log (``eventstore.disclosure``) for people: by person or by agency,
as a table, CSV, xlsx or JSON, times in JST with the zone; and who the operator is, as the
NATS server knows the connection (``$SYS.REQ.USER.INFO``), never a self-declared name."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, datetime, time
from typing import Any

from nats.aio.client import Client
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from contracts.jst import JST
from eventstore.disclosure import NONE, Disclosure
from eventstore.topology import Topology
from tsunagu.ops import reader

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
#: (key, Japanese heading) of a row shown to people.
COLUMNS = (
    ("at", "日時 (JST)"), ("agency", "提供先"), ("operator", "操作者 (認証名)"),
    ("person_id", "本人ID"), ("case_id", "ケースID"), ("channel", "経路"),
    ("fields", "提供した項目"), ("basis", "根拠"),
)
CHANNELS_JA = {"feed": "フィード", "disclose": "開示請求", "query.case_view": "ケース照会",
               "query.my_cases": "担当ケース一覧", "query.case_timeline": "ケース経過",
               "query.referral": "つなぐシート照会", "query.meeting_materials": "会議資料",
               "query.meeting_minutes": "議事録"}
#: When the server runs without authentication (a local `tsunagu up`), there is no name.
UNAUTHENTICATED = "unauthenticated"


async def operator_identity(nc: Client) -> str:
    """The user (name, nkey, or certificate subject) the server authenticated this
    connection as; ``unauthenticated`` when the server has no authentication."""
    msg = await nc.request("$SYS.REQ.USER.INFO", b"", timeout=5)
    body = json.loads(msg.data)
    if body.get("error"):
        raise RuntimeError(f"the NATS server did not say who this connection is: "
                           f"{body['error'].get('description', body['error'])}")
    user = str((body.get("data") or {}).get("user") or "")
    return user[:256] or UNAUTHENTICATED


async def _read(nc: Client, topology: Topology, subject: str) -> list[Disclosure]:
    return [Disclosure.from_bytes(raw.data)
            async for raw in reader.history(nc, topology.disclosure_stream, subject)]


async def read(
    nc: Client, topology: Topology, *, person_id: str | None = None,
    agency: str | None = None, since: datetime | None = None, until: datetime | None = None,
) -> list[Disclosure]:
    """Records about ``person_id`` and/or to ``agency``, oldest first, in [since, until).
    A person's records include those a service made knowing only the case (a meeting's
    material): found through the person's cases. Ids are checked: never a wildcard."""
    person_id = id_filter(person_id or "", "person_id")
    agency = id_filter(agency or "", "agency")
    found = await _read(nc, topology, topology.disclosure_subject(
        agency or "*", person_id or "*", "*"))
    if person_id is not None:
        for cid in sorted({d.case_id for d in found if d.case_id}):
            found += await _read(nc, topology,
                                 topology.disclosure_subject(agency or "*", NONE, cid))
    found.sort(key=lambda d: (d.at, d.record_id))
    return [d for d in found
            if (since is None or d.at >= since) and (until is None or d.at < until)]


def id_filter(value: str, name: str) -> str | None:
    """An id for a subject filter: letters, digits, _ and - only (no wildcards)."""
    if not value:
        return None
    if not _ID.match(value):
        raise ValueError(f"{name}: {value!r} is not an id (letters, digits, _ and -)")
    return value


def jst_day(value: str | None, name: str) -> datetime | None:
    """The start of a day (YYYY-MM-DD) in Japan."""
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time(), JST)
    except ValueError as exc:
        raise ValueError(f"{name}: {value!r} is not a date (YYYY-MM-DD)") from exc


def jst(at: datetime) -> str:
    return at.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S JST")


def basis_text(basis: dict[str, Any]) -> str:
    kind = basis.get("kind")
    if kind == "consent":
        return f"同意 {basis.get('consent_id')}"
    if kind == "support_meeting":
        return (f"支援会議 {basis.get('meeting_id')} (守秘義務の確認 "
                f"{basis.get('acknowledged_at') or '済'})")
    if kind == "referral":
        return f"つなぐシート {basis.get('referral_id')} ({basis.get('role')})"
    if kind == "data_subject_request":
        return "本人からの開示請求"
    return json.dumps(basis, ensure_ascii=False)


def row(d: Disclosure) -> dict[str, str]:
    """One record as people read it (every value a string)."""
    return {"at": jst(d.at), "agency": d.agency, "operator": d.operator or "",
            "person_id": d.person_id or "", "case_id": d.case_id or "",
            "channel": CHANNELS_JA.get(d.channel, d.channel), "fields": ", ".join(d.fields),
            "basis": basis_text(d.basis)}


def as_json(records: list[Disclosure]) -> str:
    return json.dumps([d.model_dump(mode="json") for d in records], ensure_ascii=False,
                      indent=2)


def as_csv(records: list[Disclosure]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([title for _k, title in COLUMNS])
    for d in records:
        r = row(d)
        writer.writerow([r[k] for k, _t in COLUMNS])
    return out.getvalue()


def fill(ws: Worksheet, records: list[Disclosure]) -> None:
    """Fill a worksheet with the records under Japanese headings."""
    ws.append([t for _k, t in COLUMNS])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for d in records:
        r = row(d)
        ws.append([r[k] for k, _t in COLUMNS])


def sheet(wb: Workbook, title: str, records: list[Disclosure]) -> None:
    fill(wb.create_sheet(title), records)


def as_xlsx(records: list[Disclosure]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "開示の記録"
    fill(ws, records)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
