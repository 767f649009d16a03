"""The report as of a date is counted by aggregate queries over what the projection keeps up to
date (services/stats/figures.py) — and gives exactly what the pure reference
(``domain.compute_report``) gives over the whole projection. Proven over a synthetic history of
four fiscal years (bench/stats_report.py's generator, applied through the real projection) on
SQLite and PostgreSQL, for report dates across those years; tests/stats/test_report_counts.py
does the same for small histories arriving in any order, with corrections, matches and
erasures."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine

from bench.stats_report import fill
from contracts.base import Actor
from contracts.stats import StatsReportPublished
from eventstore.codec import new_envelope
from eventstore.db import make_engine
from eventstore.projection import ApplyContext
from services.stats import domain as d
from services.stats import queries
from services.stats.projection import StatsProjection

AS_OF = (date(2022, 4, 1), date(2022, 9, 30), date(2023, 3, 31), date(2023, 4, 1),
         date(2024, 2, 29), date(2025, 11, 30), date(2026, 3, 31), date(2027, 6, 30))


@pytest.mark.timeout(600)
def test_the_report_over_its_windows_equals_the_report_over_the_whole_projection(db_url: str):
    engine = make_engine(db_url)
    applied, _, _ = fill(engine, 12_000)
    assert applied >= 12_000
    with engine.connect() as conn:
        whole = d.prepare(queries.load_snapshot(conn))
    for as_of in AS_OF:
        narrowed = queries.report(engine, as_of)
        assert narrowed == d.compute_report(whole, as_of), as_of
    counted = queries.report(engine, date(2025, 11, 30))["programs"][0]
    assert counted["persons"]["total"]["current"] > 100  # the history is not empty there
    assert counted["linked_agencies"]["total"]["current"] > 10
    _publication_recomputes_earlier_reports_as_the_reference_does(engine)
    engine.dispose()


def _publication_recomputes_earlier_reports_as_the_reference_does(engine: Engine) -> None:
    late = queries.report(engine, date(2025, 3, 31))
    late["cases_closed"] = {"current": 0, "prior": 0}  # as published before late events came
    earlier = [StatsReportPublished(report_id="20250331-aaaaaaaaaaaa", as_of=date(2025, 3, 31),
                                    report=late),
               StatsReportPublished(report_id="20241130-bbbbbbbbbbbb", as_of=date(2024, 11, 30),
                                    report=queries.report(engine, date(2024, 11, 30)))]
    projection, ctx = StatsProjection(), ApplyContext(None)
    with engine.begin() as conn:
        for event in earlier:
            projection.apply(conn, new_envelope(event, Actor(agency_id="shakyo")), ctx)
    with engine.connect() as conn:
        whole = queries.load_snapshot(conn)
    publication = queries.publication(engine, date(2025, 11, 30))
    assert publication == d.plan_publication(whole, date(2025, 11, 30))
    assert publication.corrects == ("20250331-aaaaaaaaaaaa",)


def test_rows_projected_before_the_counts_were_kept_stop_the_report_until_a_rebuild(
    db_url: str,
):
    """After upgrading to migration b65c3723a6f8, enrollments projected before it have no
    placement: the report must say to rebuild, not count those persons as 不明."""
    from sqlalchemy import update

    from eventstore.errors import DomainError
    from services.stats import tables as t

    engine = make_engine(db_url)
    fill(engine, 2_000)
    with engine.begin() as conn:  # as the migration leaves a row projected before it
        some = conn.execute(t.enrollments.select().limit(1)).first()
        assert some is not None
        conn.execute(update(t.enrollments).where(
            t.enrollments.c.enrollment_id == some.enrollment_id).values(band=None, sex=None))
    with pytest.raises(DomainError, match="tsunagu rebuild stats") as refused:
        queries.report(engine, date(2025, 11, 30))
    assert refused.value.code == "rebuild_needed"
    engine.dispose()
