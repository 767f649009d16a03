"""Issue 15, item 2, end to end over NATS: an agency covered by a consent that ends today
reads the full view in its feed; when the casefile's timer reaches the next day (in Japan)
its feed holds the redacted view instead, and a consumer started from the beginning of its
feed reads no earlier full view (one view per case and agency)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from contracts.jst import JST
from eventstore.service import build_app
from tests.casefile.test_notices_flow import (  # noqa: F401 (agencies is a fixture)
    NAME,
    Flow,
    agencies,
    days_ago,
    feed,
    today,
)
from tests.helpers import eventually

pytestmark = pytest.mark.timeout(120)


async def test_when_a_consent_ends_the_agency_it_covered_is_sent_the_redacted_view(
    nc, topology, agencies, services, settings  # noqa: F811
):
    from services.casefile.app import build_spec

    clock = [datetime.now(JST)]
    await services("referral", "meeting")
    app, _ = build_app(build_spec(settings, clock=lambda: clock[0], reminder_every=0.1),
                       settings)
    await app.start()
    flow = Flow(nc, topology)
    rid = await flow.referral()
    case_id = (await flow.ok("fukushi", "triage_referral", referral_id=rid, outcome="complex",
                             triaged_on=days_ago(19)))["ids"]["case_id"]
    await flow.ok("fukushi", "record_application", case_id=case_id, applied_on=days_ago(18),
                  with_consent=True, consent={
                      "agencies": ["fukushi", "hokatsu"], "purposes": ["支援調整"],
                      "method": "written", "given_on": days_ago(18),
                      "valid_until": today().isoformat(),  # its last valid day
                      "obtained_by_staff": "相談員A", "form_ref": "同意書-001"})

    async def views() -> list[dict]:
        return [m for m in await feed(nc, topology, "hokatsu")
                if m["kind"] == "case" and m["case_id"] == case_id]

    async def full() -> bool:
        return any(NAME in json.dumps(v, ensure_ascii=False) for v in await views())

    await eventually(full, timeout=30)
    clock[0] = datetime.combine(today() + timedelta(days=1), datetime.min.time(), JST)

    async def redacted() -> bool:
        found = await views()
        return bool(found) and found[-1]["event_type"] == "ConsentExpired"

    await eventually(redacted, timeout=30)
    # A consumer from the start of hokatsu's feed: only the redacted view of the case.
    [current] = await views()
    assert current["view"]["redacted"] is True and current["subject"].endswith(".case")
    assert NAME not in json.dumps(current, ensure_ascii=False)
    await app.stop()
