"""The whole check of a ledger file, as ``--check`` runs it and as the import runs it first:
read, parse, the rules across sheets, and every planned command against its contract."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from contracts.catalog import command_types
from tsunagu.ledger.parse import parse
from tsunagu.ledger.planner import Step, plan_steps
from tsunagu.ledger.reader import read_file
from tsunagu.ledger.rows import Ledger, LedgerError
from tsunagu.ledger.sender import COLUMNS, resolve
from tsunagu.ledger.validate import validate


def check_payloads(steps: list[Step]) -> list[LedgerError]:
    """Each command as its contract would parse it (ids not yet known stand in as ``x``)."""
    types = command_types()
    errors = []
    for step in steps:
        payload = json.loads(json.dumps(resolve(step.payload, {}, default="x"), default=str))
        try:
            types[step.command].model_validate(payload)
        except ValidationError as exc:
            for e in exc.errors(include_url=False, include_input=False):
                loc = ".".join(str(p) for p in e["loc"])
                errors.append(LedgerError(step.sheet, step.row, COLUMNS.get(loc, ""),
                                          f"{step.command}.{loc}: {e['msg']}"))
    return errors


def load_ledger(path: Path) -> tuple[Ledger, list[Step], list[LedgerError]]:
    """The ledger, its steps, and every error found (steps are empty when there are any)."""
    tables, errors = read_file(path)
    ledger, more = parse(tables)
    errors += more
    if errors:
        return ledger, [], errors
    errors = validate(ledger)
    if errors:
        return ledger, [], errors
    steps = plan_steps(ledger)
    errors = check_payloads(steps)
    return ledger, ([] if errors else steps), errors
