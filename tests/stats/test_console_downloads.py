"""The console's statistics page: it opens on the latest fiscal year that has data, and offers
the report as xlsx (numeric cells) and CSV (UTF-8 with BOM), made by the same renderers as
`tsunagu report` — over the console's HTTP app, on a small ledger brought in through
``tsunagu ledger import`` (commands and deciders), read back against the ledger's own figures
and cell for cell against the stats service's reply."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import date

import httpx
from openpyxl import load_workbook

from contracts.jst import today_jst
from services.referral.directory_import import import_directory
from services.stats.render import to_csv
from tests.helpers import ask
from tests.ledger import small
from tests.ledger.test_import import SERVICES, cli_for, settle
from tests.ops.conftest import console  # noqa: F401  (the in-process console fixture)
from tsunagu.ops.stats_page import default_as_of

AS_OF = "2025-11-30"


def test_the_stats_page_opens_on_the_last_day_of_the_latest_fiscal_year_with_data():
    assert default_as_of("2025-11-28", date(2026, 12, 6)) == date(2026, 3, 31)
    assert default_as_of("2026-03-31", date(2026, 4, 1)) == date(2026, 3, 31)
    assert default_as_of("2026-04-01", date(2026, 12, 6)) == date(2026, 12, 6)
    assert default_as_of(None, date(2026, 12, 6)) == date(2026, 12, 6)


def figures(text: str) -> dict[tuple[str, str, str, str], tuple[int, int]]:
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    return {(r["事業"], r["項目"], r["行"], r["列"]): (int(r["今年度"]), int(r["前年度"]))
            for r in rows}


async def test_the_console_offers_the_report_as_xlsx_and_bom_csv_and_opens_on_the_data_year(
    nc, topology, services, settings, tmp_path, console  # noqa: F811
):
    directory = await import_directory(nc, topology, "d.csv", small.directory_csv().encode(),
                                       today=date(2025, 11, 30))
    assert directory.ok, directory.errors
    runtimes = await services(*SERVICES)
    cli = cli_for(settings, topology.prefix, tmp_path)
    imported = await asyncio.to_thread(cli, "ledger", "import",
                                       str(small.write(tmp_path / "l.xlsx")), "--json")
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout)["error"] is None
    await settle(nc, topology, runtimes)
    reply = await ask(nc, topology, "shakyo", "stats_report", {"as_of": AS_OF})
    assert reply["ok"], reply

    url = await console()
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        page = (await http.get("/stats")).text
        csv_file = await http.get(f"/stats/report.csv?as_of={AS_OF}")
        xlsx_file = await http.get(f"/stats/report.xlsx?as_of={AS_OF}")
        missing = await http.get("/stats/report.csv")
        other = await http.get(f"/stats/report.pdf?as_of={AS_OF}")

    # The ledger's facts are in FY2025 (令和7年度): the page opens on its last day, not today.
    opened = date(2026, 3, 31) if today_jst() > date(2026, 3, 31) else today_jst()
    assert f'name="as_of" value="{opened.isoformat()}"' in page
    assert f'href="/stats/report.xlsx?as_of={opened.isoformat()}"' in page
    assert f'href="/stats/report.csv?as_of={opened.isoformat()}"' in page

    assert csv_file.status_code == 200
    assert csv_file.content.startswith(b"\xef\xbb\xbf")  # Excel in Japan reads it as UTF-8
    assert "attachment" in csv_file.headers["content-disposition"]
    got = figures(csv_file.content.decode("utf-8-sig"))
    assert got == figures(to_csv(reply["result"]))
    # The ledger's own figures: A-1 in 多機関協働 with one plan, A-2 and the agency A-3 in
    # 参加支援, one 重層的支援会議 and one 支援会議, A-2's outreach ended (not a closed case).
    assert got["多機関協働事業", "相談者数", "合計", ""] == (1, 0)
    assert got["参加支援事業", "相談者数", "合計", "関係機関"] == (1, 0)
    assert got["", "会議の開催", "重層的支援会議", ""] == (1, 0)
    assert got["", "会議の開催", "支援会議", ""] == (1, 0)

    assert xlsx_file.status_code == 200
    assert f'filename="tsunagu-report-{AS_OF}.xlsx"' in xlsx_file.headers["content-disposition"]
    book = load_workbook(io.BytesIO(xlsx_file.content))
    data = list(book.worksheets[-1].iter_rows(values_only=True))
    assert all(isinstance(v, int) for row in data[1:] for v in row[-2:])  # numbers, not text
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(
        [["" if v is None else v for v in row] for row in data])
    assert figures(buf.getvalue()) == got

    assert missing.status_code == 400 and "as_of" in missing.text
    assert other.status_code == 404
