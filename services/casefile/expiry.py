"""A consent's expiry redacts the feed on its day: the day after a consent's last valid day
(in Japan), every agency it alone covered receives the redacted view of the case, which
replaces the full one (the feed keeps one view per case and agency), as a withdrawal does.

Expiry is not an event (it is computed from ``valid_until``), so the reminders' timer sends
it (``reminders.reminder_timer``), the same way: in ONE transaction the views go to the
projection's outbox and a mark in the kit's tracking table says they went (a rebuild keeps
it), so a restart sends what was not sent and never anything twice; an expiry missed while
the service was down goes out within ``GRACE_DAYS``. The consent's expiry reminder row
(``notices.tasks``, task ``consent_expiry``, ``due_on`` = its last valid day) says which
consents end; a withdrawal removes it.

>>> from datetime import date
>>> expiry_mark("c1:consent_expiry:k1:", date(2026, 6, 30))[:16]
'casefile.expiry.'
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, insert, select

from contracts.consent import uncovered_by_expiry
from contracts.feed import KIND_HEADER
from contracts.jst import JST
from eventstore.db import outbox, read_checkpoint, write_checkpoint
from eventstore.topology import Topology
from services.casefile import disclosures, views
from services.casefile.notices import tasks

GRACE_DAYS = 3
OWNER = "casefile"  # the projection whose outbox carries the feed
EXPIRED = "ConsentExpired"  # the view's event_type: no stored event is behind it


def expiry_mark(task_key: str, last_day: date) -> str:
    """The tracking row that says this expiry's views went out (hashed: ids are long)."""
    digest = hashlib.sha256(f"{task_key}@{last_day.isoformat()}".encode()).hexdigest()[:40]
    return f"casefile.expiry.{digest}"


def send_expired(conn: Connection, topology: Topology, now: datetime) -> int:
    """Write the redacted views of consents that ended (last valid day before today, in
    Japan) to the outbox and mark them, in ``conn``'s transaction; returns how many views
    were written."""
    today = now.astimezone(JST).date()
    rows = conn.execute(
        select(tasks.c.task_key, tasks.c.case_id, tasks.c.due_on)
        .where(tasks.c.task == "consent_expiry", tasks.c.due_on < today,
               tasks.c.due_on >= today - timedelta(days=GRACE_DAYS + 1))
        .order_by(tasks.c.due_on, tasks.c.task_key)).all()
    written = 0
    for task_key, case_id, last_day in rows:
        mark = expiry_mark(task_key, last_day)
        if read_checkpoint(conn, mark):
            continue
        write_checkpoint(conn, mark, 1)
        data = views.load_case(conn, case_id)
        if data is None:
            continue
        ended = uncovered_by_expiry(data.consent, last_day + timedelta(days=1))
        for agency in sorted(ended & set(data.audience)):
            written += _send_view(conn, topology, data, agency, today, now, mark)
    return written


def _send_view(conn: Connection, topology: Topology, data: views.CaseData, agency: str,
               today: date, now: datetime, mark: str) -> int:
    # Judged today: redacted unless another basis (a 支援会議 seat) still holds.
    view = views.view_of(data, agency, today, today)
    if view is None:
        return 0
    case_id = data.case["case_id"]
    body = {"kind": "case", "at": now.isoformat(), "case_id": case_id,
            "seq": max(1, data.case["last_seq"]), "event_type": EXPIRED,
            "as_of": today.isoformat(), "view": view}
    msg_id = f"feed-{agency}-{case_id}-expired-{mark.rsplit('.', 1)[-1]}"
    conn.execute(insert(outbox), {
        "owner": OWNER, "subject": topology.feed_subject(agency, case_id, "case"),
        "msg_id": msg_id, "data": json.dumps(body, ensure_ascii=False).encode(),
        "headers": {KIND_HEADER: "case"}})
    record = disclosures.of_view(data, agency, view, "feed")
    if record is not None:  # still shown in full on another basis: recorded like any view
        d = record.model_copy(update={"record_id": msg_id})
        conn.execute(insert(outbox), {
            "owner": OWNER, "subject": d.subject(topology), "msg_id": f"disclosure-{msg_id}",
            "data": d.to_bytes(), "headers": None})
    return 1
