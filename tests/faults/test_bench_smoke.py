"""The benchmark suite still runs (``python -m bench --quick``), so its code does not rot.
Only that it runs and its numbers are consistent is checked here: no timed assertions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(120)


def test_the_quick_benchmark_runs_and_writes_its_results():
    before = set((ROOT / "bench" / "results").glob("*.json"))
    pg = os.environ.get("TSUNAGU_TEST_POSTGRES_URL", "")
    out = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "throughput,e2e,rebuild",
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
    assert any("p99" in n for n in names)
    rebuilds = [r for r in doc["results"] if r["name"].startswith("rebuild CaseBoard")]
    assert rebuilds and all(r["note"].endswith("all counted") for r in rebuilds)
    e2e = [r for r in doc["results"] if r["name"].startswith("commits seen")]
    assert e2e and all(r["value"] > 0 for r in e2e)
