"""End to end over a real nats-server with the four services: a fiscal year's ledger goes in
through ``tsunagu ledger import`` (commands, migration role, deciders) and ``tsunagu report``
for that year gives seed 004's three tables cell for cell, prior year included. Importing
the same file again changes nothing."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from contracts.common import AgeBand, Program, Sex
from services.referral.directory_import import import_directory
from tests.helpers import ask
from tests.ledger import seedbook, small
from tests.stats import seed004
from tsunagu.cli import build

SAMPLE = Path(__file__).parents[2] / "docs" / "examples"
SERVICES = ("referral", "casefile", "meeting", "stats")


def cli_for(settings: Any, prefix: str, tmp_path: Path):
    runner = CliRunner()
    base = ["--nats-url", settings.nats_url, "--data-dir", str(tmp_path)]

    def cli(*args: str) -> Any:
        return runner.invoke(build(), [*args, *base], env={"TSUNAGU_PREFIX": prefix})

    return cli


async def settle(nc: Any, topology: Any, runtimes: dict[str, Any]) -> int:
    """Wait until every projection and reactor has applied all it reads of the stream,
    including what the reactors appended meanwhile (plan approvals follow the meetings'
    decisions). Filtered consumers never see the last sequence, so each is asked how far it
    was delivered and that much is awaited as committed."""
    js = nc.jetstream()
    stream = topology.events_stream
    while True:
        last = (await js.stream_info(stream)).state.last_seq
        busy = False
        for rt in runtimes.values():
            for runner in rt.runners.values():
                info = await js.consumer_info(stream, runner.durable)
                busy = busy or bool(info.num_pending or info.num_ack_pending)
                await runner.wait_for(info.delivered.stream_seq or 0, timeout=120)
        if not busy and (await js.stream_info(stream)).state.last_seq == last:
            return int(last)
        await asyncio.sleep(0.2)


def check_tables(report: dict[str, Any], truth: seedbook.Truth) -> None:
    assert report["as_of"] == "2025-11-30" and report["prior"]["as_of"] == "2024-11-30"
    for p in report["programs"]:
        program = Program(p["program"])
        persons = p["persons"]
        assert tuple(persons["total"].values()) == seed004.TOTALS[program], program
        for row in persons["grid"]:
            for sex in (Sex.male, Sex.female, Sex.unknown):
                cell = (row[sex.value]["current"], row[sex.value]["prior"])
                assert cell == seed004.PERSONS[program][AgeBand(row["age_band"]), sex], (
                    program, row["age_band"], sex)
        for sex, pair in seed004.SEX_TOTALS[program].items():
            assert tuple(persons["totals"][sex.value].values()) == pair, (program, sex)
        agencies = persons["agencies"]
        assert (agencies["current"], agencies["prior"]) == seed004.AGENCY_SUBJECTS[program]
        linked = p["linked_agencies"]
        assert tuple(linked["total"].values()) == seed004.LINKED[program], program
        expected: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for i, agencies_in_window in enumerate(truth.linked[program]):
            for agency in agencies_in_window:
                expected[truth.categories[agency]][i] += 1
        got = {c["category"]: [c["current"], c["prior"]] for c in linked["by_category"]}
        assert got == dict(expected), program
        assert (p["plans"]["current"], p["plans"]["prior"]) == seed004.PLANS[program], program


@pytest.mark.timeout(1200)
async def test_a_years_ledger_imported_gives_seed_004s_three_tables_cell_for_cell(
    nc, topology, services, settings, tmp_path
):
    _, truth = seedbook.build()
    directory = await import_directory(nc, topology, "ledger-directory.csv",
                                       (SAMPLE / "ledger-directory.csv").read_bytes(),
                                       today=date(2025, 11, 30))
    assert directory.ok, directory.errors
    runtimes = await services(*SERVICES)
    cli = cli_for(settings, topology.prefix, tmp_path)

    first = await asyncio.to_thread(cli, "ledger", "import",
                                    str(SAMPLE / "ledger-sample.xlsx"), "--json")
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["error"] is None and summary["sent"] == summary["commands"]
    assert summary["created"] == summary["commands"] and summary["replayed"] == 0
    stored = await settle(nc, topology, runtimes)

    reply = await ask(nc, topology, "shakyo", "stats_report", {"as_of": "2025-11-30"})
    assert reply["ok"], reply
    check_tables(reply["result"], truth)
    table = await asyncio.to_thread(cli, "report", "--as-of", "2025-11-30")
    assert table.exit_code == 0, table.output
    assert "120名 (130名)" in table.stdout and "117件 (171件)" in table.stdout
    # Everything stored is history the rules allow.
    verified = await asyncio.to_thread(cli, "verify", "--json")
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["events"] == stored

    # The same file again (its CSV form): every reply replayed, nothing appended.
    again = await asyncio.to_thread(cli, "ledger", "import",
                                    str(SAMPLE / "ledger-sample.csv"), "--json")
    assert again.exit_code == 0, again.output
    summary = json.loads(again.stdout)
    assert summary["replayed"] == summary["commands"] and summary["created"] == 0
    assert await settle(nc, topology, runtimes) == stored


async def test_a_row_the_deciders_refuse_is_named_and_the_rows_before_it_stay(
    nc, topology, services, settings, tmp_path
):
    await import_directory(nc, topology, "d.csv", small.directory_csv().encode(),
                           today=date(2025, 11, 30))
    await services(*SERVICES)
    cli = cli_for(settings, topology.prefix, tmp_path)
    data = small.rows()
    data["連携機関"][0][1] = "not-listed"  # not in the directory: invite_case_member refuses
    path = small.write(tmp_path / "l.xlsx", data)
    result = await asyncio.to_thread(cli, "ledger", "import", str(path))
    assert result.exit_code == 1
    assert "連携機関 row 2 column 機関ID: invite_case_member refused" in result.stderr
    assert "not-listed" in result.stderr
    # Fixed and sent again: what was stored is replayed, the rest goes in.
    fixed = await asyncio.to_thread(cli, "ledger", "import",
                                    str(small.write(tmp_path / "ok.xlsx")), "--json")
    assert fixed.exit_code == 0, fixed.output
    summary = json.loads(fixed.stdout)
    assert summary["replayed"] > 0 and summary["created"] > 0
    assert summary["replayed"] + summary["created"] == summary["commands"]
    # A row changed after it went in is not silently ignored: its command id is taken.
    changed = small.rows()
    changed["事業の利用"][1][4] = "別の理由"  # A-2's outreach ended for another reason
    result = await asyncio.to_thread(cli, "ledger", "import",
                                     str(small.write(tmp_path / "changed.xlsx", changed)))
    assert result.exit_code == 1
    assert "事業の利用 row 3: end_enrollment refused (事業の利用 A-2 outreach 2025-05-01): " \
           "command_id_reused" in result.stderr
