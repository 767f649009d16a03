"""Issue #14, findings 5 and 6, against the secured 3-node deployment: hostile bodies from
an agency's own account get a clear error reply and store nothing; a case that grows past
the message limit keeps its members' feeds moving, and the view stays readable."""

from __future__ import annotations

import json

import pytest

from contracts.case import NATIONAL_ASSESSMENT_ITEMS
from tests.helpers import eventually
from tests.secure.conftest import Deployment
from tests.secure.test_findings import counts
from tests.secure.test_secured_flow import Agencies, days_ago
from tsunagu.deploy.client import open_feed

GOOD = {"command_id": "f5-1", "contact_route": "phone", "concerns": ["income"],
        "personal": {"summary": "x"}}
HOSTILE = [  # (what, body, code, a word the message names)
    ("JSON nested 1,000 levels", b'{"a": ' + b"[" * 1000 + b"]" * 1000 + b"}", "too_large",
     "nested"),
    ("5,000-digit integer", b'{"n": ' + b"9" * 5000 + b"}", "too_large", "digits"),
    ("not UTF-8", b'{"case_id": "\xff\xfe"}', "invalid", "UTF-8"),
    ("over the size limit", json.dumps({**GOOD, "x": "あ" * 100_000}).encode(), "too_large",
     "limit"),
]


@pytest.mark.parametrize("kind,name", [("cmd", "submit_referral"), ("query", "case_view")])
async def test_hostile_bodies_from_an_agency_account_get_a_clear_error_and_store_nothing(
    deployment: Deployment, kind: str, name: str
):
    """Finding 5: commands used to reply `internal RecursionError`, queries not at all."""
    t = deployment.topology
    nc = await deployment.connect("agency", "shakyo")
    before = await counts(deployment)
    for what, body, code, word in HOSTILE:
        msg = await nc.request(f"{t.prefix}.{kind}.shakyo.{name}", body, timeout=10)
        reply = json.loads(msg.data)
        assert reply["ok"] is False and reply["error"]["code"] == code, (what, reply)
        assert word in reply["error"]["message"], (what, reply)
        assert "Error" not in reply["error"]["message"], (what, reply)  # no exception names
    assert await counts(deployment) == before


@pytest.mark.timeout(240)
async def test_a_case_past_the_message_limit_keeps_the_feed_moving_and_the_view_readable(
    deployment: Deployment,
):
    """Finding 6: about thirty full assessments used to stick the member's feed for good."""
    a = await Agencies(deployment).open()
    a.n = 10_000  # command ids of their own: the flow test numbers its commands from 1
    feed = await open_feed(a.nc["hokatsu"], deployment.topology, "hokatsu")
    while True:  # what earlier tests left in hokatsu's feed
        try:
            old = await feed.fetch(100, timeout=1)
        except TimeoutError:
            break
        for m in old:
            await m.ack_sync()
    case_id = await _consented_case(a, "大木 一郎")
    items = {k: codes[0] for k, codes in NATIONAL_ASSESSMENT_ITEMS.items()}
    full = "状" * 4000
    for _ in range(30):
        await a.ok("fukushi", "record_intake_assessment", case_id=case_id,
                   assessed_on=days_ago(10), national_items=items,
                   personal={"situation": full, "outlook": full, "notes": full})
    subject = f"{deployment.topology.prefix}.feed.hokatsu.{case_id}.case"
    seen: list[dict] = []
    while not any(m.get("too_large") for m in seen):
        for m in await feed.fetch(50, timeout=30):
            await m.ack_sync()
            if m.subject == subject:
                seen.append(json.loads(m.data))
    notice = next(m for m in seen if m.get("too_large"))
    query = f"{deployment.topology.prefix}.query.hokatsu.case_view"
    assert notice["read_with"]["subject"] == query

    async def all_thirty() -> bool:  # the notice may come from the 29th: wait for the 30th
        reply = await a.query("hokatsu", "case_view", **notice["read_with"]["args"])
        assert reply["ok"], reply
        return bool(reply["result"].get("more", {}).get("assessments", {}).get("total") == 30)

    await eventually(all_thirty, timeout=30)
    reply = await a.query("hokatsu", "case_view", **notice["read_with"]["args"])
    view, got = reply["result"], []
    got += view["assessments"]
    args = view["more"]["assessments"]["read_with"]
    while args is not None:
        page = (await a.query("hokatsu", "case_view", **args))["result"]
        got += page["items"]
        args = None if page["next_offset"] is None else {**args, "offset": page["next_offset"]}
    assert len({g["assessment_id"] for g in got}) == 30
    assert all(g["personal"]["situation"] == full for g in got)

    # Later changes keep arriving in the member's feed.
    later = await _consented_case(a, "小川 二郎")
    msgs: list = []
    while not any(m.subject.endswith(f".{later}.case") for m in msgs):
        msgs = await feed.fetch(50, timeout=30)
        for m in msgs:
            await m.ack_sync()


async def _consented_case(a: Agencies, name: str) -> str:
    """A case referred by hokatsu, opened by fukushi's triage, with a consent covering both."""
    submitted = await a.ok("hokatsu", "submit_referral",
                           occurred_at=f"{days_ago(20)}T10:00:00+09:00", contact_route="phone",
                           concerns=["income"],
                           personal={"name": name, "summary": "x", "phone": "090-0000-0000"})
    case_id: str = (await a.ok("fukushi", "triage_referral", referral_id=submitted["ids"][
        "referral_id"], outcome="complex", triaged_on=days_ago(19)))["ids"]["case_id"]
    await a.ok("fukushi", "record_application", case_id=case_id, applied_on=days_ago(18),
               with_consent=True,
               consent={"agencies": ["fukushi", "hokatsu"], "purposes": ["支援調整"],
                        "method": "written", "given_on": days_ago(18),
                        "obtained_by_staff": "相談員B", "form_ref": "同意書-002"})
    return case_id
