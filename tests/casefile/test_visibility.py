"""Consent is judged now (issue 15, finding 1): asking a view, my cases or the timeline
"as of" an earlier day never shows personal data that today's consent does not allow.
Proved on the pure view (``views.view_of``), then over NATS with the running service."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from contracts.consent import (
    ConsentMethod,
    ConsentRecorded,
    ConsentRecorderNamed,
    ConsentWithdrawn,
)
from contracts.visibility import Seat
from services.casefile import views
from tests.casefile.world import NAME, World, contains_secret, settle
from tests.helpers import ask

JST = ZoneInfo("Asia/Tokyo")
GIVEN = date(2026, 5, 1)


def _data(consent: list, seats: tuple[Seat, ...] = ()) -> views.CaseData:
    case = {"case_id": "c1", "stage": "opened", "status": "open", "origin": "triage",
            "opened_on": GIVEN, "coordinator": "shakyo", "lead_agency": None,
            "next_monitoring_on": None, "erased": False, "person_id": "p1",
            "subject_agency_id": None, "sex": "female", "age_band": "unknown"}
    members = [{"agency_id": a, "joined_on": GIVEN, "how": "referral"}
               for a in ("hokatsu", "shakyo")]
    return views.CaseData(case, members, seats, consent, [], [], [], [],  # type: ignore[arg-type]
                          personal={"name": NAME})


def _consent() -> ConsentRecorded:
    return ConsentRecorded(case_id="c1", consent_id="k1", person_id="p1",
                           agencies=("hokatsu", "shakyo"), purposes=("共有",),
                           method=ConsentMethod.written, obtained_by="shakyo", given_on=GIVEN)


def test_a_view_asked_for_yesterday_is_judged_on_todays_consent():
    today = date(2026, 6, 10)
    data = _data([_consent(), ConsentWithdrawn(case_id="c1", consent_id="k1",
                                               withdrawn_on=today)])
    view = views.view_of(data, "hokatsu", today - timedelta(days=1), today)
    assert view is not None and view["redacted"] is True
    assert "subject" not in view and not contains_secret(str(view))


def test_a_full_view_names_its_basis():
    view = views.view_of(_data([_consent()]), "hokatsu", GIVEN, date(2026, 6, 10))
    assert view is not None and view["redacted"] is False
    assert view["basis"] == {"kind": "consent", "consent_id": "k1", "meeting_id": None,
                             "acknowledged_at": None}
    seat = Seat("s1", "hospital", date(2026, 5, 3))
    bound = views.view_of(_data([], (seat,)), "hospital", GIVEN, date(2026, 6, 10))
    assert bound is not None and bound["basis"]["meeting_id"] == "s1"


def test_a_named_consent_recorder_is_kept_with_the_consents_and_is_no_basis():
    named = ConsentRecorderNamed(case_id="c1", agency_id="hokatsu", named_by="shakyo",
                                 named_on=GIVEN)
    stored = views._consent_adapter.validate_python(named.model_dump(mode="json"))
    assert stored == named
    view = views.view_of(_data([stored]), "hokatsu", GIVEN, date(2026, 6, 10))
    assert view is not None and view["redacted"] is True


@pytest.fixture
async def casefile(service_db, services):
    return (await services("casefile"))["casefile"]


@pytest.fixture
async def world(nc, store, topology, services) -> World:
    return await World(nc, store, topology).setup(services)


async def test_after_withdrawal_asking_as_of_yesterday_shows_no_personal_data(
    world, casefile, nc, topology
):
    today = datetime.now(JST).date()
    await world.triaged_case()
    await world.consent(agencies=("hokatsu", "shakyo"))
    await settle(nc, topology, casefile)
    full = await ask(nc, topology, "hokatsu", "case_view", {"case_id": world.id("c1")})
    assert full["result"]["redacted"] is False  # covered before the withdrawal
    await world.withdraw(on=today)
    await settle(nc, topology, casefile)

    yesterday = {"on": (today - timedelta(days=1)).isoformat()}
    view = await ask(nc, topology, "hokatsu", "case_view", {"case_id": world.id("c1"), **yesterday})
    assert view["result"]["redacted"] is True and not contains_secret(str(view))
    mine = await ask(nc, topology, "hokatsu", "my_cases", yesterday)
    assert [(c["case_id"], c["name"], c["redacted"]) for c in mine["result"]] == [
        (world.id("c1"), None, True)]
    timeline = await ask(nc, topology, "hokatsu", "case_timeline",
                         {"case_id": world.id("c1"), **yesterday})
    assert timeline["ok"] is False and timeline["error"]["code"] == "forbidden"


async def test_a_feed_sent_late_judges_consent_on_the_day_it_is_sent(
    world, casefile, nc, topology
):
    from contracts.base import Actor
    from eventstore.codec import new_envelope
    from tests.casefile.world import feed

    today = datetime.now(JST).date()
    await world.triaged_case()
    # Recorded three days ago (a backlog): valid then, expired yesterday.
    expired = ConsentRecorded(case_id=world.id("c1"), consent_id=world.id("k1"),
                              person_id=world.id("p1"),
                              agencies=("hokatsu", "shakyo"), purposes=("共有",),
                              method=ConsentMethod.written, obtained_by="shakyo",
                              given_on=GIVEN, valid_until=today - timedelta(days=1))
    env = new_envelope(expired, Actor(agency_id="shakyo"))
    # Direct: recorded_at is always the real time in a command, and the test needs a past one.
    await world.store.append([env.model_copy(
        update={"recorded_at": env.recorded_at - timedelta(days=3)})])
    await settle(nc, topology, casefile)
    views_sent = [m["view"] for m in await feed(nc, topology, "hokatsu") if "view" in m]
    assert views_sent and all(v["redacted"] for v in views_sent)
    assert not any(contains_secret(str(v)) for v in views_sent)
