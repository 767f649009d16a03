"""The benchmark suite still runs (``python -m bench --quick``), so its code does not rot.
Only that it runs and its numbers are consistent is checked here: no timed assertions."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.rebuild import real_projections

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(120)


def test_the_quick_benchmark_runs_and_writes_its_results():
    before = set((ROOT / "bench" / "results").glob("*.json"))
    pg = os.environ.get("TSUNAGU_TEST_POSTGRES_URL", "")
    out = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "throughput,rebuild",
         "--pg-url", pg],
        cwd=ROOT, capture_output=True, text=True, timeout=110,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    written = set((ROOT / "bench" / "results").glob("*.json")) - before
    assert len(written) == 1
    doc = json.loads(written.pop().read_text())
    names = {r["name"] for r in doc["results"]}
    assert any("Tsunagu append" in n for n in names)
    assert any("raw pull" in n for n in names)
    # A tiny rebuild of every real projection (and the kit-only CaseBoard) from the
    # realistic stream: each read every event of its aggregates, none dead-lettered.
    rebuilds = [r for r in doc["results"]
                if r["section"] == "rebuild" and r["name"].startswith("rebuild ")]
    dbs = {"SQLite", "PostgreSQL"} if pg else {"SQLite"}
    wanted = {(f"{service}/{p.name}", db) for service, p in real_projections() for db in dbs}
    assert {(f"{r['extra']['service']}/{r['extra']['projection']}", r["extra"]["db"])
            for r in rebuilds if r["extra"]["service"] != "kit"} == wanted
    assert any(r["extra"]["service"] == "kit" for r in rebuilds)
    for r in rebuilds:
        x = r["extra"]
        assert x["dead_letters"] == 0 and x["events_read"] == x["expected_read"], r
        # The realistic mix has no notification settings (an agency sets them once), so the
        # notifier's rebuild reads none; every other projection reads its aggregates' events.
        assert x["expected_read"] > 0 or x["service"] == "notifier", r
        assert x["checkpoint"] == x["stream_events"] and r["note"].endswith("all counted"), r
    dlq = [r for r in doc["results"] if r["name"].startswith("dead letters in the DLQ")]
    assert dlq and dlq[0]["value"] == 0


def test_the_end_to_end_benchmark_drives_the_four_services_without_an_error():
    """A tiny run of the real mix (persons through the program, meetings) at 50 commands/s:
    every command accepted, and every projection that reads its events committed them."""
    out = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "e2e", "--rates", "50",
         "--e2e-seconds", "3", "--e2e-warmup", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=110,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    path = re.search(r"^results: (\S+)", out.stdout, re.MULTILINE)
    assert path, out.stdout[-3000:]
    results = {r["name"]: r for r in json.loads(Path(path[1]).read_text())["results"]
               if r["section"] == "e2e@50/s"}
    sent = next(r for n, r in results.items() if "commands ok / sent" in n)
    assert sent["value"] > 0 and sent["extra"]["errors"] == {}, sent
    committed = results["commits seen for ok commands"]
    assert committed["value"] == sent["value"], committed
    assert results["command → all projections committed, p99"]["value"] > 0
    assert results["command → reply, p99"]["value"] > 0
    assert results["DecisionNotApplied"]["value"] == 0
    assert results["dead letters"]["value"] == 0
    assert results["forbidden events (tsunagu verify)"]["value"] == 0


def test_the_overload_benchmark_sheds_without_losing_or_half_applying_a_command():
    """A tiny burst at the four real services with one slot each and no queue: every
    accepted command is in the stream, no busy one left an event, and every busy one sent
    again as it was (same command_id) goes through."""
    out = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "overload",
         "--overload-rate", "300", "--overload-seconds", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=110,
        env={**os.environ, "TSUNAGU_COMMAND_SLOTS": "1", "TSUNAGU_COMMAND_QUEUE_MS": "0"},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    path = re.search(r"^results: (\S+)", out.stdout, re.MULTILINE)
    assert path, out.stdout[-3000:]
    results = {r["name"]: r for r in json.loads(Path(path[1]).read_text())["results"]
               if r["section"].startswith("overload")}
    sent = results["offered 300/s for 2 s: sent"]
    assert sent["value"] == 600 and set(sent["extra"]["codes"]) <= {"ok", "busy"}, sent
    assert results["accepted commands not in the stream"]["value"] == 0
    assert results["busy commands that left an event"]["value"] == 0
    retried = results["busy commands sent again (same command_id): ok"]
    assert retried["note"].startswith(f"of {int(retried['value'])} sent again"), retried
    assert results["busy replies"]["value"] == sent["extra"]["codes"].get("busy", 0)


def test_a_bench_district_is_the_demo_world_numbered_as_its_own():
    """bench/history.py reuses the demo's build loop (``DemoWorld.build``) with a district's
    own person and meeting numbers; only district 0 registers the city-wide directory."""
    from bench.history import PEOPLE, District

    seed, number = 11, 3
    district = District(seed, number).build()
    ids = {it.event.aggregate_id() for it in district}
    people = {int(i[5:]) for i in ids if i.startswith("case-") and i[5:].isdigit()}
    assert people and all(number * PEOPLE < n <= (number + 1) * PEOPLE for n in people)
    agencies = {int(i[8:]) for i in ids if i.startswith("case-pa-")}
    assert agencies and all(number * 100 < n <= (number + 1) * 100 for n in agencies)
    meetings = {i for i in ids if i.startswith("mtg-")}
    assert meetings and all(i.startswith((f"mtg-sp-d{number:03d}-", f"mtg-cf-d{number:03d}-"))
                            for i in meetings)
    assert "AgencyRegistered" not in {it.event.type for it in district}
    assert "AgencyRegistered" in {it.event.type for it in District(seed, 0).build()}
