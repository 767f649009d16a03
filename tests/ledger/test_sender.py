"""The sender against a stand-in platform on a real nats-server: the migration subjects,
ids filled in from earlier replies, and the first refusal stopping the import with the
ledger's sheet, row and column."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg

from eventstore.topology import Topology
from tests.ledger import small
from tsunagu.ledger.load import load_ledger
from tsunagu.ledger.sender import send_steps

CREATES = {"submit_referral": ["referral"], "triage_referral": ["case", "enrollment"],
           "open_case": ["case", "enrollment"], "start_enrollment": ["enrollment"],
           "draft_plan": ["plan"], "schedule_meeting": ["meeting"]}


class StandIn:
    """Answers every migration command with made-up ids; refuses one command type."""

    def __init__(self, refuse: str | None = None) -> None:
        self.refuse = refuse
        self.seen: list[tuple[str, dict[str, Any]]] = []

    async def handle(self, msg: Msg) -> None:
        _, _, agency, command = msg.subject.split(".")
        body = json.loads(msg.data)
        self.seen.append((f"{agency}.{command}", body))
        if command == self.refuse:
            reply: dict[str, Any] = {"ok": False, "error": {
                "code": "unknown_agency", "message": "not in the directory",
                "details": {"field": "agency_id"}}}
        else:
            n = len(self.seen)
            ids = {f"{kind}_id": f"{kind}-{n}" for kind in CREATES.get(command, [])}
            reply = {"ok": True, "replayed": False, "ids": ids}
        await msg.respond(json.dumps(reply).encode())


async def test_ids_from_earlier_replies_fill_the_later_commands(
    nc: Client, topology: Topology, tmp_path: Path
) -> None:
    stand_in = StandIn()
    sub = await nc.subscribe(f"{topology.prefix}.migrate.>", cb=stand_in.handle)
    _, steps, _ = load_ledger(small.write(tmp_path / "l.xlsx"))
    result = await send_steps(nc, topology, steps)
    await sub.unsubscribe()
    assert result.error is None and result.sent == len(steps) == result.created
    sent = dict(stand_in.seen)
    opened_at = next(i for i, (k, _) in enumerate(stand_in.seen) if k == "shakyo.open_case")
    ended = sent["shakyo.end_enrollment"]
    assert ended["enrollment_id"] == f"enrollment-{opened_at + 1}"  # the open_case reply's
    assert sent["shakyo.draft_plan"]["case_id"].startswith("case-")
    table = next(b for k, b in stand_in.seen if k == "shakyo.table_case" and "plan_id" in b)
    assert table["plan_id"].startswith("plan-") and table["meeting_id"].startswith("meeting-")
    assert "houkatsu-1.acknowledge_confidentiality" in sent  # each attendee for itself


async def test_the_first_refusal_stops_the_import_naming_the_row(
    nc: Client, topology: Topology, tmp_path: Path
) -> None:
    stand_in = StandIn(refuse="invite_case_member")
    sub = await nc.subscribe(f"{topology.prefix}.migrate.>", cb=stand_in.handle)
    _, steps, _ = load_ledger(small.write(tmp_path / "l.xlsx"))
    result = await send_steps(nc, topology, steps, parallel=1)
    await sub.unsubscribe()
    assert result.error is not None
    assert str(result.error) == ("連携機関 row 2 column 機関ID: invite_case_member refused "
                                 "(連携機関 A-1 hw-1): unknown_agency: not in the directory")
    assert stand_in.seen[-1][0] == "shakyo.invite_case_member"  # nothing sent after it
    assert result.sent == len(stand_in.seen) < len(steps)


async def test_lanes_run_side_by_side_and_a_refusal_stops_its_lane_and_new_starts(
    nc: Client, topology: Topology, tmp_path: Path
) -> None:
    stand_in = StandIn(refuse="open_case")  # cannot open
    sub = await nc.subscribe(f"{topology.prefix}.migrate.>", cb=stand_in.handle)
    _, steps, _ = load_ledger(small.write(tmp_path / "l.xlsx"))
    result = await send_steps(nc, topology, steps, parallel=8)
    await sub.unsubscribe()
    assert result.error is not None and result.error.sheet == "相談者"
    assert result.error.row in (3, 4)  # the earlier of the two in the ledger's order
    sent = [k for k, _ in stand_in.seen]
    # Nothing that needs the unopened cases was sent (no enrollment, no agenda item for A-2).
    assert "shakyo.start_enrollment" not in sent and "shakyo.end_enrollment" not in sent
