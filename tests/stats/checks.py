"""Reading every cell back out of each output format and comparing it with seed 004."""

from __future__ import annotations

import csv
import io
import re

from openpyxl import load_workbook

from contracts.common import AGE_BAND_LABELS_JA, PROGRAM_LABELS_JA, Program, Sex
from services.stats.domain import PROGRAM_TITLES_JA
from services.stats.xlsx import GRID_TOP
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
    rows = list(csv.DictReader(io.StringIO(text)))
    figures = {(r["program"], r["measure"], r["row"], r["column"]): (int(r["current"]),
                                                                      int(r["prior"]))
               for r in rows}
    for program in Program:
        p = program.value
        assert figures[p, "persons", "total", ""] == seed004.TOTALS[program]
        for (band, sex), cell in seed004.PERSONS[program].items():
            assert figures[p, "persons", band.value, sex.value] == cell, (p, band, sex)
        for sex in SEXES:
            assert figures[p, "persons", "total", sex.value] == seed004.SEX_TOTALS[program][sex]
        assert figures[p, "persons", "total", "agency"] == seed004.AGENCY_SUBJECTS[program]
        assert figures[p, "linked_agencies", "total", ""] == seed004.LINKED[program]
        categories = {k[3]: v for k, v in figures.items()
                      if k[:3] == (p, "linked_agencies", "category")}
        assert categories == expected_categories(truth, program)
        assert figures[p, "plans", "total", ""] == seed004.PLANS[program]
    for kind, (cur, prior) in truth.meetings.items():
        assert figures["", "meetings", kind, ""] == (cur, prior)
    assert figures["", "cases_closed", "total", ""] == tuple(truth.closed)


def check_xlsx(data: bytes, truth: Truth) -> None:
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == [*(PROGRAM_LABELS_JA[p] for p in Program), "data"]
    for program in Program:
        ws = wb[PROGRAM_LABELS_JA[program]]
        assert ws["A1"].value == PROGRAM_TITLES_JA[program]
        assert pairs(ws["A2"].value) == [seed004.TOTALS[program]]
        header = [c.value for c in ws[GRID_TOP] if c.value]
        assert header[:4] == ["年代", "男性", "女性", "性別不明"]
        assert (header[4:] == ["関係機関"]) == (program == Program.participation)
        rows = expected_rows(program)
        for r in range(GRID_TOP + 1, GRID_TOP + 1 + len(rows)):
            cells = [c.value for c in ws[r] if c.value is not None]
            assert pairs(" ".join(cells[1:])) == rows[cells[0]], (program, cells)
        texts = [str(c.value) for row in ws.iter_rows() for c in row if c.value is not None]
        (linked,) = [t for t in texts if t.startswith("2. 連携した機関数")]
        assert pairs(linked) == [seed004.LINKED[program]]
        (plans,) = [t for t in texts if t.startswith("3. ")]
        assert pairs(plans) == [seed004.PLANS[program]]
        categories = {
            ws.cell(row=r, column=1).value: pairs(str(ws.cell(row=r, column=2).value))[0]
            for r in range(1, ws.max_row + 1)
            if ws.cell(row=r, column=1).value in truth.categories.values()
            and ws.cell(row=r, column=2).value
        }
        assert categories == expected_categories(truth, program)
    data_rows = list(wb["data"].iter_rows(values_only=True))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerows([["" if v is None else v for v in row] for row in data_rows])
    check_csv(buf.getvalue(), truth)
