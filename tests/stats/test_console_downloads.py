"""The console's statistics page: it opens on the latest fiscal year that has data, and offers
the report as xlsx (numeric cells) and CSV (UTF-8 with BOM), made by the same renderers as
`tsunagu report` — read back cell for cell against seed 004, over the console's HTTP app."""

from __future__ import annotations

import io
from datetime import date

import httpx
from openpyxl import load_workbook

from contracts.jst import today_jst
from tests.ops.conftest import console  # noqa: F401  (the in-process console fixture)
from tests.stats.checks import check_csv, check_xlsx
from tests.stats.test_seed_report import seed_report
from tsunagu.ops.stats_page import default_as_of


def test_the_stats_page_opens_on_the_last_day_of_the_latest_fiscal_year_with_data():
    assert default_as_of("2025-11-28", date(2026, 12, 6)) == date(2026, 3, 31)
    assert default_as_of("2026-03-31", date(2026, 4, 1)) == date(2026, 3, 31)
    assert default_as_of("2026-04-01", date(2026, 12, 6)) == date(2026, 12, 6)
    assert default_as_of(None, date(2026, 12, 6)) == date(2026, 12, 6)


async def test_the_console_offers_the_report_as_xlsx_and_bom_csv_and_opens_on_the_data_year(
    nc, topology, services, service_db, console  # noqa: F811
):
    _, truth, _ = await seed_report(nc, topology, services, shuffle=False)
    url = await console()
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        page = (await http.get("/stats")).text
        csv_file = await http.get("/stats/report.csv?as_of=2025-11-30")
        xlsx_file = await http.get("/stats/report.xlsx?as_of=2025-11-30")
        missing = await http.get("/stats/report.csv")
        other = await http.get("/stats/report.pdf?as_of=2025-11-30")

    # The seed's facts end in FY2025 (令和7年度): the page opens on its last day, not today.
    opened = date(2026, 3, 31) if today_jst() > date(2026, 3, 31) else today_jst()
    assert f'name="as_of" value="{opened.isoformat()}"' in page
    assert f'href="/stats/report.xlsx?as_of={opened.isoformat()}"' in page
    assert f'href="/stats/report.csv?as_of={opened.isoformat()}"' in page

    assert csv_file.status_code == 200
    assert csv_file.content.startswith(b"\xef\xbb\xbf")  # Excel in Japan reads it as UTF-8
    assert "attachment" in csv_file.headers["content-disposition"]
    check_csv(csv_file.content.decode("utf-8-sig"), truth)

    assert xlsx_file.status_code == 200
    assert 'filename="tsunagu-report-2025-11-30.xlsx"' in xlsx_file.headers["content-disposition"]
    check_xlsx(xlsx_file.content, truth)
    sheet = load_workbook(io.BytesIO(xlsx_file.content)).worksheets[0]
    numbers = [v for row in sheet.iter_rows(values_only=True) for v in row
               if isinstance(v, int)]
    assert numbers and not any(isinstance(v, str) and "(" in v and v[0].isdigit()
                               for row in sheet.iter_rows(values_only=True) for v in row)

    assert missing.status_code == 400 and "as_of" in missing.text
    assert other.status_code == 404
