"""`tsunagu report` against the running stats service, in every format."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import date

from openpyxl import load_workbook
from typer.testing import CliRunner

from tests.stats.small import enrolled_person, start_intake
from tsunagu.cli import build


async def run_cli(settings, *args: str):
    runner = CliRunner()
    env = {"TSUNAGU_PREFIX": settings.prefix, "TSUNAGU_NATS_URL": settings.nats_url}
    # The CLI runs its own event loop: give it a thread.
    return await asyncio.to_thread(runner.invoke, build(), ["report", *args], env=env)


async def test_the_report_command_prints_and_writes_every_format(
    nc, topology, store, services, settings, tmp_path
):
    runtime = (await services("stats"))["stats"]
    await start_intake(services, store)
    one = await enrolled_person(store, 1, date(2025, 6, 1), birth=date(1970, 1, 1))
    await runtime.runners["stats"].wait_for(one.seq)
    day = ["--as-of", "2025-11-30"]

    table = await run_cli(settings, *day)
    assert table.exit_code == 0, table.output
    assert "多機関協働事業実施状況" in table.output and "1. 相談者数 1名 (0名)" in table.output

    as_json = await run_cli(settings, *day, "--format", "json")
    assert json.loads(as_json.stdout)["current"]["as_of_wareki"] == "令和7年11月30日"

    as_csv = await run_cli(settings, *day, "--format", "csv")
    # Excel needs the BOM to read UTF-8; the row keys are the seed's labels, not codes.
    assert as_csv.stdout_bytes.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout_bytes.decode("utf-8-sig"))))
    (fifties,) = [r for r in rows if r["事業"] == "多機関協働事業" and r["行"] == "50代"
                  and r["列"] == "女性"]
    assert (fifties["今年度"], fifties["前年度"]) == ("1", "0")
    sjis = await run_cli(settings, *day, "--format", "csv", "--encoding", "cp932")
    assert sjis.exit_code == 0, sjis.output
    assert sjis.stdout_bytes.decode("cp932") == as_csv.stdout_bytes.decode("utf-8-sig")

    as_md = await run_cli(settings, *day, "--format", "md")
    assert "| 50代 | 0 (0) | 1 (0) | 0 (0) |" in as_md.stdout

    out, chart = tmp_path / "r.xlsx", tmp_path / "r.png"
    written = await run_cli(settings, *day, "--format", "xlsx", "--out", str(out),
                            "--chart", str(chart))
    assert written.exit_code == 0, written.output
    assert load_workbook(out).sheetnames == [
        "多機関協働事業", "アウトリーチ等を通じた継続的支援事業", "参加支援事業", "データ"]
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    published = await run_cli(settings, *day, "--publish", "--agency", "shakyo", "--format", "json")
    assert published.exit_code == 0, published.output
    assert "published report 20251130-" in published.stderr


async def test_the_report_command_explains_bad_options(settings):
    no_out = await run_cli(settings, "--as-of", "2025-11-30", "--format", "xlsx")
    assert no_out.exit_code == 2 and "--out" in no_out.output
    bad_encoding = await run_cli(settings, "--format", "csv", "--encoding", "latin-1")
    assert bad_encoding.exit_code == 2 and "cp932" in bad_encoding.output
    bad_day = await run_cli(settings, "--as-of", "2025/11/30")
    assert bad_day.exit_code == 2 and "--as-of" in bad_day.output
    no_agency = await run_cli(settings, "--as-of", "2025-11-30", "--publish")
    assert no_agency.exit_code == 2 and "--agency" in no_agency.output
