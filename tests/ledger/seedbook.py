"""A city's ledger (台帳) whose fiscal-year report is seed 004's three tables, as of
2025-11-30 with 2024-11-30 in parentheses; and the agency directory it needs.

The shipped sample ``docs/examples/ledger-sample.xlsx`` (and its CSV form) is this ledger;
``python -m tests.ledger.seedbook docs/examples`` writes it again. Every counted person is
a row of 相談者 with the uses of the program that make them served in the current year, the
prior one or both (enrolled before the prior fiscal year and still served, re-enrolled,
ended on the window's first day, started on D itself …), by birth date or by 年代 only.
Linked agencies are the coordinator, the referring 包括, the meetings' attendees and the
plans' roles (three agencies in every set) plus the 連携機関 rows; plans are approved at
monthly 重層的支援会議; a few 支援会議 discuss cases without consent.
"""

from __future__ import annotations

import csv
import io
import random
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from contracts.common import AGE_BAND_LABELS_JA, AGENCY_CATEGORIES, AgeBand, Program, Sex
from tests.stats import seed004
from tsunagu.ledger import sheets as s
from tsunagu.ledger.template import to_csv, write_xlsx

D = date(2025, 11, 30)
W = (date(2025, 4, 1), D)
WP = (date(2024, 4, 1), date(2024, 11, 30))
COORDINATOR, REFERRER, ATTENDEE = "shakyo", "houkatsu-1", "city-fukushi"
CORE = {COORDINATOR: "社会福祉協議会", ATTENDEE: "その他行政の担当部署",
        REFERRER: "地域包括支援センター"}
POOL = [f"ag{i:03d}" for i in range(230)]
BAND_AGES = {
    AgeBand.under_20: (5, 19), AgeBand.twenties: (20, 29), AgeBand.thirties: (30, 39),
    AgeBand.forties: (40, 49), AgeBand.fifties: (50, 59), AgeBand.sixty_to_64: (60, 64),
    AgeBand.over_65: (65, 95),
}
SEX_WORDS = {Sex.male: "男性", Sex.female: "女性", Sex.unknown: "不明"}
FIRST_START, LAST_START = date(2022, 4, 1), D


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


@dataclass
class Case:
    key: str
    program: Program
    uses: list[tuple[date, date | None]]
    person: bool = True

    @property
    def opened(self) -> date:
        return self.uses[0][0]

    def served(self, w: tuple[date, date]) -> bool:
        return any(start <= w[1] and (end is None or end >= w[0]) for start, end in self.uses)

    def open_through(self, first: date, last: date) -> bool:
        return any(start <= first and (end is None or end >= last) for start, end in self.uses)


@dataclass
class Book:
    rng: random.Random
    rows: dict[str, list[list[Any]]] = field(default_factory=lambda: {x.name: [] for x in
                                                                        s.SHEETS})
    cases: list[Case] = field(default_factory=list)
    n: int = 0

    def day(self, start: date, end: date) -> date:
        return start + timedelta(days=self.rng.randrange((end - start).days + 1))

    def birth(self, band: AgeBand) -> date:
        lo, hi = BAND_AGES[band]
        return self.day(years_before(LAST_START, hi + 1) + timedelta(days=1),
                        years_before(FIRST_START, lo))

    def periods(self, kind: str, i: int) -> list[tuple[date, date | None]]:
        r = self.day
        variants: dict[str, list[list[tuple[date, date | None]]]] = {
            "cur": [[(r(*W), None)], [(r(W[0], date(2025, 8, 31)), r(date(2025, 9, 1), D))],
                    [(r(date(2024, 12, 1), date(2025, 3, 31)), None)], [(D, None)]],
            "prior": [[(r(*WP), r(date(2024, 12, 1), date(2025, 3, 31)))],
                      [(r(date(2023, 4, 1), date(2024, 3, 1)), r(date(2024, 6, 1), WP[1]))],
                      [(r(date(2024, 4, 1), date(2024, 9, 30)), date(2025, 3, 31))],
                      [(r(date(2023, 4, 1), date(2024, 3, 1)), WP[0])]],
            "both": [[(r(FIRST_START, date(2024, 3, 31)), None)], [(r(*WP), None)],
                     [(r(*WP), r(date(2025, 4, 1), D))],
                     [(r(WP[0], date(2024, 9, 1)), date(2024, 12, 20)),
                      (r(date(2025, 4, 10), date(2025, 9, 1)), None)]],
        }
        options = variants[kind]
        return options[i % len(options)]

    def person(self, program: Program, band: AgeBand, sex: Sex, kind: str, i: int) -> None:
        self.n += 1
        key = f"S-{self.n:04d}"
        uses = self.periods(kind, i)
        self.cases.append(Case(key, program, uses))
        birth = self.birth(band) if band is not AgeBand.unknown and i % 3 != 1 else None
        written_band = AGE_BAND_LABELS_JA[band] if birth is None and band != AgeBand.unknown \
            else None
        referrer = REFERRER if program is Program.multi_agency else None
        self.rows[s.PERSONS.name].append([
            key, "本人", None, COORDINATOR, referrer, f"相談者{self.n}", SEX_WORDS[sex], birth,
            written_band, *(("生活に関する相談", "収入") if referrer else (None, None)),
            None, None, None, None, None, None, None,
        ])
        self.add_uses(key, program, uses)

    def agency_subject(self, agency: str, kind: str, i: int) -> None:
        self.n += 1
        key = f"S-{self.n:04d}"
        uses = self.periods(kind, i)
        self.cases.append(Case(key, Program.participation, uses, person=False))
        self.rows[s.PERSONS.name].append([key, "関係機関", agency, COORDINATOR] + [None] * 14)
        self.add_uses(key, Program.participation, uses)

    def add_uses(self, key: str, program: Program, uses: list[tuple[date, date | None]]
                 ) -> None:
        for start, end in uses:
            self.rows[s.USES.name].append([key, s.PROGRAM_WORDS[program], start, end,
                                           "終結" if end else None])


def slots(program: Program) -> list[tuple[AgeBand, Sex, str]]:
    out = []
    for (band, sex), (cur, prior) in seed004.PERSONS[program].items():
        both = min(cur, prior) // 2
        out += [(band, sex, "both")] * both + [(band, sex, "cur")] * (cur - both)
        out += [(band, sex, "prior")] * (prior - both)
    return out


def monthly(w: tuple[date, date]) -> list[date]:
    """The 15th of May … November: a 重層的支援会議 each month (drafts a week earlier stay
    in the window)."""
    return [date(w[0].year, month, 15) for month in range(5, 12)]


@dataclass
class Truth:
    linked: dict[Program, tuple[set[str], set[str]]] = field(default_factory=dict)
    categories: dict[str, str] = field(default_factory=dict)


class Planner:
    def __init__(self, book: Book) -> None:
        self.book = book
        self.persons = {row[0]: row for row in book.rows[s.PERSONS.name]}
        self.meetings: dict[date, list[str]] = {}
        self.joined: set[tuple[str, str]] = set()

    def consent(self, case: Case, given: bool) -> None:
        row = self.persons[case.key]
        if row[12] is None:
            row[11], row[12] = case.opened, "あり" if given else "なし"
        if given:
            row[10] = row[10] or "収入"
            row[13], row[14], row[15], row[16] = case.opened, "単身", "関係機関", "中"

    def plans(self, program: Program, w: tuple[date, date], count: int) -> None:
        rng, used = self.book.rng, set()
        for _ in range(count):
            for _attempt in range(1000):
                case = rng.choice([c for c in self.book.cases if c.person
                                   and c.program is program and c.key not in used])
                options = [m for m in monthly(w) if case.opened <= m - timedelta(days=7)
                           and case.open_through(m - timedelta(days=7), m)]
                if options:
                    break
            else:
                raise RuntimeError(f"no case for a {program} plan in {w}")
            held = rng.choice(options)
            used.add(case.key)
            self.consent(case, True)
            self.meetings.setdefault(held, [])
            self.book.rows[s.PLANS.name].append([
                case.key, s.PROGRAM_WORDS[program], held - timedelta(days=7), held,
                f"M-{held:%Y%m}", f"{COORDINATOR}、{REFERRER}", "地域での生活の安定",
                "関係機関で見守る",
            ])

    def confidential(self) -> None:
        for n, held in enumerate([date(2024, 7, 20), date(2024, 10, 20), date(2025, 6, 20),
                                  date(2025, 9, 20)], start=1):
            cases = [c for c in self.book.cases if c.person and c.served((held, held))]
            tabled = self.book.rng.sample(cases, 2)
            for case in tabled:
                self.consent(case, False)
            self.book.rows[s.MEETINGS.name].append([
                f"C-{n:02d}", "支援会議", held, COORDINATOR, f"{COORDINATOR}、{ATTENDEE}",
                "、".join(c.key for c in tabled)])

    def support_plan_meetings(self) -> None:
        for held in sorted(self.meetings):
            self.book.rows[s.MEETINGS.name].append([
                f"M-{held:%Y%m}", "重層的支援会議", held, COORDINATOR,
                f"{COORDINATOR}、{ATTENDEE}", None])

    def links(self, program: Program, w: tuple[date, date], count: int) -> set[str]:
        rng = self.book.rng
        agencies = rng.sample(POOL, count)
        cases = [c for c in self.book.cases if c.program is program and c.served(w)]
        for agency in agencies:
            case = rng.choice([c for c in cases if (c.key, agency) not in self.joined])
            self.joined.add((case.key, agency))
            on = self.book.day(max(case.opened, w[0]), w[1])
            self.book.rows[s.LINKS.name].append([case.key, agency, on, "招待"])
        return set(agencies) | set(CORE)


def build(seed: int = 4) -> tuple[Book, Truth]:
    book = Book(random.Random(seed))
    for program in Program:
        people = slots(program)
        book.rng.shuffle(people)
        for i, (band, sex, kind) in enumerate(people):
            book.person(program, band, sex, kind, i)
    cur, prior = seed004.AGENCY_SUBJECTS[Program.participation]
    kinds = ["both"] * 10 + ["cur"] * (cur - 10) + ["prior"] * (prior - 10)
    for i, kind in enumerate(kinds):
        book.agency_subject(POOL[100 + i], kind, i)
    planner, truth = Planner(book), Truth()
    for program in Program:
        n_cur, n_prior = seed004.PLANS[program]
        planner.plans(program, W, n_cur)
        planner.plans(program, WP, n_prior)
    planner.support_plan_meetings()
    planner.confidential()
    for program in Program:
        n_cur, n_prior = seed004.LINKED[program]
        truth.linked[program] = (planner.links(program, W, n_cur - len(CORE)),
                                 planner.links(program, WP, n_prior - len(CORE)))
    truth.categories = {**CORE, **{a: AGENCY_CATEGORIES[i % len(AGENCY_CATEGORIES)]
                                   for i, a in enumerate(POOL)}}
    return book, truth


def directory_csv(truth: Truth) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["機関ID", "機関名", "分類", "確認日", "振り分け"])
    for agency, category in truth.categories.items():
        coordinating = "可" if agency in (COORDINATOR, ATTENDEE) else ""
        writer.writerow([agency, f"機関 {agency}", category, "2025-04-01", coordinating])
    return buf.getvalue()


def write(out: Path) -> None:
    book, truth = build()
    write_xlsx(out / "ledger-sample.xlsx", book.rows)
    (out / "ledger-sample.csv").write_text(to_csv(book.rows), encoding="utf-8")
    (out / "ledger-directory.csv").write_text(directory_csv(truth), encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1]))
