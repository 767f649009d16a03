"""The agency directory: importing Japanese CSV/YAML files all-or-nothing, listing, staleness."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contracts.directory import AgencyRetired, AgencyUpdated
from services.referral import directory_file as df
from services.referral.directory_import import import_directory
from tests.helpers import retire_agency
from tests.referral.support import cid, json_out, last_seq, send, sheet, synced
from tsunagu.cli import build

DATA = Path(__file__).parent / "data"
TODAY = date(2025, 11, 1)
CATS = set(df.AGENCY_CATEGORIES)


@pytest.mark.parametrize("name", ["directory_cp932.csv", "directory_utf8_bom.csv"])
def test_a_japanese_excel_csv_in_either_encoding_parses_every_row(name):
    parsed = df.parse_file(name, (DATA / name).read_bytes(), (), TODAY)
    assert parsed.errors == []
    by_id = {e.agency_id: e for e in parsed.entries}
    assert len(by_id) == 8
    assert by_id["fukushi-sodan"].name == "福祉相談課" and by_id["fukushi-sodan"].can_triage
    assert by_id["hokatsu-kita"].verified_at == date(2025, 4, 1)  # 令和7年4月1日
    assert by_id["jiritsu-sodan"].verified_at == date(2025, 4, 1)  # R7.4.1
    assert by_id["minsei-12"].contact is None
    assert by_id["minsei-12"].category == "民生委員・児童委員"


def test_the_yaml_form_parses_with_japanese_or_english_keys():
    parsed = df.parse_file("d.yaml", (DATA / "directory.yaml").read_bytes(), (), TODAY)
    assert parsed.errors == []
    assert [e.agency_id for e in parsed.entries] == ["fukushi-sodan", "hospital-shimin"]
    assert parsed.entries[0].can_triage is True and parsed.entries[1].can_triage is None


def test_bad_rows_are_reported_by_line_with_the_reason():
    text = "\n".join([
        "機関ID,機関名,分類,確認日",
        "ok-1,良い機関,警察,2025/4/1",
        "bad id,名前,警察,2025/4/1",
        "ok-2,,警察,2025/4/1",
        "ok-3,機関,宇宙局,2025/4/1",
        "ok-4,機関,警察,昨日",
        "ok-5,機関,警察,2030/1/1",
        "ok-1,重複,警察,2025/4/1",
    ])
    parsed = df.parse_csv(text, CATS, TODAY)
    errors = [str(e) for e in parsed.errors]
    # A bad category names the list it must come from (every category, in seed order).
    (category_error,) = [e for e in errors if e.startswith("line 5: ")]
    assert category_error.startswith("line 5: 分類: '宇宙局' is not a category")
    assert all(c in category_error for c in CATS)
    parsed.errors = [e for e in parsed.errors if e.line != 5]
    assert [str(e) for e in parsed.errors] == [
        "line 3: 機関ID: 'bad id' is not a valid id (letters, digits, - and _, at most 64, "
        "no spaces or dots)",
        "line 4: 機関名: required",
        "line 6: 確認日: '昨日' is not a date (e.g. 2025-04-01, 2025/4/1, 令和7年4月1日)",
        "line 7: 確認日: 2030-01-01 is in the future",
        "line 8: 機関ID: 'ok-1' already appears on line 2",
    ]


def test_a_missing_column_and_an_undecodable_file_are_refused_as_a_whole():
    assert str(df.parse_csv("機関ID,機関名\nx,y", CATS, TODAY).errors[0]) == (
        "line 1: header: missing column(s): 分類, 確認日"
    )
    garbage = df.parse_file("x.csv", b"\x81\x00\xff\xfe\xfd", (), TODAY)
    assert garbage.errors[0].field == "encoding"


def test_configured_extra_categories_are_accepted():
    raw = "機関ID,機関名,分類,確認日\nx,こども食堂,こども食堂,2025-04-01\n".encode()
    assert df.parse_file("a.csv", raw, (), TODAY).errors
    assert df.parse_file("a.csv", raw, ("こども食堂",), TODAY).errors == []


async def test_an_import_registers_updates_and_retires_in_one_atomic_batch(nc, topology, store):
    raw = (DATA / "directory_cp932.csv").read_bytes()
    first = await import_directory(nc, topology, "d.csv", raw, today=TODAY)
    assert first.ok and first.applied and first.counts == {"AgencyRegistered": 8}
    again = await import_directory(nc, topology, "d.csv", raw, today=TODAY)
    assert again.ok and not again.applied and again.counts == {}  # re-import is a no-op

    changed = raw.decode("cp932").replace("026-000-4444", "026-000-9999")
    changed = "\r\n".join(li for li in changed.split("\r\n") if not li.startswith("hellowork"))
    before = await last_seq(nc, topology)
    third = await import_directory(nc, topology, "d.csv", changed.encode("cp932"), today=TODAY,
                                   retire_missing=True)
    assert third.counts == {"AgencyUpdated": 1, "AgencyRetired": 1}
    assert await last_seq(nc, topology) == before + 2
    assert isinstance((await store.load("agency", "shakyo")).envelopes[-1].event, AgencyUpdated)
    retired = (await store.load("agency", "hellowork")).envelopes[-1].event
    assert isinstance(retired, AgencyRetired)
    # The coordinator flag is kept when a later file has no 振り分け column.
    no_flag = ("機関ID,機関名,分類,確認日\n"
               "fukushi-sodan,福祉相談課（改称）,その他行政の担当部署,2025/4/1\n")
    await import_directory(nc, topology, "e.csv", no_flag.encode(), today=TODAY)
    updated = (await store.load("agency", "fukushi-sodan")).envelopes[-1].event
    assert isinstance(updated, AgencyUpdated) and updated.can_triage is True


async def test_a_file_with_one_bad_row_imports_nothing(nc, topology, store):
    good = (DATA / "directory_utf8_bom.csv").read_bytes().decode("utf-8-sig")
    bad = good + "broken,壊れた行,コワレタ,存在しない分類,,2025/4/1,\r\n"
    before = await last_seq(nc, topology)
    result = await import_directory(nc, topology, "d.csv", bad.encode("utf-8-sig"), today=TODAY)
    assert not result.ok and not result.applied
    (error,) = result.errors
    assert error.startswith("line 10: 分類: '存在しない分類' is not a category")
    assert "地域包括支援センター" in error
    assert await last_seq(nc, topology) == before
    assert (await store.load("agency", "fukushi-sodan")).events == []


async def test_the_imported_directory_bootstraps_commands_and_lists_stale_entries(
    nc, topology, services, settings, tmp_path
):
    runner = CliRunner()
    base = ["--nats-url", settings.nats_url, "--data-dir", str(tmp_path)]
    env = {"TSUNAGU_PREFIX": topology.prefix}

    def cli(*args: str):
        return runner.invoke(build(), [*args, *base], env=env)

    result = await asyncio.to_thread(cli, "directory", "import",
                                     str(DATA / "directory_cp932.csv"))
    assert result.exit_code == 0, result.output
    assert "8 entries read" in result.output

    rt = (await services("referral"))["referral"]
    # Agencies from the file may act at once: the directory needs no agency to exist first.
    reply = await send(nc, topology, "hokatsu-kita", "submit_referral", sheet())
    assert reply["ok"], reply
    ghost = await send(nc, topology, "not-listed", "submit_referral", sheet())
    assert ghost["error"]["code"] == "forbidden" and "not-listed" in ghost["error"]["message"]
    await synced(rt, nc, topology)

    listed = await asyncio.to_thread(cli, "directory", "list", "--json", "--as-of", "2025-11-01")
    assert listed.exit_code == 0, listed.output
    rows = {r["agency_id"]: r for r in json_out(listed.output)["agencies"]}
    assert len(rows) == 8 and rows["shakyo"]["stale"] is False
    stale = await asyncio.to_thread(cli, "directory", "list", "--stale", "--json",
                                    "--as-of", "2025-11-01")
    assert sorted(r["agency_id"] for r in json_out(stale.output)["agencies"]) == [
        "hellowork", "minsei-12",
    ]
    table = await asyncio.to_thread(cli, "directory", "list", "--as-of", "2025-11-01")
    assert "要確認" in table.output

    bad = tmp_path / "bad.csv"
    bad.write_text("機関ID,機関名,分類,確認日\nx y,名,警察,2025/4/1\n", encoding="utf-8")
    refused = await asyncio.to_thread(cli, "directory", "import", str(bad))
    assert refused.exit_code == 1 and "line 2" in refused.output
    assert "nothing was imported" in refused.output


async def test_a_retired_agency_can_no_longer_send_commands(referral_rt, nc, topology, store):
    await retire_agency(store, "hospital")
    before = await last_seq(nc, topology)
    reply = await send(nc, topology, "hospital", "submit_referral", sheet(command_id=cid()))
    assert reply["error"]["code"] == "forbidden" and "hospital" in reply["error"]["message"]
    assert reply["error"]["details"] == {"agency_id": "hospital"}
    assert await last_seq(nc, topology) == before
