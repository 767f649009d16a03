"""Issue 15, finding 8: every delivery of a person's data to an agency is recorded (who, which
person, which fields, when, on what basis), `tsunagu audit` answers from that log, and
`tsunagu disclose` hands the person everything held about them (開示請求).

The scenario runs through the real services over NATS, by commands only: a person referred
by 地域包括 (hokatsu), a case at 福祉相談課 (fukushi) with consent covering fukushi and hokatsu;
the ハローワーク (hellowork) is invited onto the case but not covered; a hospital is a bound
member of a 支援会議 on the case and is given its material."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from nats.js.errors import NotFoundError
from openpyxl import load_workbook

from contracts.feed import PERSONAL_KINDS
from tests.helpers import ask, eventually, register_agency, send

NAME, PHONE, MATERIAL = "鈴木一郎", "090-8765-4321", "受診状況と家族関係の整理"
MINUTES = "通院の付き添いを病院の相談員が調整する"


def today() -> str:
    return (datetime.now(UTC) + timedelta(hours=9)).date().isoformat()


class Scenario:
    def __init__(self, nc: Any, topology: Any) -> None:
        self.nc, self.topology, self.n = nc, topology, 0
        self.case_id = self.person_id = self.consent_id = self.meeting_id = ""
        self.referral_id = ""

    async def ok(self, agency: str, command: str, **payload: Any) -> dict:
        self.n += 1
        reply = await send(self.nc, self.topology, agency, command,
                           {"command_id": f"audit-{self.n}", **payload})
        assert reply["ok"], (command, reply)
        return reply

    async def ask(self, agency: str, name: str, **args: Any) -> dict:
        return await ask(self.nc, self.topology, agency, name, args)

    async def build(self) -> None:
        sent = await self.ok(
            "hokatsu", "submit_referral", occurred_at=f"{today()}T00:00:00+09:00",
            contact_route="phone", concerns=["income"], sex="male",
            personal={"name": NAME, "birth_date": "1970-01-02", "phone": PHONE,
                      "summary": "生活費の相談"})
        self.referral_id = sent["ids"]["referral_id"]
        triaged = await self.ok("fukushi", "triage_referral", referral_id=self.referral_id,
                                outcome="complex", triaged_on=today())
        self.case_id = triaged["ids"]["case_id"]
        await self.ok("fukushi", "record_application", case_id=self.case_id,
                      applied_on=today(), with_consent=True,
                      consent={"agencies": ["fukushi", "hokatsu"], "purposes": ["支援調整"],
                               "method": "written", "given_on": today(),
                               "obtained_by_staff": "相談員A", "form_ref": "同意書-001"})
        await self.ok("fukushi", "invite_case_member", case_id=self.case_id,
                      agency_id="hellowork", joined_on=today())
        soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
        meeting = await self.ok("fukushi", "schedule_meeting", kind="confidential",
                                scheduled_for=soon, members=["hospital"])
        self.meeting_id = meeting["ids"]["meeting_id"]
        await self.ok("fukushi", "table_case", meeting_id=self.meeting_id,
                      case_id=self.case_id, asks=["share_information"])
        await self.ok("fukushi", "acknowledge_confidentiality", meeting_id=self.meeting_id)
        await self.ok("hospital", "acknowledge_confidentiality", meeting_id=self.meeting_id)
        await self.ok("fukushi", "share_material", meeting_id=self.meeting_id,
                      item_id="item-1", title="支援会議資料", text=MATERIAL)
        await self.ok("fukushi", "record_meeting_held", meeting_id=self.meeting_id,
                      held_on=today(), attendees=["fukushi", "hospital"])
        await self.ok("fukushi", "record_minutes", meeting_id=self.meeting_id,
                      item_id="item-1", text=MINUTES)


async def _feed(nc: Any, topology: Any, case_id: str) -> list[tuple[str, str, bool]]:
    """(agency, msg id, redacted) of every message the feed stream holds for the case that
    may carry personal data: case views, and decisions (whose reason goes with a basis)."""
    js = nc.jetstream()
    info = await js.stream_info(topology.feed_stream)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        try:
            msg = await js.get_msg(topology.feed_stream, seq)
        except NotFoundError:
            continue  # replaced: the stream keeps one message per subject
        body = json.loads(msg.data)
        if body.get("case_id") != case_id or body.get("kind") not in PERSONAL_KINDS:
            continue
        agency = msg.subject.removeprefix(f"{topology.prefix}.feed.").split(".")[0]
        redacted = body["view"]["redacted"] if body["kind"] == "case" else not body["reason"]
        out.append((agency, (msg.headers or {})["Nats-Msg-Id"], redacted))
    return out


@pytest.mark.timeout(180)
async def test_the_audit_log_shows_exactly_the_disclosures_made_to_covered_uncovered_and_bound_agencies(  # noqa: E501
    nc, topology, store, services, cli, tmp_path
):
    for agency, category, triage in [("fukushi", "その他行政の担当部署", True),
                                     ("hokatsu", "地域包括支援センター", False),
                                     ("hellowork", "ハローワーク", False),
                                     ("hospital", "医療機関", False)]:
        await register_agency(store, agency, category=category, can_triage=triage)
    await services("referral", "casefile", "meeting")
    s = Scenario(nc, topology)
    await s.build()

    full_views = 0  # each answer with personal data is a disclosure: counted

    async def hospital_sees() -> bool:
        nonlocal full_views
        reply = await s.ask("hospital", "case_view", case_id=s.case_id)
        full_views += reply["ok"] and not reply["result"]["redacted"]
        return reply["ok"] and not reply["result"]["redacted"]

    await eventually(hospital_sees, timeout=20)
    # Deliveries by query: each answered with personal data is one record.
    covered = await s.ask("hokatsu", "case_view", case_id=s.case_id)
    assert NAME in str(covered)
    uncovered = await s.ask("hellowork", "case_view", case_id=s.case_id)
    assert uncovered["result"]["redacted"] and NAME not in str(uncovered)
    material = await s.ask("hospital", "meeting_materials", meeting_id=s.meeting_id)
    assert MATERIAL in str(material)
    minutes = await s.ask("hospital", "meeting_minutes", meeting_id=s.meeting_id)
    assert MINUTES in str(minutes)
    sheet = await s.ask("hokatsu", "referral", referral_id=s.referral_id)
    s.person_id = sheet["result"]["person_id"]
    consent = await s.ask("fukushi", "consent_history", case_id=s.case_id)
    s.consent_id = next(c["consent_id"] for c in consent["result"]["events"]
                        if c["type"] == "ConsentRecorded")

    result = await cli("audit", "person", s.person_id, "--format", "json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)
    assert PHONE not in result.output and NAME not in result.output  # no personal values

    # Feeds: exactly one record per full view the feed stream holds, none for redacted ones.
    feed = await _feed(nc, topology, s.case_id)

    async def feeds_recorded() -> bool:
        nonlocal records, feed
        feed = await _feed(nc, topology, s.case_id)
        records = json.loads((await cli("audit", "person", s.person_id,
                                        "--format", "json")).output)
        got = {(r["agency"], r["record_id"]) for r in records if r["channel"] == "feed"}
        held = {(a, m) for a, m, redacted in feed if not redacted}
        # The stream keeps one message per subject: an agency's earlier views of the case
        # were delivered (and recorded) and then replaced by its newer one.
        replaced = {(a, m) for a, m in got - held
                    if m.startswith(f"feed-{a}-{s.case_id}-") and any(
                        h[0] == a and h[1].startswith(f"feed-{a}-{s.case_id}-")
                        and int(h[1].rsplit("-", 1)[1]) > int(m.rsplit("-", 1)[1])
                        for h in held)}
        return held <= got and got - held == replaced

    await eventually(feeds_recorded, timeout=20)
    # Before the consent everyone's view was redacted; hellowork's always is.
    assert {a for a, _m, redacted in feed if not redacted} == {"fukushi", "hokatsu",
                                                               "hospital"}
    assert ("hellowork", True) in {(a, redacted) for a, _m, redacted in feed}
    assert {r["agency"] for r in records if r["channel"] == "feed"} == {
        "fukushi", "hokatsu", "hospital"}

    queries = [(r["agency"], r["channel"], r["basis"]["kind"]) for r in records
               if r["channel"] != "feed"]
    assert full_views == 1
    assert sorted(queries) == sorted([
        ("hospital", "query.case_view", "support_meeting"),
        ("hokatsu", "query.case_view", "consent"),
        ("hospital", "query.meeting_materials", "support_meeting"),
        ("hospital", "query.meeting_minutes", "support_meeting"),
        ("hokatsu", "query.referral", "referral"),
    ])
    assert "hellowork" not in {r["agency"] for r in records}
    by_channel = {(r["agency"], r["channel"]): r for r in records}
    assert by_channel[("hokatsu", "query.case_view")]["basis"]["consent_id"] == s.consent_id
    hosp = by_channel[("hospital", "query.case_view")]["basis"]
    assert hosp["meeting_id"] == s.meeting_id and hosp["acknowledged_at"] == today()
    assert "subject.name" in by_channel[("hokatsu", "query.case_view")]["fields"]
    assert by_channel[("hospital", "query.meeting_materials")]["fields"] == [
        "material.text", "material.title"]

    # The table for people: times in JST, with the zone.
    table = await cli("audit", "agency", "hokatsu")
    assert table.exit_code == 0, table.output
    assert "JST" in table.output and s.person_id in table.output

    # 開示請求: everything held about the person, checked against the scenario.
    out = tmp_path / "kaiji.json"
    done = await cli("disclose", s.person_id, "--format", "json", "--out", str(out),
                     "--request-id", "R7-0042")
    assert done.exit_code == 0, done.output
    held = json.loads(out.read_text())
    assert [r["referral_id"] for r in held["referrals"]] == [s.referral_id]
    assert held["referrals"][0]["personal"]["name"] == NAME
    assert [c["case_id"] for c in held["cases"]] == [s.case_id]
    assert held["cases"][0]["subject"]["personal"]["phone"] == PHONE
    assert [c["consent_id"] for c in held["consent"] if c["type"] == "ConsentRecorded"] == [
        s.consent_id]
    assert [m["text"] for m in held["meeting_materials"]] == [MATERIAL]
    assert [m["text"] for m in held["meeting_minutes"]] == [MINUTES]
    assert [i["meeting_id"] for i in held["meeting_items"]] == [s.meeting_id]
    # The log handed over includes the three records of this very request (below).
    assert len(held["disclosures"]) == len(records) + 3

    after = json.loads((await cli("audit", "person", s.person_id, "--format", "json")).output)
    asked = [r for r in after if r["channel"] == "disclose"]
    # Each service recorded its own part before answering: referral, casefile, meeting.
    assert len(asked) == 3 and {r["agency"] for r in asked} == {"ops"}
    assert {r["case_id"] for r in asked} == {s.case_id, None}  # the referral is the person's
    assert all(r["basis"] == {"kind": "data_subject_request", "request_id": "R7-0042"}
               for r in asked)
    assert {r["operator"] for r in asked} == {"unnamed"}  # no credentials on this server
    handed = set().union(*(r["fields"] for r in asked))
    assert {"subject.name", "referral.name", "referral.phone", "consent.history",
            "material.text", "minutes.text"} <= handed

    xlsx = tmp_path / "kaiji.xlsx"
    done = await cli("disclose", s.person_id, "--out", str(xlsx))
    assert done.exit_code == 0, done.output
    book = load_workbook(xlsx)
    assert {"紹介", "同意", "支援ケース", "会議", "開示の記録"} <= set(book.sheetnames)
    cells = " ".join(str(c.value) for ws in book for row in ws.iter_rows() for c in row)
    assert NAME in cells and MATERIAL in cells and MINUTES in cells and "氏名" in cells

    # Without the log, nothing personal leaves: each query answers an error instead.
    await nc.jetstream().delete_stream(topology.disclosure_stream)
    for agency, name, args in [("hokatsu", "case_view", {"case_id": s.case_id}),
                               ("hokatsu", "my_cases", {}),
                               ("hospital", "meeting_materials", {"meeting_id": s.meeting_id})]:
        reply = await s.ask(agency, name, **args)
        assert not reply["ok"] and reply["error"]["code"] == "disclosure_not_recorded", reply
        text = json.dumps(reply, ensure_ascii=False)
        assert NAME not in text and MATERIAL not in text
    unrecorded = tmp_path / "unrecorded.xlsx"
    done = await cli("disclose", s.person_id, "--out", str(unrecorded))
    assert done.exit_code != 0 and not unrecorded.exists()


async def test_a_query_whose_disclosure_cannot_be_recorded_answers_an_error_not_the_data(
    nc, topology, store, services
):
    for agency, category, triage in [("fukushi", "その他行政の担当部署", True),
                                     ("hokatsu", "地域包括支援センター", False)]:
        await register_agency(store, agency, category=category, can_triage=triage)
    await services("referral", "casefile")
    s = Scenario(nc, topology)
    sent = await s.ok("hokatsu", "submit_referral", occurred_at=f"{today()}T00:00:00+09:00",
                      contact_route="phone", concerns=["income"], sex="male",
                      personal={"name": NAME, "birth_date": "1970-01-02", "phone": PHONE,
                                "summary": "生活費の相談"})
    referral_id = sent["ids"]["referral_id"]

    async def projected() -> bool:  # the referral projection answers asynchronously
        return bool((await s.ask("hokatsu", "referral", referral_id=referral_id))["ok"])

    await eventually(projected, timeout=20)
    await nc.jetstream().delete_stream(topology.disclosure_stream)
    reply = await s.ask("hokatsu", "referral", referral_id=referral_id)
    assert not reply["ok"] and reply["error"]["code"] == "disclosure_not_recorded"
    assert NAME not in json.dumps(reply, ensure_ascii=False)


async def test_audit_refuses_a_wildcard_for_a_person_or_an_agency(nc, topology, cli):
    result = await cli("audit", "person", ">")
    assert result.exit_code == 1 and "person_id" in result.output
    result = await cli("audit", "agency", "*", "--format", "json")
    assert result.exit_code == 1 and "agency" in result.output
    result = await cli("audit", "agency", "hokatsu", "--from", "yesterday")
    assert result.exit_code == 1 and "--from" in result.output
