"""Property-based: the statistics over any projection snapshot. The report never fails, its
totals add up, it does not depend on the order the projection's rows come in (events arrive
in any order across cases), and within a fiscal year no count ever goes down as the report
date moves on (the window only grows)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.base import MAX_DATE, MIN_DATE
from contracts.common import AgeBand, Program, Sex
from eventstore.errors import DomainError
from services.stats import domain as d

FY_START = date(2025, 4, 1)
DATES = st.dates(date(2024, 1, 1), date(2026, 3, 31))
PERSONS = st.sampled_from(["p1", "p2", "p3", "p4"])
AGENCIES = st.sampled_from(["hq", "city", "npo", "clinic"])
CASES = st.sampled_from(["k1", "k2", "k3"])


@st.composite
def snapshots(draw: st.DrawFn) -> d.Snapshot:
    n_facts = draw(st.integers(0, 6))
    facts = tuple(
        d.PersonFact(draw(PERSONS), f"v{i:03d}", draw(st.sampled_from(list(Sex))),
                     draw(st.sampled_from(list(AgeBand))), draw(st.none() | DATES))
        for i in range(n_facts)  # versions are unique, as event ids make them
    )
    enrollments = []
    for i in range(draw(st.integers(0, 8))):
        start = draw(st.none() | DATES)
        end = draw(st.none() | DATES)
        if start and end and end < start:
            start, end = end, start
        person = draw(st.none() | PERSONS)
        enrollments.append(d.Enrollment(
            f"e{i}", draw(CASES), draw(st.sampled_from(list(Program))), start, end, person,
            None if person else draw(AGENCIES)))
    links = tuple(d.Link(draw(CASES), draw(AGENCIES), draw(DATES),
                         draw(st.none() | st.sampled_from(list(Program))))
                  for _ in range(draw(st.integers(0, 5))))
    meetings = tuple(d.Meeting(f"m{i}", draw(st.sampled_from(["support_plan", "confidential"])),
                               draw(st.none() | DATES)) for i in range(draw(st.integers(0, 4))))
    return d.Snapshot(
        agencies={"hq": "包括", "city": "市", "npo": "NPO"},
        facts=facts,
        erased_bands=draw(st.dictionaries(st.sampled_from(["e0", "e1"]),
                                          st.sampled_from(list(AgeBand)), max_size=2)),
        enrollments=tuple(enrollments),
        links=links,
        referrals=tuple(d.Referral(f"r{i}", draw(AGENCIES), draw(DATES), draw(AGENCIES),
                                   draw(DATES), draw(st.none() | CASES)) for i in range(2)),
        meetings=meetings,
        attendees=tuple((m.meeting_id, draw(AGENCIES)) for m in meetings),
        tabled=tuple(d.Tabled(m.meeting_id, draw(CASES)) for m in meetings),
        approvals=tuple(d.PlanApproval(f"pl{draw(st.integers(0, 2))}", draw(st.integers(1, 3)),
                                       draw(st.sampled_from(list(Program))), draw(DATES))
                        for _ in range(draw(st.integers(0, 4)))),
        closures=tuple((draw(CASES), draw(DATES)) for _ in range(draw(st.integers(0, 4)))),
    )


def shuffled(s: d.Snapshot, seed: int) -> d.Snapshot:
    rnd = random.Random(seed)

    def mix(items: tuple) -> tuple:
        out = list(items)
        rnd.shuffle(out)
        return tuple(out)

    return replace(s, facts=mix(s.facts), enrollments=mix(s.enrollments), links=mix(s.links),
                   referrals=mix(s.referrals), meetings=mix(s.meetings),
                   attendees=mix(s.attendees), tabled=mix(s.tabled),
                   approvals=mix(s.approvals), closures=mix(s.closures))


def counts(report: dict) -> list[int]:
    """Every current-window figure of a report, in a fixed order."""
    out: list[int] = []
    for p in report["programs"]:
        out.append(p["persons"]["total"]["current"])
        out.append(p["persons"]["agencies"]["current"])
        out += [row[sex.value]["current"] for row in p["persons"]["grid"] for sex in d.SEXES]
        out.append(p["linked_agencies"]["total"]["current"])
        out.append(p["plans"]["current"])
    out += [m["current"] for m in report["meetings"].values()]
    out.append(report["cases_closed"]["current"])
    return out


SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(snapshots(), st.dates(FY_START, date(2026, 3, 31)))
def test_the_totals_of_every_report_add_up(snapshot, as_of):
    report = d.compute_report(snapshot, as_of)
    for p in report["programs"]:
        persons = p["persons"]
        for when in ("current", "prior"):
            grid = sum(row[sex.value][when] for row in persons["grid"] for sex in d.SEXES)
            assert persons["total"][when] == grid + persons["agencies"][when]
            for sex in d.SEXES:
                assert persons["totals"][sex.value][when] == sum(
                    row[sex.value][when] for row in persons["grid"])
            assert p["linked_agencies"]["total"][when] == sum(
                c[when] for c in p["linked_agencies"]["by_category"])
    assert all(n >= 0 for n in counts(report))


@SETTINGS
@given(snapshots(), st.dates(FY_START, date(2026, 3, 31)), st.integers(0, 2**16))
def test_the_report_does_not_depend_on_the_order_rows_arrive_in(snapshot, as_of, seed):
    assert d.compute_report(shuffled(snapshot, seed), as_of) == d.compute_report(snapshot, as_of)


@SETTINGS
@given(snapshots(), st.dates(FY_START, date(2026, 3, 30)), st.integers(1, 200))
def test_no_count_goes_down_as_the_report_date_moves_on_within_a_fiscal_year(
    snapshot, as_of, days
):
    later = min(as_of + timedelta(days=days), date(2026, 3, 31))
    before, after = counts(d.compute_report(snapshot, as_of)), counts(
        d.compute_report(snapshot, later))
    # A grid cell may lose a person to another (placed by their earliest enrollment in the
    # window, which a longer window can change), so compare every figure but the cells.
    for i in _non_grid_positions(before):
        assert before[i] <= after[i], (i, before, after)


def _non_grid_positions(figures: list[int]) -> list[int]:
    per_program = 2 + len(d.BANDS) * len(d.SEXES) + 2
    positions = []
    for p in range(len(d.PROGRAMS)):
        base = p * per_program
        positions += [base, base + 1, base + per_program - 2, base + per_program - 1]
    positions += list(range(len(d.PROGRAMS) * per_program, len(figures)))
    return positions



# ----- dates, publication and corrections ---------------------------------------------
WORLD_DATES = st.dates(MIN_DATE, MAX_DATE)


@settings(max_examples=100, deadline=None)
@given(WORLD_DATES)
def test_a_report_as_of_any_world_date_is_made_or_refused_with_a_domain_error(as_of):
    # A publish command may name any WorldDate; before 令和 the 和暦 of the prior window
    # once raised ValueError instead of refusing.
    try:
        report = d.compute_report(d.Snapshot(), as_of)
    except DomainError as exc:
        assert exc.code == "invalid" and "as_of" in exc.message
        return
    assert report["current"]["as_of_wareki"] and report["prior"]["as_of_wareki"]


@settings(max_examples=200, deadline=None)
@given(WORLD_DATES)
def test_the_windows_are_the_fiscal_year_to_date_and_the_same_a_year_earlier(day):
    w, wp = d.window(day), d.prior_window(day)
    assert (w.start.month, w.start.day) == (4, 1) and w.start <= day == w.end
    assert (day - w.start).days < 366 and day in w
    assert wp.end == d.one_year_earlier(day) and 365 <= (day - wp.end).days <= 366
    assert wp.start == d.fiscal_year_start(wp.end) and wp.end < w.start + timedelta(days=366)
    due = d.due_month_end(day, ())
    assert due is not None and due < day.replace(day=1) and (due + timedelta(days=1)).day == 1
    assert d.due_month_end(day, (due,)) is None  # published already: nothing is due


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots(), snapshots(), st.dates(FY_START, date(2026, 3, 31)),
       st.dates(FY_START, date(2026, 3, 31)))
def test_a_published_report_is_corrected_once_and_only_when_its_figures_change(
    before, after, as_of, later
):
    pub = d.plan_publication(before, as_of)
    published = d.Published(pub.report_id, as_of, d.figures_sha256(pub.report))
    # The same facts: nothing to correct.
    assert d.plan_publication(replace(before, published=(published,)), later).corrects == ()
    # Other facts: corrected exactly when the figures as of that day differ now.
    now = d.figures_sha256(d.compute_report(after, as_of))
    changed = now != published.figures_sha256
    nxt = d.plan_publication(replace(after, published=(published,)), later)
    assert nxt.corrects == ((pub.report_id,) if changed else ())
    assert [c["figures_sha256"] for c in nxt.report["corrections"]] == ([now] if changed else [])
    # Once a report published that correction, it is not made again.
    done = replace(after, published=(published,), corrections=frozenset({(pub.report_id, now)}))
    assert d.plan_publication(done, later).corrects == ()
