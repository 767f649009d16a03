"""What the projection keeps up to date for the report: each person's resolved view and, on
each enrollment, the 年代 and 性別 it places its person in.

Both are recomputed from the stored rows (never patched by the event alone), so any arrival
order, a correction, a match to another person or an erasure gives what ``domain`` computes
over the whole snapshot: a person's view is ``domain.resolve_persons`` over their facts, an
enrollment's band ``domain.band_of``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import Connection, bindparam, delete, exists, func, select, union_all, update

from contracts.common import AgeBand, Program, Sex
from eventstore import fastsql
from eventstore.db import upsert
from services.stats import domain as d
from services.stats import tables as t

_f, _p, _e, _eb = t.person_facts.c, t.persons.c, t.enrollments.c, t.erased_bands.c
_FACT_COLUMNS = (_f.matched_person_id, _f.person_id, _f.version, _f.sex, _f.age_band,
                 _f.birth_date)
#: A person's facts: matched to them, or theirs and matched to nobody. Two index reads, not
#: an OR: PostgreSQL's generic plan for the OR scanned the whole table.
_FACTS = union_all(
    select(*_FACT_COLUMNS).where(_f.matched_person_id == bindparam("p")),
    select(*_FACT_COLUMNS).where(_f.person_id == bindparam("p"),
                                 _f.matched_person_id.is_(None)))
_VIEW = select(_p.sex, _p.age_band, _p.birth_date).where(_p.person_id == bindparam("p"))
_OF_PERSON = (select(_e.enrollment_id, _e.case_id, _e.program, _e.started_on, _e.band, _e.sex,
                     _eb.age_band.label("kept"))
              .outerjoin(t.erased_bands, _eb.enrollment_id == _e.enrollment_id)
              .where(_e.person_id == bindparam("p")))
_o = t.enrollments.alias("other")
#: What a starting enrollment needs, in one statement: the band kept at erasure, the person's
#: view, and whether the person has another enrollment in the program.
_AT_START = select(
    select(_eb.age_band).where(_eb.enrollment_id == bindparam("e")).scalar_subquery(),
    *(select(col).where(_p.person_id == bindparam("p")).scalar_subquery()
      for col in (_p.sex, _p.age_band, _p.birth_date)),
    exists().where(_o.c.person_id == bindparam("p"), _o.c.program == bindparam("g"),
                   _o.c.enrollment_id != bindparam("e")),
)
_KEPT = select(_eb.age_band).where(_eb.enrollment_id == bindparam("e"))
_NOT_ALONE = (update(t.enrollments).values(alone=False)
              .where(_e.person_id == bindparam("p"), _e.program == bindparam("g")))
_ENROLLMENT = select(_e.person_id, _e.started_on).where(_e.enrollment_id == bindparam("e"))
_FORGET = delete(t.persons).where(_p.person_id == bindparam("p"))
_SET = (update(t.enrollments).where(_e.enrollment_id == bindparam("e"))
        .values(band=bindparam("b"), sex=bindparam("s")))
#: Facts whose person an erasure touches (named directly or matched to it).
_TOUCHED = union_all(*(select(func.coalesce(_f.matched_person_id, _f.person_id)).where(
    col == bindparam("p")) for col in (_f.person_id, _f.matched_person_id)))


def fact_of(row: Any) -> d.PersonFact:
    """A person_facts row (matched_person_id, person_id, version, sex, age_band, birth_date)
    as the pure report reads it."""
    matched, person_id, version, sex, band, birth = row
    return d.PersonFact(
        person_id=matched or person_id,
        version=version or "",
        sex=Sex(sex) if sex else Sex.unknown,
        age_band=AgeBand(band) if band else AgeBand.unknown,
        birth_date=birth,
    )


def view_of(conn: Connection, person_id: str | None) -> d.PersonView | None:
    if not person_id:
        return None
    row = fastsql.first(conn, _VIEW, {"p": person_id})
    if row is None:
        return None
    return d.PersonView(Sex(row[0]), AgeBand(row[1]), row[2])


def placement(
    enrollment: d.Enrollment, view: d.PersonView | None, kept: str | None
) -> dict[str, str]:
    erased = {enrollment.enrollment_id: AgeBand(kept)} if kept else {}
    sex = view.sex if view else Sex.unknown
    return {"band": d.band_of(enrollment, view, erased).value, "sex": sex.value}


def enrollment_placement(
    conn: Connection, enrollment_id: str, person_id: str | None, started_on: date | None
) -> dict[str, str]:
    """The band and sex an enrollment starting on ``started_on`` places its person in."""
    kept = fastsql.scalar(conn, _KEPT, {"e": enrollment_id})
    e = d.Enrollment(enrollment_id, "", Program.multi_agency, started_on, person_id=person_id)
    return placement(e, view_of(conn, person_id), kept)


def at_start(
    conn: Connection, enrollment_id: str, person_id: str | None, program: str,
    started_on: date,
) -> dict[str, Any]:
    """An enrollment's placement (band, sex) and ``alone``: whether it is the only enrollment
    of its person in the program. If not, the others are told too (an enrollment is never
    deleted, so ``alone`` only ever turns false)."""
    keys = {"e": enrollment_id, "p": person_id or "", "g": program}
    row = fastsql.first(conn, _AT_START, keys)
    assert row is not None  # a SELECT without FROM returns one row
    kept, sex, band, birth, others = row
    view = d.PersonView(Sex(sex), AgeBand(band), birth) if person_id and sex else None
    e = d.Enrollment(enrollment_id, "", Program(program), started_on, person_id=person_id)
    if person_id and others:
        fastsql.run(conn, _NOT_ALONE, {"p": person_id, "g": program})
    return {**placement(e, view, kept), "alone": not (person_id and others)}


def refresh_persons(conn: Connection, person_ids: Iterable[str | None]) -> None:
    """Resolve each person again from their facts; where the view changed, place their
    enrollments again."""
    for person_id in dict.fromkeys(p for p in person_ids if p):
        facts = [fact_of(r) for r in fastsql.all_rows(conn, _FACTS, {"p": person_id})]
        view = d.resolve_persons(facts).get(person_id)
        if view == view_of(conn, person_id):
            continue
        if view is None:
            fastsql.run(conn, _FORGET, {"p": person_id})
        else:
            upsert(conn, t.persons, {"person_id": person_id, "sex": view.sex.value,
                                     "age_band": view.age_band.value,
                                     "birth_date": view.birth_date}, ["person_id"])
        _place_enrollments(conn, person_id, view)


def _place_enrollments(conn: Connection, person_id: str, view: d.PersonView | None) -> None:
    for eid, case_id, program, started_on, band, sex, kept in fastsql.all_rows(
            conn, _OF_PERSON, {"p": person_id}):
        e = d.Enrollment(eid, case_id, Program(program), started_on, person_id=person_id)
        placed = placement(e, view, kept)
        if (band, sex) != (placed["band"], placed["sex"]):
            fastsql.run(conn, _SET, {"e": eid, **_renamed(placed)})


def touched_by_erasure(conn: Connection, person_id: str) -> list[str]:
    return [r[0] for r in fastsql.all_rows(conn, _TOUCHED, {"p": person_id}) if r[0]]


def refresh_enrollments(conn: Connection, enrollment_ids: Iterable[str]) -> None:
    """Place these enrollments again (a band kept at erasure arrived for them)."""
    for enrollment_id in enrollment_ids:
        row = fastsql.first(conn, _ENROLLMENT, {"e": enrollment_id})
        if row is not None:
            fastsql.run(conn, _SET, {"e": enrollment_id, **_renamed(
                enrollment_placement(conn, enrollment_id, *row))})


def _renamed(placed: dict[str, str]) -> dict[str, str]:
    return {"b": placed["band"], "s": placed["sex"]}
