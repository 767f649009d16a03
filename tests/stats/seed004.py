"""Seed 004's three tables (長野市, R7.11 with R6.11 in parentheses), as the test's truth."""

from __future__ import annotations

from contracts.common import AgeBand, Program, Sex

AS_OF = "2025-11-30"
PRIOR_AS_OF = "2024-11-30"

BANDS = list(AgeBand)
M, F, U = Sex.male, Sex.female, Sex.unknown


def _grid(rows: list[tuple[tuple[int, int], tuple[int, int], tuple[int, int]]]):
    """Rows in the seed's order (10代以下 … 不明), columns 男性, 女性, 性別不明:
    (current, prior) each."""
    return {
        (band, sex): cell
        for band, row in zip(BANDS, rows, strict=True)
        for sex, cell in zip((M, F, U), row, strict=True)
    }


PERSONS = {
    Program.multi_agency: _grid([
        ((0, 2), (1, 3), (0, 0)),
        ((4, 2), (2, 2), (0, 0)),
        ((5, 5), (5, 6), (0, 0)),
        ((5, 12), (4, 2), (0, 0)),
        ((21, 20), (12, 9), (0, 0)),
        ((5, 15), (3, 4), (0, 0)),
        ((23, 23), (23, 14), (0, 0)),
        ((4, 3), (3, 6), (0, 2)),
    ]),
    Program.outreach: _grid([
        ((0, 0), (1, 2), (0, 0)),
        ((2, 2), (4, 3), (0, 0)),
        ((5, 2), (4, 3), (0, 0)),
        ((4, 7), (5, 6), (0, 0)),
        ((7, 7), (4, 4), (0, 0)),
        ((2, 1), (4, 2), (0, 0)),
        ((26, 19), (10, 9), (0, 0)),
        ((2, 1), (3, 3), (0, 1)),
    ]),
    Program.participation: _grid([
        ((0, 0), (0, 1), (0, 1)),
        ((8, 5), (3, 0), (0, 0)),
        ((2, 3), (2, 2), (0, 0)),
        ((6, 9), (3, 3), (0, 0)),
        ((7, 8), (3, 6), (0, 0)),
        ((5, 3), (4, 1), (0, 0)),
        ((3, 4), (2, 1), (0, 0)),
        ((0, 2), (1, 0), (0, 0)),
    ]),
}
#: The 関係機関 column (参加支援 only).
AGENCY_SUBJECTS = {Program.multi_agency: (0, 0), Program.outreach: (0, 0),
                   Program.participation: (19, 51)}
TOTALS = {Program.multi_agency: (120, 130), Program.outreach: (83, 72),
          Program.participation: (68, 100)}
SEX_TOTALS = {
    Program.multi_agency: {M: (67, 82), F: (53, 46), U: (0, 2)},
    Program.outreach: {M: (48, 39), F: (35, 32), U: (0, 1)},
    Program.participation: {M: (31, 34), F: (18, 14), U: (0, 1)},
}
LINKED = {Program.multi_agency: (117, 171), Program.outreach: (137, 125),
          Program.participation: (86, 87)}
PLANS = {Program.multi_agency: (16, 13), Program.outreach: (9, 3),
         Program.participation: (6, 7)}
