"""Command ids and reply ids over NATS with the real services: the idempotency key is
(sender agency, command_id) and a reused key with another body is refused; every reply
names what its command created, so agencies use ids from replies, never guessed formats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.helpers import register_agency, send

PERSON = {"name": "山田 太郎", "birth_date": "1975-04-02", "phone": "090-1234-5678",
          "summary": "長期ひきこもり"}


def days_ago(n: int) -> str:
    return ((datetime.now(UTC) + timedelta(hours=9)).date() - timedelta(days=n)).isoformat()


class Agencies:
    def __init__(self, nc, topology) -> None:
        self.nc, self.topology = nc, topology

    async def send(self, agency: str, command: str, command_id: str, **body: Any) -> dict:
        return await send(self.nc, self.topology, agency, command,
                          {"command_id": command_id, **body})

    async def ok(self, agency: str, command: str, command_id: str, **body: Any) -> dict:
        reply = await self.send(agency, command, command_id, **body)
        assert reply["ok"] and not reply["replayed"], (command, reply)
        return reply


@pytest.fixture
async def agencies(nc, topology, store, services) -> Agencies:
    for agency, category, triage in [
        ("fukushi", "その他行政の担当部署", True),
        ("kodomo", "その他行政の担当部署", True),
        ("hokatsu", "地域包括支援センター", False),
        ("shakyo", "社会福祉協議会", False),
        ("hellowork", "ハローワーク", False),
    ]:
        await register_agency(store, agency, category=category, can_triage=triage)
    await services("referral", "casefile", "meeting")
    return Agencies(nc, topology)


async def _triaged(a: Agencies) -> dict:
    submitted = await a.ok("hokatsu", "submit_referral", "r1", contact_route="phone",
                           concerns=["income"], personal=PERSON,
                           occurred_at=f"{days_ago(9)}T10:00:00+09:00")
    return await a.ok("fukushi", "triage_referral", "t1",
                      referral_id=submitted["ids"]["referral_id"], outcome="complex",
                      triaged_on=days_ago(8))


async def _types(store, aggregate: str, aggregate_id: str) -> list[tuple[str, str]]:
    history = await store.load(aggregate, aggregate_id)
    return [(e.type, e.actor.agency_id) for e in history.envelopes]


async def test_another_agency_reusing_a_command_id_is_executed_as_its_own_command(
    agencies, store
):
    case_id = (await _triaged(agencies))["ids"]["case_id"]
    first = await agencies.ok("fukushi", "invite_case_member", "same", case_id=case_id,
                              agency_id="shakyo", joined_on=days_ago(7))
    # hokatsu happens to pick the same command_id: its own command, not fukushi's reply.
    second = await agencies.ok("hokatsu", "invite_case_member", "same", case_id=case_id,
                               agency_id="hellowork", joined_on=days_ago(7))
    assert second["events"] != first["events"]
    joined = [t for t in await _types(store, "case", case_id) if t[0] == "MemberJoined"]
    assert joined[-2:] == [("MemberJoined", "fukushi"), ("MemberJoined", "hokatsu")]


async def test_a_command_id_resent_with_another_body_or_type_is_refused_and_nothing_stored(
    agencies, store, nc, topology
):
    case_id = (await _triaged(agencies))["ids"]["case_id"]
    body = {"case_id": case_id, "agency_id": "shakyo", "joined_on": days_ago(7)}
    first = await agencies.ok("fukushi", "invite_case_member", "inv", **body)
    last_seq = (await nc.jetstream().stream_info(topology.events_stream)).state.last_seq

    same = await agencies.send("fukushi", "invite_case_member", "inv", **body)
    assert same["ok"] and same["replayed"] and same["events"] == first["events"]
    other_body = await agencies.send("fukushi", "invite_case_member", "inv",
                                     **{**body, "agency_id": "hellowork"})
    other_type = await agencies.send("fukushi", "start_enrollment", "inv", case_id=case_id,
                                     program="outreach", started_on=days_ago(7))
    # Another service, another record: recognised by the receipt kept with the key.
    elsewhere = await agencies.send("fukushi", "schedule_meeting", "inv", kind="support_plan",
                                    scheduled_for=datetime.now(UTC) + timedelta(hours=2),
                                    members=["hokatsu"])
    for refused in (other_body, other_type, elsewhere):
        assert refused["ok"] is False
        assert refused["error"]["code"] == "command_id_reused", refused
        assert refused["error"]["details"]["command_id"] == "inv"
    assert (await nc.jetstream().stream_info(topology.events_stream)).state.last_seq == last_seq


async def test_two_conveners_with_the_same_command_id_schedule_two_meetings(agencies):
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    replies = [await agencies.ok(convener, "schedule_meeting", "same", kind="support_plan",
                                 scheduled_for=soon, members=["hokatsu"])
               for convener in ("fukushi", "kodomo")]
    assert replies[0]["ids"]["meeting_id"] != replies[1]["ids"]["meeting_id"]


def _created(envelopes, event_type: str, field: str) -> list[str]:
    return [getattr(e.event, field) for e in envelopes if e.type == event_type]


async def test_each_command_that_creates_something_names_it_in_its_reply(agencies, store):
    a = agencies
    submitted = await a.ok("hokatsu", "submit_referral", "r1", contact_route="phone",
                           concerns=["income"], personal=PERSON,
                           occurred_at=f"{days_ago(9)}T10:00:00+09:00")
    referral = (await store.load("referral", submitted["ids"]["referral_id"])).envelopes
    assert submitted["ids"]["person_id"] == referral[0].event.person_id  # type: ignore[attr-defined]

    triaged = await a.ok("fukushi", "triage_referral", "t1", outcome="complex",
                         referral_id=submitted["ids"]["referral_id"], triaged_on=days_ago(1))
    case_id = triaged["ids"]["case_id"]
    case = (await store.load("case", case_id)).envelopes
    assert _created(case, "CaseOpened", "case_id") == [case_id] == triaged["ids"]["case_ids"]
    enrollments = _created(case, "EnrollmentStarted", "enrollment_id")
    assert triaged["ids"]["enrollment_ids"] == enrollments
    assert triaged["ids"]["enrollment_id"] == enrollments[0]

    applied = await a.ok("fukushi", "record_application", "app", case_id=case_id,
                         applied_on=days_ago(1), with_consent=True,
                         consent={"agencies": ["fukushi", "hokatsu"], "purposes": ["支援調整"],
                                  "method": "written", "given_on": days_ago(1)})
    consents = _created((await store.load("consent", case_id)).envelopes, "ConsentRecorded",
                        "consent_id")
    assert applied["ids"]["consent_id"] == consents[0] and applied["ids"]["case_id"] == case_id

    from contracts.case import NATIONAL_ASSESSMENT_ITEMS

    assessed = await a.ok(
        "fukushi", "record_intake_assessment", "as", case_id=case_id, assessed_on=days_ago(1),
        national_items={name: codes[0] for name, codes in NATIONAL_ASSESSMENT_ITEMS.items()},
        personal={"situation": "滞納三か月"})
    assert [assessed["ids"]["assessment_id"]] == _created(
        (await store.load("case", case_id)).envelopes, "IntakeAssessmentRecorded", "assessment_id")
    drafted = await a.ok(
        "fukushi", "draft_plan", "plan", case_id=case_id, drafted_on=days_ago(0),
        roles=[{"agency_id": "hokatsu", "role": "見守り"}], monitoring_on=days_ago(-30),
        personal={"long_term_goal": "自立", "short_term_goals": ["家計"], "direction": "見守る"})
    plans = _created((await store.load("case", case_id)).envelopes, "PlanDrafted", "plan_id")
    assert drafted["ids"]["plan_id"] == plans[-1]

    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    scheduled = await a.ok("fukushi", "schedule_meeting", "m1", kind="support_plan",
                           scheduled_for=soon, members=["hokatsu"])
    meeting_id = scheduled["ids"]["meeting_id"]
    assert _created((await store.load("meeting", meeting_id)).envelopes, "MeetingScheduled",
                    "meeting_id") == [meeting_id]
    tabled = await a.ok("fukushi", "table_case", "tab", meeting_id=meeting_id, case_id=case_id,
                        asks=["approve_plan"], plan_id=drafted["ids"]["plan_id"], plan_version=1)
    items = _created((await store.load("meeting", meeting_id)).envelopes, "CaseTabled", "item_id")
    assert tabled["ids"]["item_id"] == items[0] and tabled["ids"]["meeting_id"] == meeting_id
    await a.ok("fukushi", "record_meeting_held", "held", meeting_id=meeting_id,
               held_on=days_ago(0), attendees=["fukushi", "hokatsu"])
    decided = await a.ok("fukushi", "record_decision", "dec", meeting_id=meeting_id,
                         item_id=tabled["ids"]["item_id"], decision="approve_plan", reason="適切")
    assert decided["ids"]["decision_id"] in _created(
        (await store.load("meeting", meeting_id)).envelopes, "DecisionRecorded", "decision_id")


async def test_the_opening_agency_ends_an_agency_subject_enrollment_by_the_id_in_its_reply(
    agencies, store
):
    opened = await agencies.ok("shakyo", "open_case", "open", program="participation",
                               subject={"agency_id": "hellowork"}, opened_on=days_ago(3))
    assert set(opened["ids"]) >= {"case_id", "case_ids", "enrollment_id", "enrollment_ids"}
    ended = await agencies.ok("shakyo", "end_enrollment", "end", case_id=opened["ids"]["case_id"],
                              enrollment_id=opened["ids"]["enrollment_id"],
                              ended_on=days_ago(0), reason="本人につながった")
    assert ended["ids"]["case_id"] == opened["ids"]["case_id"]
    case = (await store.load("case", opened["ids"]["case_id"])).envelopes
    assert [e.event.enrollment_id for e in case if e.type == "EnrollmentEnded"] == [  # type: ignore[attr-defined]
        opened["ids"]["enrollment_id"]]


