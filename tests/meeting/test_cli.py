"""`tsunagu meetings --as AGENCY` against the running service."""

from __future__ import annotations

import asyncio
import json

from typer.testing import CliRunner

from tests.meeting.support import COORD, HOKATSU, OUTSIDER
from tsunagu.cli import build


def _cli(monkeypatch, settings, *args: str):
    monkeypatch.setenv("TSUNAGU_PREFIX", settings.prefix)
    monkeypatch.setenv("COLUMNS", "160")
    # asyncio.run inside the CLI needs a thread of its own (pytest's loop is running here).
    return asyncio.to_thread(
        CliRunner().invoke, build(), [*args, "--nats-url", settings.nats_url]
    )


async def test_an_agency_lists_the_meetings_it_is_invited_to(drv, settings, monkeypatch):
    meeting_id = await drv.schedule(members=(HOKATSU,), title="定例前の個別ケース会議")
    result = await _cli(monkeypatch, settings, "meetings", "--as", HOKATSU, "--json")
    assert result.exit_code == 0, result.output
    assert [m["meeting_id"] for m in json.loads(result.output)] == [meeting_id]

    table = await _cli(monkeypatch, settings, "meetings", "--as", HOKATSU)
    assert table.exit_code == 0 and meeting_id in table.output and "重層的支援会議" in table.output
    none = await _cli(monkeypatch, settings, "meetings", "--as", OUTSIDER)
    # Nothing ahead: say so, and how to see the past ones (the demo's meetings are past).
    assert none.exit_code == 0 and "今後の会議はありません" in none.output
    assert "--all" in none.output
    assert "予定" in table.output and "scheduled" not in table.output


async def test_a_refused_query_exits_non_zero_with_the_reason(drv, settings, monkeypatch):
    meeting_id = await drv.schedule(kind="confidential", members=(HOKATSU,))
    await drv.ok(COORD, "acknowledge_confidentiality", meeting_id=meeting_id)
    result = await _cli(monkeypatch, settings, "meeting", "agenda", meeting_id, "--as", HOKATSU)
    assert result.exit_code == 1
    assert "not_acknowledged" in result.output
