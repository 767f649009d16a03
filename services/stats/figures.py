"""The report's figures for one window, counted by the database.

The projection keeps each enrollment's placement (年代, 性別) up to date (services/stats/
derived.py), so what depends on the report date is left to a few aggregate queries: which
enrollments are served in the window, which links are dated in it. Each query mirrors one
function of ``domain`` (named below); tests/stats/test_report_window.py holds them equal to
``domain.compute_report`` over the whole projection on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Select,
    and_,
    distinct,
    exists,
    func,
    or_,
    select,
    union,
)

from contracts.common import AgeBand, Program, Sex
from services.stats import domain as d
from services.stats import tables as t


def served(e: Any, w: d.Window) -> ColumnElement[bool]:
    """``domain.served``: started by the window's end, not ended before its start."""
    return and_(e.started_on.is_not(None), e.started_on <= w.end,
                or_(e.ended_on.is_(None), e.ended_on >= w.start))


def _grid(conn: Connection, w: d.Window) -> dict[Program, d.Persons]:
    """``domain.count_persons``: each person once, placed by their earliest served
    enrollment (by start, then id) — the one with no earlier served one. Only enrollments
    of persons enrolled more than once in the program are asked that (``alone``)."""
    e, f = t.enrollments.alias("e"), t.enrollments.alias("f")
    earlier = exists().where(
        f.c.person_id == e.c.person_id, f.c.program == e.c.program, served(f.c, w),
        or_(f.c.started_on < e.c.started_on,
            and_(f.c.started_on == e.c.started_on, f.c.enrollment_id < e.c.enrollment_id)))
    out = {p: d.Persons({(b, s): 0 for b in d.BANDS for s in d.SEXES}, 0) for p in d.PROGRAMS}
    rows = conn.execute(
        select(e.c.program, e.c.band, e.c.sex, func.count())
        .where(e.c.person_id.is_not(None), e.c.person_id != "", served(e.c, w),
               or_(e.c.alone.is_(True), ~earlier))
        .group_by(e.c.program, e.c.band, e.c.sex))
    for program, band, sex, n in rows:
        out[Program(program)].grid[AgeBand(band or "unknown"), Sex(sex or "unknown")] += n
    subjects = conn.execute(
        select(e.c.program, func.count(distinct(e.c.agency_id)))
        .where(or_(e.c.person_id.is_(None), e.c.person_id == ""), e.c.agency_id.is_not(None),
               e.c.agency_id != "", served(e.c, w))
        .group_by(e.c.program))
    for program, n in subjects:
        out[Program(program)].agencies = n
    return out


def _loose(col: Any, name: str) -> Any:
    """Each distinct value of an indexed column, one index seek each (a loose index scan):
    the agencies that may be linked, a few hundred however many links there are."""
    ag = select(func.min(col).label("a")).cte(name, recursive=True)
    step = select(func.min(col)).where(col > ag.c.a).scalar_subquery()
    return ag.union_all(select(step).where(ag.c.a.is_not(None)))


def _served_case(case_id: Any, program: str, w: d.Window) -> Any:
    e = t.enrollments.alias("e")
    return exists().where(e.c.case_id == case_id, e.c.program == program, served(e.c, w))


def _linked_directly(w: d.Window, program: str) -> Select[Any]:
    """The agencies linked in W to a case served in ``program`` in W by a link of their own
    or a referral (``domain.all_links``). Asked per agency, each answer stops at its first
    such link: the cost follows the agencies, not the links."""
    lk, r = t.links.c, t.referrals.c
    loose = [_loose(col, f"ag{i}")
             for i, col in enumerate((lk.agency_id, r.referring_agency, r.triaged_by))]
    agency = union(*(select(ag.c.a) for ag in loose)).subquery("found").c.a
    c = t.cases.alias("c")
    by_link = exists().where(
        lk.agency_id == agency, lk.on_date.between(w.start, w.end),
        or_(lk.program.is_(None), lk.program == program), _served_case(lk.case_id, program, w))
    by_referral = [exists().where(
        col == agency, on.between(w.start, w.end),
        or_(_served_case(r.case_id, program, w), exists().where(
            c.c.referral_id == r.referral_id, _served_case(c.c.case_id, program, w))))
        for col, on in ((r.referring_agency, r.submitted_on), (r.triaged_by, r.triaged_on))]
    return select(agency).where(agency.is_not(None), or_(
        by_link, and_(agency != "", or_(*by_referral))))


def _linked_at_meetings(w: d.Window, program: str) -> CompoundSelect[Any]:
    """The agencies that attended a meeting held in W for a case served in ``program`` in W
    (tabled for that program or for every one). Meetings are few: asked per attendance."""
    m, tb = t.meetings.c, t.tabled.c
    at, ia = t.attendees.c, t.item_attendees.c
    held = t.meetings.join(t.tabled, tb.meeting_id == m.meeting_id)
    in_w = and_(m.held_on.between(w.start, w.end),
                or_(tb.program.is_(None), tb.program == program),
                _served_case(tb.case_id, program, w))
    return union(
        select(at.agency_id)
        .select_from(held.join(t.attendees, at.meeting_id == tb.meeting_id)).where(in_w),
        select(ia.agency_id)
        .select_from(held.join(t.item_attendees, and_(ia.meeting_id == tb.meeting_id,
                                                      ia.case_id == tb.case_id))).where(in_w),
    )


def _linked(conn: Connection, w: d.Window) -> dict[Program, set[str]]:
    """``domain.linked_agencies`` for each program."""
    return {p: {r[0] for q in (_linked_directly(w, p.value), _linked_at_meetings(w, p.value))
                for r in conn.execute(q)}
            for p in d.PROGRAMS}


def _plans(conn: Connection, w: d.Window) -> dict[Program, int]:
    """``domain.count_plans``: plans whose first approval (by date, then version) is in W."""
    a, b = t.approvals.alias("a"), t.approvals.alias("b")
    earlier = exists().where(b.c.plan_id == a.c.plan_id, or_(
        b.c.approved_on < a.c.approved_on,
        and_(b.c.approved_on == a.c.approved_on, b.c.version < a.c.version)))
    rows = conn.execute(
        select(a.c.program, func.count())
        .where(a.c.approved_on.between(w.start, w.end), ~earlier).group_by(a.c.program))
    out = dict.fromkeys(d.PROGRAMS, 0)
    for program, n in rows:
        out[Program(program)] = n
    return out


def window_figures(conn: Connection, w: d.Window) -> d.WindowFigures:
    grid, linked, plans = _grid(conn, w), _linked(conn, w), _plans(conn, w)
    m = t.meetings.c
    held: dict[str, int] = dict(conn.execute(select(m.kind, func.count())
                             .where(m.held_on.between(w.start, w.end)).group_by(m.kind)).all())
    closed = conn.execute(select(func.count(distinct(t.closures.c.case_id)))
                          .where(t.closures.c.closed_on.between(w.start, w.end))).scalar()
    return d.WindowFigures(
        programs={p: d.ProgramFigures(grid[p], frozenset(linked[p]), plans[p])
                  for p in d.PROGRAMS},
        meetings={k: held.get(k, 0) for k in d.MEETING_KINDS},
        closed=closed or 0,
    )


def categories(conn: Connection) -> dict[str, str]:
    return {r.agency_id: r.category for r in conn.execute(
        select(t.agencies.c.agency_id, t.agencies.c.category))}

