"""The report as of a date reads only the rows its two windows (this fiscal year to the date,
and the same span a year before) can use — and gives exactly what the whole projection gives.
Proven over a synthetic history of four fiscal years (bench/stats_report.py's generator, applied
through the real projection) on SQLite and PostgreSQL, for report dates across those years."""

from __future__ import annotations

from datetime import date

import pytest

from bench.stats_report import fill
from eventstore.db import make_engine
from services.stats import domain as d
from services.stats import queries

AS_OF = (date(2022, 4, 1), date(2022, 9, 30), date(2023, 3, 31), date(2023, 4, 1),
         date(2024, 2, 29), date(2025, 11, 30), date(2026, 3, 31), date(2027, 6, 30))


@pytest.mark.timeout(600)
def test_the_report_over_its_windows_equals_the_report_over_the_whole_projection(db_url):
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
    engine.dispose()
