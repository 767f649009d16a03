"""docs/INTEGRATING.md lists every error code a service can answer with, and the queries
the services serve: an integrator learns them from the guide, not by trial."""

from __future__ import annotations

import re
from pathlib import Path

from contracts.queries import QUERIES

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "docs" / "INTEGRATING.md").read_text(encoding="utf-8")
LOG_CALL = re.compile(r"\blog\.\w+\((?:[^()]|\([^()]*\))*\)")


def raised_codes() -> set[str]:
    codes: set[str] = set()
    for folder in ("services", "eventstore", "contracts"):
        for path in (ROOT / folder).rglob("*.py"):
            # Log lines carry codes too (structlog's ``code=``): those are not answers.
            text = LOG_CALL.sub("", path.read_text(encoding="utf-8"))
            codes |= set(re.findall(r'\bcode\s*=\s*"([a-z_]+)"', text))
            codes |= set(re.findall(r'"code":\s*"([a-z_]+)"', text))
            for literal in re.findall(r"code: Literal\[([^\]]+)\]", text):
                codes |= set(re.findall(r'"([a-z_]+)"', literal))
    return codes


def test_the_integration_guide_lists_every_error_code_the_services_answer_with():
    codes = raised_codes()
    assert {"invalid", "not_found", "command_id_reused", "in_future", "internal"} <= codes
    assert sorted(c for c in codes if f"`{c}`" not in GUIDE) == []


def test_the_integration_guide_names_every_query():
    assert sorted(q for q in QUERIES if f"`{q}`" not in GUIDE) == []
