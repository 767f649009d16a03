"""Reminders of due tasks (``task_due`` feed notices), sent on their day in Japan.

A timer in the casefile service wakes every minute and, in ONE transaction, writes the
reminder to the projection's outbox and marks it sent in the kit's tracking table (which a
rebuild keeps): after a crash either both are there or neither, so a restart sends what was
not sent and never anything twice. The outbox task then publishes it (``Nats-Msg-Id``
dedupes a re-publish after a crash between publishing and deleting the row).
A reminder whose day passed while the service was down still goes out within
``GRACE_DAYS``; older ones are dropped (a restored backup must not flood feeds).

>>> from datetime import date
>>> mark_name("c1:monitoring::", date(2026, 5, 1))[:14]
'casefile.task.'
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from datetime import date, datetime, timedelta

import structlog
from sqlalchemy import Connection, Engine, insert, select

from contracts.feed import KIND_HEADER, TaskDue, notice_subject
from contracts.jst import JST
from eventstore.db import in_thread, outbox, read_checkpoint, write_checkpoint
from eventstore.service import Runtime, StartHook
from eventstore.topology import Topology
from services.casefile import tables as t
from services.casefile.expiry import send_expired
from services.casefile.notices import tasks

log = structlog.get_logger("tsunagu.casefile.reminders")
GRACE_DAYS = 3
OWNER = "casefile"  # the projection whose outbox carries them
Clock = Callable[[], datetime]


def mark_name(task_key: str, due_on: date) -> str:
    """The tracking row that says this reminder went out (hashed: ids are long)."""
    digest = hashlib.sha256(f"{task_key}@{due_on.isoformat()}".encode()).hexdigest()[:40]
    return f"casefile.task.{digest}"


def to_whom(task: str, agency: str | None, lead: str | None, coordinator: str) -> list[str]:
    """Who is reminded: a plan role's end its agency; a monitoring date the lead (else the
    coordinator); a consent's expiry the coordinator and the lead.

    >>> to_whom("monitoring", None, None, "shakyo")
    ['shakyo']
    >>> to_whom("consent_expiry", None, "npo", "shakyo")
    ['npo', 'shakyo']
    """
    if agency:
        return [agency]
    if task == "monitoring":
        return [lead or coordinator]
    return sorted({coordinator, *([lead] if lead else [])})


def send_due(conn: Connection, topology: Topology, now: datetime) -> int:
    """Write today's unsent reminders to the outbox and mark them, in ``conn``'s
    transaction; returns how many messages were written."""
    today = now.astimezone(JST).date()
    c = t.cases.c
    rows = conn.execute(
        select(tasks, c.status, c.lead_agency, c.coordinator, c.last_seq)
        .join(t.cases, c.case_id == tasks.c.case_id)
        .where(tasks.c.due_on <= today, tasks.c.due_on >= today - timedelta(days=GRACE_DAYS))
        .order_by(tasks.c.due_on, tasks.c.task_key)).mappings().all()
    written = 0
    for r in rows:
        mark = mark_name(r["task_key"], r["due_on"])
        if read_checkpoint(conn, mark):
            continue
        write_checkpoint(conn, mark, 1)
        if r["status"] != "open":
            continue  # a closed case has nothing due
        n = TaskDue(at=now, seq=max(1, r["last_seq"]), case_id=r["case_id"], task=r["task"],
                    due_on=r["due_on"], ref=r["ref"])
        for agency in to_whom(r["task"], r["agency"], r["lead_agency"], r["coordinator"]):
            conn.execute(insert(outbox), {
                "owner": OWNER, "subject": notice_subject(topology.prefix, agency, n),
                "msg_id": f"task-{agency}-{mark.rsplit('.', 1)[-1]}",
                "data": n.model_dump_json().encode(), "headers": {KIND_HEADER: "task_due"}})
            written += 1
    return written


def _send_now(engine: Engine, topology: Topology, now: datetime) -> int:
    with engine.begin() as conn:  # reminders, and the redacted views of expired consents
        return send_due(conn, topology, now) + send_expired(conn, topology, now)


def reminder_timer(clock: Clock | None = None, every: float = 60.0) -> StartHook:
    """An on_start hook: check for due reminders now and then every ``every`` seconds.
    ``clock`` (aware datetimes) is injectable for tests; the default is the real time.

    >>> hook = reminder_timer(every=60)
    """
    now_of: Clock = clock or (lambda: datetime.now(JST))

    async def start(rt: Runtime) -> None:
        runner = rt.runners[OWNER]

        async def loop() -> None:
            while True:
                try:
                    if await in_thread(_send_now, rt.engine, rt.topology, now_of()):
                        await runner.flush_outbox()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # e.g. tables being rebuilt: next tick
                    log.warning("reminders not sent, retrying", error=type(exc).__name__)
                await asyncio.sleep(every)

        rt.tasks.append(asyncio.create_task(loop(), name="casefile-reminders"))

    return start
