"""Reading every cell back out of each output format and comparing it with seed 004."""

from __future__ import annotations

import csv
import io
import re

from openpyxl import load_workbook

from contracts.common import AGE_BAND_LABELS_JA, PROGRAM_LABELS_JA, Program, Sex
from services.stats.domain import MEETING_LABELS_JA, PLAN_LABELS_JA, PROGRAM_TITLES_JA
from services.stats.xlsx import DATA_SHEET
from tests.stats import seed004
from tests.stats.history import Truth, expected_categories

SEXES = (Sex.male, Sex.female, Sex.unknown)
PAIR = re.compile(r"(\d+)[名件回]? \((\d+)[名件回]?\)")


def pairs(text: str) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in PAIR.findall(text)]


def expected_rows(program: Program) -> dict[str, list[tuple[int, int]]]:
    """Band label -> the (current, prior) pairs of its row, as the seed prints them."""
    grid = seed004.PERSONS[program]
    rows = {AGE_BAND_LABELS_JA[band]: [grid[band, sex] for sex in SEXES] for band in seed004.BANDS}
    totals = [seed004.SEX_TOTALS[program][sex] for sex in SEXES]
    if program == Program.participation:
        totals.append(seed004.AGENCY_SUBJECTS[program])
    rows["合計"] = totals
    return rows


def check_json(report: dict, truth: Truth) -> None:
    assert report["as_of"] == seed004.AS_OF
    assert report["current"]["as_of_wareki"] == "令和7年11月30日"
    assert report["prior"]["as_of"] == seed004.PRIOR_AS_OF
    assert report["prior"]["as_of_wareki"] == "令和6年11月30日"
    assert [p["program"] for p in report["programs"]] == [p.value for p in Program]
    for p in report["programs"]:
        program = Program(p["program"])
        persons = p["persons"]
        assert tuple(persons["total"].values()) == seed004.TOTALS[program], program
        for row in persons["grid"]:
            for sex in SEXES:
                cell = seed004.PERSONS[program][row["age_band"], sex]
                assert (row[sex.value]["current"], row[sex.value]["prior"]) == cell, (
                    program, row["age_band"], sex)
        for sex in SEXES:
            got = persons["totals"][sex.value]
            assert (got["current"], got["prior"]) == seed004.SEX_TOTALS[program][sex]
        agencies = persons["agencies"]
        assert (agencies["current"], agencies["prior"]) == seed004.AGENCY_SUBJECTS[program]
        linked = p["linked_agencies"]
        assert (linked["total"]["current"], linked["total"]["prior"]) == seed004.LINKED[program]
        got_categories = {c["category"]: (c["current"], c["prior"]) for c in linked["by_category"]}
        assert got_categories == expected_categories(truth, program)
        assert (p["plans"]["current"], p["plans"]["prior"]) == seed004.PLANS[program], program
    for kind, (cur, prior) in truth.meetings.items():
        meetings = report["meetings"][kind]
        assert (meetings["current"], meetings["prior"]) == (cur, prior)
    closed = report["cases_closed"]
    assert (closed["current"], closed["prior"]) == tuple(truth.closed)


def check_table(text: str, truth: Truth) -> None:
    """The terminal table: each program's block, the grid row by row, the three headlines,
    each category line."""
    titles = [PROGRAM_TITLES_JA[p] for p in Program]
    starts = [text.index(t) for t in titles] + [len(text)]
    for i, program in enumerate(Program):
        block = text[starts[i]:starts[i + 1]]
        rows = expected_rows(program)
        seen = set()
        for line in block.splitlines():
            cells = [c.strip() for c in re.split(r"[│┃|]", line) if c.strip()]
            if cells and cells[0] in rows:
                assert pairs(" ".join(cells[1:])) == rows[cells[0]], (program, cells)
                if program == Program.participation and cells[0] != "合計":
                    assert cells[-1] == "-"
                seen.add(cells[0])
        assert seen == set(rows), program
        (persons,) = [pairs(line) for line in block.splitlines() if "1. 相談者数" in line]
        assert persons == [seed004.TOTALS[program]]
        (linked,) = [pairs(line) for line in block.splitlines() if "2. 連携した機関数" in line]
        assert linked == [seed004.LINKED[program]]
        (plans,) = [pairs(line) for line in block.splitlines() if line.startswith("3. ")]
        assert plans == [seed004.PLANS[program]]
        for category, pair in expected_categories(truth, program).items():
            (line,) = [ln for ln in block.splitlines() if ln.strip().startswith(category + " ")]
            assert pairs(line) == [pair], (program, category)
        assert "R7.11時点" in block and "R6.11実績" in block


def check_csv(text: str, truth: Truth) -> None:
    """The CSV (what Excel opens): labels as the seed prints them, numbers in their own
    columns, each figure once."""
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    figures = {(r["事業"], r["項目"], r["行"], r["列"]): (int(r["今年度"]), int(r["前年度"]))
               for r in rows}
    assert len(figures) == len(rows)
    sex = {Sex.male: "男性", Sex.female: "女性", Sex.unknown: "性別不明"}
    for program in Program:
        p = PROGRAM_LABELS_JA[program]
        assert figures[p, "相談者数", "合計", ""] == seed004.TOTALS[program]
        for (band, s), cell in seed004.PERSONS[program].items():
            assert figures[p, "相談者数", AGE_BAND_LABELS_JA[band], sex[s]] == cell, (p, band, s)
        for s in SEXES:
            assert figures[p, "相談者数", "合計", sex[s]] == seed004.SEX_TOTALS[program][s]
        assert figures[p, "相談者数", "合計", "関係機関"] == seed004.AGENCY_SUBJECTS[program]
        assert figures[p, "連携した機関数", "合計", ""] == seed004.LINKED[program]
        categories = {k[2]: v for k, v in figures.items()
                      if k[:2] == (p, "連携した機関数") and k[2] != "合計"}
        assert categories == expected_categories(truth, program)
        assert figures[p, PLAN_LABELS_JA[program], "合計", ""] == seed004.PLANS[program]
    for kind, (cur, prior) in truth.meetings.items():
        assert figures["", "会議の開催", MEETING_LABELS_JA[kind], ""] == (cur, prior)
    assert figures["", "終結したケース", "合計", ""] == tuple(truth.closed)


def _numeric_pairs(ws, label_col: int = 1) -> dict[str, tuple[int, int]]:
    """Label -> (今年度, 前年度) for every row whose two cells right of the label are numbers."""
    out = {}
    for row in ws.iter_rows(values_only=True):
        label, cur, prior = row[label_col - 1], *row[label_col:label_col + 2]
        if isinstance(label, str) and isinstance(cur, int) and isinstance(prior, int):
            out[label] = (cur, prior)
    return out


def check_xlsx(data: bytes, truth: Truth) -> None:
    """Every figure a number in its own cell (summable), current and prior side by side."""
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == [*(PROGRAM_LABELS_JA[p] for p in Program), DATA_SHEET]
    for program in Program:
        ws = wb[PROGRAM_LABELS_JA[program]]
        assert ws["A1"].value == PROGRAM_TITLES_JA[program]
        assert ws.print_area and ws.print_title_rows and ws.page_setup.orientation == "landscape"
        figures = _numeric_pairs(ws)
        assert figures["1. 相談者数（名）"] == seed004.TOTALS[program]
        assert figures["2. 連携した機関数（件）"] == seed004.LINKED[program]
        assert figures[f"3. {PLAN_LABELS_JA[program]}（件）"] == seed004.PLANS[program]
        grid = {row[0]: row[1:] for row in ws.iter_rows(values_only=True)
                if row[0] in expected_rows(program)}
        for label, pairs_ in expected_rows(program).items():
            cells = grid[label]
            got = [(cells[2 * i], cells[2 * i + 1]) for i in range(len(pairs_))]
            assert got == pairs_, (program, label, cells)
        categories = {k: v for k, v in figures.items() if k in truth.categories.values()}
        assert categories == expected_categories(truth, program)
        for kind, pair in truth.meetings.items():
            assert figures[f"{MEETING_LABELS_JA[kind]}の開催（回）"] == tuple(pair)
        assert figures["終結したケース（件）"] == tuple(truth.closed)
    data_rows = list(wb[DATA_SHEET].iter_rows(values_only=True))
    assert all(isinstance(v, int) for row in data_rows[1:] for v in row[-2:])
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerows([["" if v is None else v for v in row] for row in data_rows])
    check_csv(buf.getvalue(), truth)
