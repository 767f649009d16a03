"""The pure statistics: windows, 和暦, 年代 at the start of an enrollment, who is served,
first approvals, corrections, month ends."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.common import AgeBand, Program, Sex
from services.stats import domain as d


def enrollment(start: date | None, end: date | None = None, eid: str = "e1", person: str = "p1",
               program: Program = Program.multi_agency) -> d.Enrollment:
    return d.Enrollment(eid, "c1", program, start, end, person)


@pytest.mark.parametrize(("as_of", "start", "prior"), [
    (date(2025, 11, 30), date(2025, 4, 1), d.Window(date(2024, 4, 1), date(2024, 11, 30))),
    (date(2026, 3, 31), date(2025, 4, 1), d.Window(date(2024, 4, 1), date(2025, 3, 31))),
    (date(2025, 4, 1), date(2025, 4, 1), d.Window(date(2024, 4, 1), date(2024, 4, 1))),
    (date(2024, 2, 29), date(2023, 4, 1), d.Window(date(2022, 4, 1), date(2023, 2, 28))),
])
def test_the_window_runs_from_1_april_of_the_fiscal_year_to_the_day(as_of, start, prior):
    assert d.window(as_of) == d.Window(start, as_of)
    assert d.prior_window(as_of) == prior


@pytest.mark.parametrize(("day", "text", "short"), [
    (date(2025, 11, 30), "令和7年11月30日", "R7.11"),
    (date(2019, 5, 1), "令和元年5月1日", "R1.5"),
    (date(2019, 4, 30), "平成31年4月30日", "H31.4"),
    (date(2024, 11, 30), "令和6年11月30日", "R6.11"),
])
def test_dates_are_shown_in_wareki(day, text, short):
    assert d.wareki(day) == text
    assert d.wareki_short(day) == short


@pytest.mark.parametrize(("birth", "start", "band"), [
    (date(1965, 6, 15), date(2025, 6, 15), AgeBand.sixty_to_64),  # 60 on the day itself
    (date(1965, 6, 15), date(2025, 6, 14), AgeBand.fifties),
    (date(2005, 4, 10), date(2025, 4, 10), AgeBand.twenties),
    (date(2005, 4, 10), date(2025, 4, 9), AgeBand.under_20),
    (date(1960, 4, 1), date(2025, 4, 1), AgeBand.over_65),
    (date(1960, 2, 29), date(2025, 2, 28), AgeBand.sixty_to_64),  # common year: not yet 65
    (date(1960, 2, 29), date(2025, 3, 1), AgeBand.over_65),
    (date(2004, 2, 29), date(2024, 2, 29), AgeBand.twenties),  # leap year: the day itself
    (date(2004, 2, 29), date(2024, 2, 28), AgeBand.under_20),
])
def test_the_age_band_is_the_age_at_the_start_of_the_enrollment(birth, start, band):
    person = d.PersonView(Sex.male, AgeBand.unknown, birth)
    assert d.band_of(enrollment(start), person, {}) == band


def test_the_birth_date_wins_over_the_recorded_band_and_erasure_keeps_the_band():
    person = d.PersonView(Sex.male, AgeBand.forties, date(1970, 1, 1))
    assert d.band_of(enrollment(date(2025, 6, 1)), person, {}) == AgeBand.fifties
    erased = d.PersonView(Sex.male, AgeBand.unknown, None)
    assert d.band_of(enrollment(date(2025, 6, 1)), erased, {"e1": AgeBand.thirties}) == (
        AgeBand.thirties)
    assert d.band_of(enrollment(date(2025, 6, 1)), erased, {}) == AgeBand.unknown


@pytest.mark.parametrize(("start", "end", "served"), [
    (date(2025, 11, 30), None, True),  # starts on D
    (date(2025, 12, 1), None, False),  # starts after D
    (date(2024, 1, 1), date(2025, 4, 1), True),  # ends on W's first day
    (date(2024, 1, 1), date(2025, 3, 31), False),  # ended before W began
    (date(2022, 1, 1), None, True),  # enrolled long before, still served
    (None, date(2025, 5, 1), False),  # only the end is known so far
])
def test_an_enrollment_is_served_if_started_by_d_and_not_ended_before_w(start, end, served):
    assert d.served(enrollment(start, end), d.window(date(2025, 11, 30))) is served


def test_a_person_counts_once_per_program_by_their_earliest_enrollment_in_the_window():
    persons = {"p1": d.PersonView(Sex.female, AgeBand.unknown, date(1965, 8, 1))}
    enrollments = [
        enrollment(date(2025, 9, 1), eid="e2"),  # 60 by then
        enrollment(date(2025, 5, 1), eid="e1"),  # 59: 50代
        d.Enrollment("e3", "c9", Program.participation, date(2025, 5, 1), None, None, "ag1"),
        d.Enrollment("e4", "c8", Program.participation, date(2025, 6, 1), None, None, "ag1"),
    ]
    counted = d.count_persons(enrollments, persons, {}, d.window(date(2025, 11, 30)))
    assert counted.grid[AgeBand.fifties, Sex.female] == 1
    assert sum(counted.grid.values()) == 1
    assert counted.agencies == 1
    assert counted.total == 2


def test_the_newest_known_value_of_each_field_wins_across_sources():
    facts = [
        d.PersonFact("p1", "2025-01-01|0|a", Sex.male, AgeBand.forties, date(1980, 1, 1)),
        d.PersonFact("p1", "2025-02-01|0|b", Sex.female, AgeBand.unknown, None),
        d.PersonFact("p1", "2025-03-01|0|c", Sex.unknown, AgeBand.unknown, None),
    ]
    assert d.resolve_persons(facts)["p1"] == d.PersonView(Sex.female, AgeBand.forties,
                                                          date(1980, 1, 1))


def test_a_plan_counts_once_in_the_window_of_its_first_approval():
    approvals = [
        d.PlanApproval("plan1", 2, Program.outreach, date(2025, 6, 1)),  # stored first
        d.PlanApproval("plan1", 1, Program.outreach, date(2024, 10, 1)),
        d.PlanApproval("plan2", 1, Program.outreach, date(2025, 3, 10)),
        d.PlanApproval("plan2", 2, Program.outreach, date(2025, 5, 10)),
    ]
    first = d.first_approvals(approvals)
    assert d.count_plans(first, Program.outreach, d.window(date(2025, 11, 30))) == 0
    assert d.count_plans(first, Program.outreach, d.prior_window(date(2025, 11, 30))) == 1


def test_links_count_for_the_programs_the_case_is_served_in_within_the_window():
    w = d.window(date(2025, 11, 30))
    enrollments = [
        enrollment(date(2025, 5, 1), eid="e1"),
        d.Enrollment("e2", "c1", Program.outreach, date(2025, 5, 1), None, "p1"),
        d.Enrollment("e3", "c2", Program.outreach, date(2023, 5, 1), date(2025, 1, 1), "p2"),
    ]
    links = [
        d.Link("c1", "a1", date(2025, 6, 1)),
        d.Link("c1", "a2", date(2025, 6, 1), Program.outreach),  # a role in an outreach plan
        d.Link("c1", "a3", date(2025, 12, 1)),  # after D
        d.Link("c2", "a4", date(2025, 6, 1)),  # the case is not served in W
    ]
    assert d.linked_agencies(links, enrollments, Program.multi_agency, w) == {"a1"}
    assert d.linked_agencies(links, enrollments, Program.outreach, w) == {"a1", "a2"}


def test_a_closed_reopened_and_closed_case_counts_once():
    w = d.window(date(2025, 11, 30))
    assert d.count_closed([("c1", date(2025, 5, 1)), ("c1", date(2025, 9, 1)),
                           ("c2", date(2025, 3, 1))], w) == 1


def test_the_month_end_report_is_due_once_the_month_is_over():
    assert d.due_month_end(date(2025, 12, 1), []) == date(2025, 11, 30)
    assert d.due_month_end(date(2025, 12, 20), [date(2025, 11, 30)]) is None
    assert d.due_month_end(date(2024, 3, 1), []) == date(2024, 2, 29)


def test_a_published_report_whose_figures_changed_is_corrected_once():
    snapshot = d.Snapshot(enrollments=(enrollment(date(2025, 10, 15)),))
    old = d.compute_report(d.Snapshot(), date(2025, 10, 31))
    published = d.Published("20251031-old", date(2025, 10, 31), d.figures_sha256(old))
    first = d.plan_publication(
        d.Snapshot(enrollments=snapshot.enrollments, published=(published,)), date(2025, 11, 30)
    )
    assert first.corrects == ("20251031-old",)
    (correction,) = first.report["corrections"]
    already = frozenset({("20251031-old", correction["figures_sha256"])})
    second = d.plan_publication(
        d.Snapshot(enrollments=snapshot.enrollments, published=(published,), corrections=already),
        date(2025, 11, 30),
    )
    assert second.corrects == ()
    unchanged = d.plan_publication(d.Snapshot(published=(published,)), date(2025, 11, 30))
    assert unchanged.corrects == ()
