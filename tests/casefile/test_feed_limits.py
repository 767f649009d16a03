"""A growing case never stops its members' feeds (issue #14, finding 6).

About thirty full intake assessments make a case view larger than the 1 MB a NATS message
may carry. The outbox used to retry that view forever and the member's feed never moved
again; now the view goes out as a short notice on the same subject (where to read the
whole view), and later changes keep arriving. Over the real casefile service."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.casefile.test_cli import tsunagu
from tests.casefile.world import World, assessment_payload, feed, settle
from tests.helpers import ask

pytestmark = pytest.mark.timeout(180)
FULL = "状" * 4000  # the longest text a field takes (LongText)


async def test_a_case_view_past_the_message_limit_is_sent_as_a_notice_and_the_feed_moves_on(
    services, nc, store, topology, settings
):
    casefile = (await services("casefile"))["casefile"]
    world = await World(nc, store, topology).setup(services)
    await world.triaged_case()
    await world.consent(agencies=("hokatsu", "shakyo"))
    for i in range(30):
        payload = assessment_payload(f"a{i}", personal={"situation": FULL, "outlook": FULL,
                                                        "notes": FULL})
        reply = await world.send("shakyo", "record_intake_assessment", payload)
        assert reply["ok"], reply
    await settle(nc, topology, casefile)
    # A later change, to another case the member takes part in.
    await world.triaged_case(case_id="c2", person_id="p2")
    await world.consent(case_id="c2", person_id="p2", agencies=("hokatsu", "shakyo"))
    await settle(nc, topology, casefile)

    messages = await feed(nc, topology, "hokatsu")
    c1 = [m for m in messages if m["subject"].endswith(f".{world.id('c1')}.case")]
    assert c1[-1]["too_large"] is True and c1[-1]["bytes"] > c1[-1]["limit"]
    assert c1[-1]["read_with"] == {"subject": f"{topology.prefix}.query.hokatsu.case_view",
                                   "args": {"case_id": world.id("c1")}}
    assert c1[-1]["event_type"] == "IntakeAssessmentRecorded"
    last_c1 = max(i for i, m in enumerate(messages)
                  if m["subject"].endswith(f".{world.id('c1')}.case"))
    assert any(m["subject"].endswith(f".{world.id('c2')}.case") for m in messages[last_c1 + 1:])
    assert casefile.runners["casefile"].dead_lettered == 0
    assert await asyncio.to_thread(casefile.runners["casefile"]._pending_outbox) == []
    # The query the notice names answers: the view cut to one message, and the rest page
    # by page, every assessment once.
    reply = await ask(nc, topology, "hokatsu", "case_view", c1[-1]["read_with"]["args"])
    assert reply["ok"], reply
    view = reply["result"]
    more = view["more"]["assessments"]
    assert more["total"] == 30 and more["returned"] == len(view["assessments"]) < 30
    assessments, args = list(view["assessments"]), more["read_with"]
    while True:
        page = await ask(nc, topology, "hokatsu", "case_view", args)
        assert page["ok"], page
        assessments += page["result"]["items"]
        if page["result"]["next_offset"] is None:
            break
        args = {**args, "offset": page["result"]["next_offset"]}
    assert len({a["assessment_id"] for a in assessments}) == len(assessments) == 30
    assert all(a["personal"]["situation"] == FULL for a in assessments)
    # `tsunagu case show --json` reads every page for a person.
    shown = await tsunagu(settings, "case", "show", world.id("c1"), "--as", "hokatsu", "--json")
    assert shown.exit_code == 0, shown.output[-500:]
    whole = json.loads(shown.output)
    assert "more" not in whole
    assert [a["assessment_id"] for a in whole["assessments"]] == [
        a["assessment_id"] for a in assessments]
