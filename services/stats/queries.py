"""Reading the projection into a snapshot for the pure report, and the ``stats_report`` query."""

from __future__ import annotations

import weakref
from datetime import date
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from contracts.common import AgeBand, Program
from eventstore.db import in_thread
from eventstore.errors import DomainError, InvalidInput
from eventstore.service import Runtime
from services.stats import derived, figures
from services.stats import domain as d
from services.stats import tables as t


def parse_as_of(value: Any, field: str = "as_of") -> date:
    """A report date from a query or command argument, or an error naming the rule."""
    if not isinstance(value, str):
        raise InvalidInput(
            f"{field} is required: a date as YYYY-MM-DD", details={"field": field, "rule": "date"}
        )
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(
            f"{field} {value!r} is not a date as YYYY-MM-DD",
            details={"field": field, "rule": "date"},
        ) from exc
    if day < date(2019, 5, 1):
        raise InvalidInput(
            f"{field} {value} is before 令和 (2019-05-01); reports start there",
            details={"field": field, "rule": "min_date"},
        )
    return day


def load_snapshot(conn: Connection) -> d.Snapshot:
    """Every row of the projection, for the pure reference (``domain.compute_report``): what
    tests hold the report's queries equal to."""
    enr_q = select(t.enrollments)
    link_q = select(t.links)
    f = t.person_facts.c
    return d.Snapshot(
        agencies={r.agency_id: r.category for r in conn.execute(select(t.agencies))},
        facts=tuple(
            derived.fact_of(r) for r in conn.execute(select(
                f.matched_person_id, f.person_id, f.version, f.sex, f.age_band, f.birth_date,
            ).where(
                func.coalesce(f.matched_person_id, f.person_id).is_not(None)
            ))
        ),
        erased_bands={
            r.enrollment_id: AgeBand(r.age_band) for r in conn.execute(select(t.erased_bands))
        },
        enrollments=tuple(
            d.Enrollment(r.enrollment_id, r.case_id, Program(r.program), r.started_on,
                         r.ended_on, r.person_id, r.agency_id)
            for r in conn.execute(enr_q)
        ),
        links=tuple(
            d.Link(r.case_id, r.agency_id, r.on_date, Program(r.program) if r.program else None)
            for r in conn.execute(link_q)
        ),
        referrals=tuple(
            d.Referral(r.referral_id, r.referring_agency, r.submitted_on, r.triaged_by,
                       r.triaged_on, r.case_id)
            for r in conn.execute(select(t.referrals))
        ),
        case_referrals={
            r.case_id: r.referral_id
            for r in conn.execute(select(t.cases).where(t.cases.c.referral_id.is_not(None)))
        },
        meetings=tuple(
            d.Meeting(r.meeting_id, r.kind, r.held_on) for r in conn.execute(select(t.meetings))
        ),
        attendees=tuple((r.meeting_id, r.agency_id) for r in conn.execute(select(t.attendees))),
        item_attendees=tuple((r.meeting_id, r.case_id, r.agency_id)
                             for r in conn.execute(select(t.item_attendees))),
        tabled=tuple(
            d.Tabled(r.meeting_id, r.case_id, Program(r.program) if r.program else None)
            for r in conn.execute(select(t.tabled))
        ),
        approvals=tuple(
            d.PlanApproval(r.plan_id, r.version, Program(r.program), r.approved_on)
            for r in conn.execute(select(t.approvals))
        ),
        closures=tuple((r.case_id, r.closed_on) for r in conn.execute(select(t.closures))),
        published=tuple(
            d.Published(r.report_id, r.as_of, r.figures_sha256)
            for r in conn.execute(select(t.published))
        ),
        corrections=frozenset(
            (r.report_id, r.figures_sha256) for r in conn.execute(select(t.corrections))
        ),
    )


#: Engines whose every enrollment carries its placement (checked once: new rows always do).
_PLACED: weakref.WeakSet[Engine] = weakref.WeakSet()


def require_placed(conn: Connection) -> None:
    """Rows projected before migration b65c3723a6f8 have no placement; counted, their
    persons would silently become 不明. Refuse until the projection is rebuilt."""
    if conn.engine in _PLACED:
        return
    # An enrollment known only by its end (its start dead-lettered or still to come) has
    # no placement and is not counted: only a started one without it predates the migration.
    unplaced = conn.execute(select(t.enrollments.c.enrollment_id)
                            .where(t.enrollments.c.band.is_(None),
                                   t.enrollments.c.started_on.is_not(None)).limit(1)).first()
    if unplaced is not None:
        raise DomainError(
            "the stats projection holds enrollments projected before the report's counts were "
            "kept (migration b65c3723a6f8): run `tsunagu rebuild stats`; no report until then, "
            "rather than one counting those persons as 不明", code="rebuild_needed")
    _PLACED.add(conn.engine)


def report_on(conn: Connection, as_of: date) -> dict[str, Any]:
    """The report as of ``as_of`` from the projection: the counts of its two windows, each a
    few aggregate queries over what the projection keeps (services/stats/figures.py)."""
    d.check_as_of(as_of)
    require_placed(conn)
    if conn.dialect.name == "postgresql":
        # Each query is short, but its estimated cost crosses jit_above_cost: compiling it
        # took longer than running it (≈ 20 ms of each ≈ 70). This transaction only.
        conn.exec_driver_sql("SET LOCAL jit = off")
    return d.assemble(as_of, figures.categories(conn),
                      figures.window_figures(conn, d.window(as_of)),
                      figures.window_figures(conn, d.prior_window(as_of)))


def _snapshot(engine: Engine) -> Connection:
    """A connection whose queries all read one state of the projection: a report is some
    twenty queries, and a commit between two of them would mix two states (and make a
    publication see a spurious correction). PostgreSQL: a repeatable-read transaction."""
    conn = engine.connect()
    if engine.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


def report(engine: Engine, as_of: date) -> dict[str, Any]:
    """``report_on`` (synchronous; run it in a thread)."""
    with _snapshot(engine) as conn:
        return report_on(conn, as_of)


def publication(engine: Engine, as_of: date) -> d.Publication:
    """What to publish as of ``as_of``: earlier published reports are recomputed (each by
    ``report_on``) to find corrections."""
    with _snapshot(engine) as conn:
        published = [d.Published(r.report_id, r.as_of, r.figures_sha256)
                     for r in conn.execute(select(t.published))]
        corrections = frozenset(
            (r.report_id, r.figures_sha256) for r in conn.execute(select(t.corrections)))
        return d.publication_of(lambda day: report_on(conn, day), as_of, published, corrections)


def latest_data_on(engine: Engine) -> date | None:
    """The latest world date any counted fact carries (None while empty): lets a reader
    open the report on the last fiscal year that has data rather than on an empty one."""
    columns = (t.enrollments.c.started_on, t.enrollments.c.ended_on, t.links.c.on_date,
               t.referrals.c.submitted_on, t.meetings.c.held_on, t.approvals.c.approved_on,
               t.closures.c.closed_on)
    with engine.connect() as conn:
        found = [conn.execute(select(func.max(c))).scalar() for c in columns]
    return max((d for d in found if d is not None), default=None)


def published_as_of(engine: Engine) -> list[date]:
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(select(t.published.c.as_of).distinct())]


async def stats_report(runtime: Runtime, agency: str, args: dict[str, Any]) -> dict[str, Any]:
    """Query ``stats_report`` {"as_of": "YYYY-MM-DD"}: the report in its JSON form.

    Open to any agency: it holds counts only, never a person."""
    as_of = parse_as_of(args.get("as_of"))
    result = await in_thread(report, runtime.engine, as_of)
    runner = runtime.runners.get("stats")
    result["projection_seq"] = runner.checkpoint if runner else None
    latest = await in_thread(latest_data_on, runtime.engine)
    result["latest_data_on"] = latest.isoformat() if latest else None
    return result
