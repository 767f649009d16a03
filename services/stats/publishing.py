"""Publishing StatsReportPublished: on demand (command) and at each month end (timer).

Both go through the kit's executor. The report id is derived from the figures, and the
append expects the report's aggregate to be new, so two replicas (or a retry) publishing
the same report store it once.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial

import structlog

from contracts.base import Command, DomainEvent
from contracts.directory import active_entry
from contracts.jst import JST
from contracts.stats import PublishStatsReport, StatsReportPublished
from eventstore.commands import Handler, Session, command_table
from eventstore.db import in_thread
from eventstore.errors import DomainError, InvalidInput
from eventstore.preconditions import refuse_unless
from eventstore.service import Runtime
from services.stats import queries
from services.stats.domain import due_month_end

log = structlog.get_logger("tsunagu.stats")

#: The service's own actor when it publishes at month end.
SERVICE_AGENCY = "tsunagu-stats"
#: Seconds between month-end checks; 0 turns the timer off (tests, or a replica that should
#: not publish).
PUBLISH_EVERY_ENV = "TSUNAGU_STATS_PUBLISH_EVERY"
CATCH_UP_TIMEOUT = 60.0


def today_jst() -> date:
    return datetime.now(JST).date()


async def _caught_up(runtime: Runtime) -> None:
    """Wait until the projection has applied everything stored so far."""
    runner = runtime.runners["stats"]
    await runner.wait_for(await runner.stream_last_seq(), timeout=CATCH_UP_TIMEOUT)


@dataclass(frozen=True)
class Deps:
    runtime_of: Callable[[], Runtime]
    #: Off for the service's own month-end report (its actor is no directory entry).
    check_agency: bool = True
    today: Callable[[], date] = today_jst


async def handle_publish_stats_report(
    deps: Deps, session: Session, cmd: PublishStatsReport
) -> list[DomainEvent]:
    if deps.check_agency:
        await refuse_unless(session, active_entry(session.agency_id))
    if cmd.as_of > deps.today():
        raise InvalidInput(
            f"as_of {cmd.as_of} is in the future; a report is made as of today or earlier",
            details={"field": "as_of", "rule": "not_future"},
        )
    runtime = deps.runtime_of()
    await _caught_up(runtime)
    pub = await in_thread(queries.publication, runtime.engine, cmd.as_of)
    history = await session.load("stats", pub.report_id)
    if history.events:
        raise DomainError(
            f"the report as of {cmd.as_of} is already published with these figures "
            f"as {pub.report_id}",
            code="already_published", details={"report_id": pub.report_id},
        )
    return [StatsReportPublished(
        report_id=pub.report_id, as_of=pub.as_of, report=pub.report, corrects=pub.corrects,
    )]


def commands(deps: Deps) -> dict[str, tuple[type[Command], Handler]]:
    return command_table(deps, (PublishStatsReport, handle_publish_stats_report))


async def publish_month_end(runtime: Runtime, today: date) -> str | None:
    """Publish the previous month end's report if it is due; returns its report id."""
    await _caught_up(runtime)
    due = due_month_end(today, await in_thread(queries.published_as_of, runtime.engine))
    if due is None:
        return None
    assert runtime.executor is not None
    own = Deps(lambda: runtime, check_agency=False, today=lambda: today)
    handler = partial(handle_publish_stats_report, own)
    command = PublishStatsReport(command_id=f"month-end-{due:%Y%m%d}", as_of=due)
    try:
        reply = await runtime.executor.execute(SERVICE_AGENCY, command, handler)
    except DomainError as exc:
        if exc.code != "already_published":
            raise
        return str(exc.details["report_id"])
    log.info("month-end report published", as_of=str(due), replayed=reply["replayed"])
    return str(reply["ids"].get("stats_id", ""))


def publish_every() -> float:
    return float(os.environ.get(PUBLISH_EVERY_ENV, "600"))


async def start_month_end_timer(runtime: Runtime) -> None:
    """on_start hook: check every few minutes whether a month-end report is due."""
    interval = publish_every()
    if interval <= 0:
        return

    async def loop() -> None:
        while True:
            # Wait first: a service just started (or a test's) appends nothing right away.
            await asyncio.sleep(interval)
            try:
                await publish_month_end(runtime, today_jst())
            except Exception as exc:  # keep the timer alive; retried next tick
                log.warning("month-end publish failed", error=repr(exc))

    runtime.tasks.append(asyncio.create_task(loop(), name="stats-month-end"))
