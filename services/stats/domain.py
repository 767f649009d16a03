"""The statistics, pure: windows, 和暦, and the report over a snapshot of projection rows.

No I/O here. ``compute_report(snapshot, as_of)`` returns the documented JSON form
(services/stats/REPORT_FORMAT.md). Readings of DOMAIN.md "Statistics" where it is not
explicit are marked "Reading:" below.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from contracts.common import (
    AGE_BAND_LABELS_JA,
    PROGRAM_LABELS_JA,
    AgeBand,
    Program,
    Sex,
    age_band_for_age,
    age_on,
)
from eventstore.errors import InvalidInput

FORMAT = "tsunagu.stats.report/v1"
SEXES: tuple[Sex, ...] = (Sex.male, Sex.female, Sex.unknown)
SEX_LABELS_JA = {Sex.male: "男性", Sex.female: "女性", Sex.unknown: "性別不明"}
BANDS: tuple[AgeBand, ...] = tuple(AgeBand)
PROGRAMS: tuple[Program, ...] = tuple(Program)
#: Titles and plan labels as seed 004 prints them.
PROGRAM_TITLES_JA = {
    Program.multi_agency: "多機関協働事業実施状況",
    Program.outreach: "アウトリーチを通じた継続的事業実施状況",
    Program.participation: "参加支援実施状況",
}
PLAN_LABELS_JA = {
    Program.multi_agency: "多機関協働プラン作成件数",
    Program.outreach: "アウトリーチ等継続的支援プラン作成件数",
    Program.participation: "参加支援プラン作成件数",
}
UNCATEGORISED = "未分類"
MEETING_KINDS = ("support_plan", "confidential")
MEETING_LABELS_JA = {"support_plan": "重層的支援会議", "confidential": "支援会議"}


# ----- dates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    start: date
    end: date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


def fiscal_year_start(day: date) -> date:
    """1 April of the Japanese fiscal year that contains ``day``."""
    return date(day.year if day.month >= 4 else day.year - 1, 4, 1)


def window(as_of: date) -> Window:
    return Window(fiscal_year_start(as_of), as_of)


def one_year_earlier(day: date) -> date:
    """The same day a year before; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def prior_window(as_of: date) -> Window:
    return window(one_year_earlier(as_of))


_ERAS = ((date(2019, 5, 1), "令和", "R", 2018), (date(1989, 1, 8), "平成", "H", 1988))


def _era(day: date) -> tuple[str, str, int]:
    for start, name, letter, offset in _ERAS:
        if day >= start:
            return name, letter, day.year - offset
    raise ValueError(f"{day} is before 平成; 和暦 is not supported for it")


def wareki(day: date) -> str:
    """令和7年11月30日 (令和 N = 2018 + N; 元年 for the first year)."""
    name, _, year = _era(day)
    return f"{name}{'元' if year == 1 else year}年{day.month}月{day.day}日"


def wareki_short(day: date) -> str:
    """The seed's short form: R7.11."""
    _, letter, year = _era(day)
    return f"{letter}{year}.{day.month}"


def last_day_of_previous_month(today: date) -> date:
    return today.replace(day=1) - timedelta(days=1)


def due_month_end(today: date, published_as_of: Iterable[date]) -> date | None:
    """The month end whose report is due on ``today``: the last day of the previous month,
    unless a report as of that day was already published."""
    month_end = last_day_of_previous_month(today)
    return None if month_end in set(published_as_of) else month_end


# ----- the snapshot: projection rows, as plain values -----------------------------------


@dataclass(frozen=True, slots=True)
class PersonFact:
    """What one source (a referral, a case) says about a person. ``version`` orders facts
    by world time (occurred_at, then correction rank, then event id)."""

    person_id: str
    version: str
    sex: Sex = Sex.unknown
    age_band: AgeBand = AgeBand.unknown
    birth_date: date | None = None


@dataclass(frozen=True, slots=True)
class Enrollment:
    enrollment_id: str
    case_id: str
    program: Program
    started_on: date | None
    ended_on: date | None = None
    person_id: str | None = None
    agency_id: str | None = None


@dataclass(frozen=True, slots=True)
class Link:
    """An agency linked to a case on a day; ``program`` None = every program of the case."""

    case_id: str
    agency_id: str
    on: date
    program: Program | None = None


@dataclass(frozen=True, slots=True)
class Referral:
    referral_id: str
    referring_agency: str | None = None
    submitted_on: date | None = None
    triaged_by: str | None = None
    triaged_on: date | None = None
    case_id: str | None = None


@dataclass(frozen=True, slots=True)
class Meeting:
    meeting_id: str
    kind: str | None
    held_on: date | None


@dataclass(frozen=True, slots=True)
class Tabled:
    meeting_id: str
    case_id: str
    program: Program | None = None


@dataclass(frozen=True, slots=True)
class PlanApproval:
    plan_id: str
    version: int
    program: Program
    approved_on: date


@dataclass(frozen=True, slots=True)
class Published:
    report_id: str
    as_of: date
    figures_sha256: str


@dataclass(frozen=True)
class Snapshot:
    agencies: Mapping[str, str] = field(default_factory=dict)  # agency id -> category
    facts: tuple[PersonFact, ...] = ()
    erased_bands: Mapping[str, AgeBand] = field(default_factory=dict)  # enrollment -> 年代
    enrollments: tuple[Enrollment, ...] = ()
    links: tuple[Link, ...] = ()
    referrals: tuple[Referral, ...] = ()
    case_referrals: Mapping[str, str] = field(default_factory=dict)  # case -> referral
    meetings: tuple[Meeting, ...] = ()
    attendees: tuple[tuple[str, str], ...] = ()  # (meeting id, agency id), older meetings
    item_attendees: tuple[tuple[str, str, str], ...] = ()  # (meeting, case, agency) per item
    tabled: tuple[Tabled, ...] = ()
    approvals: tuple[PlanApproval, ...] = ()
    closures: tuple[tuple[str, date], ...] = ()  # (case id, closed_on)
    published: tuple[Published, ...] = ()
    corrections: frozenset[tuple[str, str]] = frozenset()  # (report id, figures sha256)


# ----- persons ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PersonView:
    sex: Sex
    age_band: AgeBand
    birth_date: date | None


def resolve_persons(facts: Iterable[PersonFact]) -> dict[str, PersonView]:
    """Per person, the newest known value of each field across all sources.

    Reading: a later source that does not know a field (sex 不明, no birth date) does not
    erase what an earlier one knew; a correction of the same referral replaces it (the
    projection keeps one fact per source)."""
    by_person: dict[str, list[PersonFact]] = defaultdict(list)
    for fact in facts:
        by_person[fact.person_id].append(fact)
    out: dict[str, PersonView] = {}
    for person_id, items in by_person.items():
        items.sort(key=lambda f: f.version, reverse=True)
        sex = next((f.sex for f in items if f.sex != Sex.unknown), Sex.unknown)
        band = next((f.age_band for f in items if f.age_band != AgeBand.unknown), AgeBand.unknown)
        birth = next((f.birth_date for f in items if f.birth_date is not None), None)
        out[person_id] = PersonView(sex, band, birth)
    return out


def band_of(
    enrollment: Enrollment, person: PersonView | None, erased: Mapping[str, AgeBand]
) -> AgeBand:
    """年代: kept at erasure, else from the age at the start of the enrollment, else the
    band recorded at referral, else 不明."""
    kept = erased.get(enrollment.enrollment_id)
    if kept is not None and kept != AgeBand.unknown:
        return kept
    if person is not None and person.birth_date is not None and enrollment.started_on:
        return age_band_for_age(age_on(person.birth_date, enrollment.started_on))
    if person is not None:
        return person.age_band
    return AgeBand.unknown


def served(enrollment: Enrollment, w: Window) -> bool:
    """Started on or before the window's end and not ended before it began."""
    return (
        enrollment.started_on is not None
        and enrollment.started_on <= w.end
        and (enrollment.ended_on is None or enrollment.ended_on >= w.start)
    )


@dataclass
class Persons:
    grid: dict[tuple[AgeBand, Sex], int]
    agencies: int

    @property
    def total(self) -> int:
        return sum(self.grid.values()) + self.agencies


def count_persons(
    enrollments: Iterable[Enrollment],
    persons: Mapping[str, PersonView],
    erased: Mapping[str, AgeBand],
    w: Window,
) -> Persons:
    """相談者数 (実数). Reading: a person with several enrollments in the window is placed
    by the earliest of them (by start, then id)."""
    first: dict[str, Enrollment] = {}
    agencies: set[str] = set()
    for e in enrollments:
        if not served(e, w):
            continue
        if e.person_id:
            current = first.get(e.person_id)
            if current is None or (e.started_on, e.enrollment_id) < (
                current.started_on, current.enrollment_id
            ):
                first[e.person_id] = e
        elif e.agency_id:
            agencies.add(e.agency_id)
    grid = {(b, s): 0 for b in BANDS for s in SEXES}
    for person_id, e in first.items():
        view = persons.get(person_id)
        sex = view.sex if view else Sex.unknown
        grid[(band_of(e, view, erased), sex)] += 1
    return Persons(grid, len(agencies))


# ----- linked agencies -------------------------------------------------------------------


def all_links(s: Snapshot) -> list[Link]:
    """Direct links, plus those implied by referrals (referred / received it) and by
    meetings (attended a meeting that discussed the case)."""
    links = list(s.links)
    by_referral = {r.referral_id: r for r in s.referrals}
    referral_cases: dict[str, set[str]] = defaultdict(set)
    for r in s.referrals:
        if r.case_id:
            referral_cases[r.referral_id].add(r.case_id)
    for case_id, referral_id in s.case_referrals.items():
        referral_cases[referral_id].add(case_id)
    for referral_id, cases in referral_cases.items():
        ref = by_referral.get(referral_id)
        if ref is None:
            continue
        for case_id in cases:
            if ref.referring_agency and ref.submitted_on:
                links.append(Link(case_id, ref.referring_agency, ref.submitted_on))
            if ref.triaged_by and ref.triaged_on:
                links.append(Link(case_id, ref.triaged_by, ref.triaged_on))
    held = {m.meeting_id: m.held_on for m in s.meetings if m.held_on is not None}
    attendees: dict[tuple[str, str], list[str]] = defaultdict(list)
    tabled_at: dict[str, set[str]] = defaultdict(set)
    for t in s.tabled:
        tabled_at[t.meeting_id].add(t.case_id)
    for meeting_id, agency_id in s.attendees:  # older meetings: every tabled case
        for case_id in tabled_at[meeting_id]:
            attendees[(meeting_id, case_id)].append(agency_id)
    for meeting_id, case_id, agency_id in s.item_attendees:  # attended for that item only
        attendees[(meeting_id, case_id)].append(agency_id)
    for t in s.tabled:
        on = held.get(t.meeting_id)
        if on is None:
            continue  # not (yet) held: nobody attended a discussion of the case
        for agency_id in attendees.get((t.meeting_id, t.case_id), ()):
            links.append(Link(t.case_id, agency_id, on, t.program))
    return links


def linked_agencies(
    links: Iterable[Link], enrollments: Iterable[Enrollment], program: Program, w: Window
) -> set[str]:
    """連携した機関数. Reading: the program's cases in W are the cases with an enrollment in
    the program served in W (the 相談者数 rule); a link counts when it is dated in W and is
    not specific to another program (a plan's roles count for the plan's program only)."""
    cases = {e.case_id for e in enrollments if e.program == program and served(e, w)}
    return {
        link.agency_id
        for link in links
        if link.case_id in cases
        and link.on in w
        and (link.program is None or link.program == program)
    }


# ----- plans, meetings, closures ---------------------------------------------------------


def first_approvals(approvals: Iterable[PlanApproval]) -> dict[str, PlanApproval]:
    """Each plan's first approval (earliest world date, then lowest version)."""
    first: dict[str, PlanApproval] = {}
    for a in approvals:
        cur = first.get(a.plan_id)
        if cur is None or (a.approved_on, a.version) < (cur.approved_on, cur.version):
            first[a.plan_id] = a
    return first


def count_plans(first: Mapping[str, PlanApproval], program: Program, w: Window) -> int:
    return sum(1 for a in first.values() if a.program == program and a.approved_on in w)


def count_meetings(meetings: Iterable[Meeting], kind: str, w: Window) -> int:
    return sum(1 for m in meetings if m.kind == kind and m.held_on in w)


def count_closed(closures: Iterable[tuple[str, date]], w: Window) -> int:
    """Distinct cases with a closure dated in W (a case closed, reopened and closed again
    in W counts once)."""
    return len({case_id for case_id, on in closures if on in w})


# ----- the report --------------------------------------------------------------------------


def _pair(current: int, prior: int) -> dict[str, int]:
    return {"current": current, "prior": prior}


def _window_json(as_of: date, w: Window) -> dict[str, str]:
    return {
        "as_of": as_of.isoformat(),
        "as_of_wareki": wareki(as_of),
        "short": wareki_short(as_of),
        "from": w.start.isoformat(),
        "to": w.end.isoformat(),
    }


@dataclass(frozen=True)
class Prepared:
    """What does not depend on the date: resolved persons, all links, first approvals."""

    snapshot: Snapshot
    persons: dict[str, PersonView]
    links: list[Link]
    first: dict[str, PlanApproval]
    enrollments: dict[Program, list[Enrollment]]


def prepare(s: Snapshot) -> Prepared:
    by_program: dict[Program, list[Enrollment]] = {p: [] for p in PROGRAMS}
    for e in s.enrollments:
        by_program[e.program].append(e)
    return Prepared(s, resolve_persons(s.facts), all_links(s), first_approvals(s.approvals),
                    by_program)


#: Reports start with 令和 (as the stats_report query says); before it the prior window's
#: 和暦 could fall before 平成, which is not supported.
REPORTS_FROM = date(2019, 5, 1)


def check_as_of(as_of: date) -> None:
    if as_of < REPORTS_FROM:
        raise InvalidInput(
            f"as_of {as_of} is before 令和 ({REPORTS_FROM}); reports start there",
            details={"field": "as_of", "rule": "min_date"},
        )


def compute_report(s: Snapshot | Prepared, as_of: date) -> dict[str, Any]:
    """The report as of ``as_of`` in its documented JSON form (without corrections)."""
    check_as_of(as_of)
    ready = s if isinstance(s, Prepared) else prepare(s)
    return _report(ready, as_of)


@dataclass(frozen=True)
class ProgramFigures:
    persons: Persons
    linked: frozenset[str]  # agency ids (連携した機関)
    plans: int


@dataclass(frozen=True)
class WindowFigures:
    """Every count of one window; the report pairs the current window's with the prior's.
    The pure path computes them from a snapshot, the query path from the projection's
    tables (services/stats/figures.py) — the equality guard holds the two together."""

    programs: Mapping[Program, ProgramFigures]
    meetings: Mapping[str, int]
    closed: int


def window_figures(ready: Prepared, w: Window) -> WindowFigures:
    s = ready.snapshot
    programs = {
        program: ProgramFigures(
            count_persons(ready.enrollments[program], ready.persons, s.erased_bands, w),
            frozenset(linked_agencies(ready.links, ready.enrollments[program], program, w)),
            count_plans(ready.first, program, w),
        )
        for program in PROGRAMS
    }
    meetings = {kind: count_meetings(s.meetings, kind, w) for kind in MEETING_KINDS}
    return WindowFigures(programs, meetings, count_closed(s.closures, w))


def _report(ready: Prepared, as_of: date) -> dict[str, Any]:
    figures = window_figures(ready, window(as_of)), window_figures(ready, prior_window(as_of))
    return assemble(as_of, ready.snapshot.agencies, *figures)


def assemble(
    as_of: date, categories: Mapping[str, str], now: WindowFigures, before: WindowFigures
) -> dict[str, Any]:
    """The report's JSON form from the figures of its two windows."""
    w, wp = window(as_of), prior_window(as_of)
    programs = []
    for program in PROGRAMS:
        fig, pfig = now.programs[program], before.programs[program]
        cur, pri = fig.persons, pfig.persons
        programs.append({
            "program": program.value,
            "label": PROGRAM_LABELS_JA[program],
            "title": PROGRAM_TITLES_JA[program],
            "persons": {
                "total": _pair(cur.total, pri.total),
                "grid": [
                    {
                        "age_band": band.value,
                        "label": AGE_BAND_LABELS_JA[band],
                        **{sex.value: _pair(cur.grid[band, sex], pri.grid[band, sex])
                           for sex in SEXES},
                    }
                    for band in BANDS
                ],
                "totals": {
                    sex.value: _pair(
                        sum(cur.grid[b, sex] for b in BANDS), sum(pri.grid[b, sex] for b in BANDS)
                    )
                    for sex in SEXES
                },
                "agencies": _pair(cur.agencies, pri.agencies),
            },
            "linked_agencies": {
                "total": _pair(len(fig.linked), len(pfig.linked)),
                "by_category": _by_category(categories, fig.linked, pfig.linked),
            },
            "plans": {"label": PLAN_LABELS_JA[program], **_pair(fig.plans, pfig.plans)},
        })
    return {
        "format": FORMAT,
        "as_of": as_of.isoformat(),
        "current": _window_json(as_of, w),
        "prior": _window_json(wp.end, wp),
        "programs": programs,
        "meetings": {
            kind: {"label": MEETING_LABELS_JA[kind],
                   **_pair(now.meetings[kind], before.meetings[kind])}
            for kind in MEETING_KINDS
        },
        "cases_closed": _pair(now.closed, before.closed),
    }


def _by_category(
    categories: Mapping[str, str], current: frozenset[str], prior: frozenset[str]
) -> list[dict[str, Any]]:
    cur: dict[str, int] = defaultdict(int)
    pri: dict[str, int] = defaultdict(int)
    for agency_id in current:
        cur[categories.get(agency_id, UNCATEGORISED)] += 1
    for agency_id in prior:
        pri[categories.get(agency_id, UNCATEGORISED)] += 1
    names = sorted(set(cur) | set(pri), key=lambda c: (-cur.get(c, 0), -pri.get(c, 0), c))
    return [{"category": c, **_pair(cur.get(c, 0), pri.get(c, 0))} for c in names]


# ----- publication and corrections -------------------------------------------------------

#: Keys of the report that are figures; the rest is metadata.
FIGURE_KEYS = ("format", "as_of", "programs", "meetings", "cases_closed")


def figures_sha256(report: Mapping[str, Any]) -> str:
    body = {k: report[k] for k in FIGURE_KEYS if k in report}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Publication:
    report_id: str
    as_of: date
    report: dict[str, Any]
    corrects: tuple[str, ...]


def plan_publication(s: Snapshot, as_of: date) -> Publication:
    """``publication_of`` over a snapshot of the whole projection."""
    ready = prepare(s)
    return publication_of(lambda day: compute_report(ready, day), as_of, s.published,
                          s.corrections)


def publication_of(
    report_of: Callable[[date], dict[str, Any]], as_of: date, published: Iterable[Published],
    corrections_published: frozenset[tuple[str, str]],
) -> Publication:
    """The report to publish as of ``as_of`` and the earlier reports it corrects: every
    published report whose figures, recomputed now, differ from what was published —
    unless a report already published that same correction."""
    report = report_of(as_of)
    recomputed: dict[date, str] = {}
    corrections = []
    for p in sorted(published, key=lambda p: (p.as_of, p.report_id)):
        if p.as_of not in recomputed:
            recomputed[p.as_of] = figures_sha256(report_of(p.as_of))
        now = recomputed[p.as_of]
        if now != p.figures_sha256 and (p.report_id, now) not in corrections_published:
            corrections.append(
                {"report_id": p.report_id, "as_of": p.as_of.isoformat(), "figures_sha256": now}
            )
    report["corrections"] = corrections
    digest = hashlib.sha256(
        (figures_sha256(report) + json.dumps(corrections, sort_keys=True)).encode()
    ).hexdigest()
    report_id = f"{as_of:%Y%m%d}-{digest[:12]}"
    report["report_id"] = report_id
    return Publication(report_id, as_of, report, tuple(c["report_id"] for c in corrections))
