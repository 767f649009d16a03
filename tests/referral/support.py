"""Payloads and small checks shared by the referral tests."""

from __future__ import annotations

import copy
import itertools
from typing import Any

from eventstore.service import Runtime
from tests.helpers import ask, eventually, send

_ids = itertools.count(1)


def cid(prefix: str = "c") -> str:
    return f"{prefix}-{next(_ids)}"


def sheet(**overrides: Any) -> dict[str, Any]:
    """A つなぐシート with the required core and a few optional fields."""
    body: dict[str, Any] = {
        "command_id": cid("sub"),
        "occurred_at": "2025-06-01T10:00:00+09:00",
        "contact_route": "phone",
        "concerns": ["income", "debt", "withdrawal"],
        "sex": "male",
        "personal": {
            "name": "山田 太郎",
            "kana": "ヤマダ タロウ",
            "birth_date": "1975-04-02",
            "phone": "090-1234-5678",
            "summary": "80代の母と同居。本人は長期ひきこもり、滞納あり。",
            "household": [{"relation": "母", "birth_date": "1942-01-05"}],
        },
    }
    for key, value in overrides.items():
        if key == "personal":
            body["personal"] = {**body["personal"], **value}
        else:
            body[key] = value
    return copy.deepcopy(body)


async def last_seq(nc, topology) -> int:
    info = await nc.jetstream().stream_info(topology.events_stream)
    return int(info.state.last_seq)


async def synced(rt: Runtime, nc, topology) -> None:
    """Wait until the referral projection has applied everything stored so far."""
    target = await last_seq(nc, topology)
    await rt.runners["referral"].wait_for(target)


async def submit(nc, topology, agency: str = "hokatsu-kita", **overrides: Any) -> dict:
    reply = await send(nc, topology, agency, "submit_referral", sheet(**overrides))
    assert reply["ok"], reply
    return reply


async def refused(nc, topology, agency: str, command: str, payload: dict, code: str,
                  fragment: str) -> dict:
    """Send, expect a refusal with ``code`` mentioning ``fragment``, and that nothing was
    appended to the event log."""
    before = await last_seq(nc, topology)
    reply = await send(nc, topology, agency, command, payload)
    assert reply["ok"] is False, reply
    assert reply["error"]["code"] == code, reply
    assert fragment in reply["error"]["message"], reply
    assert await last_seq(nc, topology) == before
    return reply


__all__ = ["ask", "eventually", "send"]


def no_abuse_spec(settings):
    """The referral service with abuse routing switched off (route_abuse = false)."""
    from services.referral.app import build_spec
    from services.referral.settings import ReferralSettings

    return build_spec(settings, ReferralSettings(route_abuse=False))


def json_out(output: str) -> Any:
    """The JSON a CLI command printed. The in-process service logs to the same stdout the
    CLI runner captures, so skip the log lines around it."""
    import json

    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(("{", "[")))
    end = max(i for i, line in enumerate(lines) if line.startswith(("}", "]")))
    return json.loads("\n".join(lines[start:end + 1]))
