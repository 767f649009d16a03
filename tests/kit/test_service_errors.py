"""An unexpected error in a handler or a query is answered with a code and an incident id,
never with the exception's text (which may quote personal data); the id is in the log with
the traceback, so an operator can find it (issue #14, finding 5)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from structlog.testing import capture_logs

from bench.toy import BenchClose
from eventstore.commands import Session
from eventstore.service import Runtime, ServiceSpec, build_app

pytestmark = pytest.mark.timeout(60)
SECRET = "山田太郎 1975-04-02"


async def failing_handler(session: Session, command: Any) -> list:
    raise RuntimeError(f"cannot decode {SECRET}")


async def failing_query(rt: Runtime, agency: str, args: dict[str, Any]) -> Any:
    raise KeyError(SECRET)


@pytest.fixture
async def failing_service(settings):
    spec = ServiceSpec(name="failing", commands={"bench_close": (BenchClose, failing_handler)},
                       queries={"explode": failing_query})
    app, runtime = build_app(spec, settings)
    async with app:
        yield runtime


@pytest.mark.parametrize("kind", ["command", "query"])
async def test_an_internal_error_replies_an_incident_id_and_never_the_exception_text(
    failing_service, nc, topology, kind
):
    if kind == "command":
        subject = topology.command_subject("hq", "bench_close")
        body = json.dumps({"command_id": "x", "case_id": "k", "reason": "r"}).encode()
    else:
        subject, body = f"{topology.prefix}.query.hq.explode", b"{}"
    with capture_logs() as logs:
        msg = await nc.request(subject, body, timeout=10)
    reply = json.loads(msg.data)
    assert reply["ok"] is False
    error = reply["error"]
    assert error["code"] == "internal" and error["message"] == "internal error"
    assert SECRET not in msg.data.decode() and "Error" not in msg.data.decode()
    incident = error["details"]["incident"]
    logged = [e for e in logs if e.get("incident") == incident]
    assert logged and logged[0]["log_level"] == "error" and logged[0].get("exc_info")
