"""Issue 15, findings 5 and 6: consent is recorded by the lead or a coordinating agency (or
a member the lead names), naming who obtained it and the signed form, so no member widens
coverage to itself; and a case's consent state is answered only to the case's members.
Proved on the pure decider, then over NATS with the running referral service."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.case import LeadAgencyAssigned
from contracts.commands_referral import NameConsentRecorder, RecordConsent
from contracts.consent import ConsentRecorded, ConsentRecorderNamed, consent_text
from eventstore.errors import Forbidden, InvalidInput, NotFound
from services.referral import domain
from tests.helpers import eventually
from tests.meeting.support import soon, today_jst
from tests.referral.support import ask, cid, refused, send, submit

TODAY = date(2025, 8, 1)
CASE = domain.CaseFacts("c1", opened=True, person_id="p1", coordinator="fukushi-sodan",
                        members=frozenset({"fukushi-sodan", "hokatsu-kita", "hospital"}))


def _cmd(**over) -> RecordConsent:
    body = {"command_id": "k", "case_id": "c1", "agencies": ["hokatsu-kita", "hospital"],
            "purposes": ["支援のための情報共有"], "method": "written", "given_on": "2025-07-01",
            "obtained_by_staff": "相談員A", "form_ref": "同意書-2025-015", **over}
    return RecordConsent.model_validate(body)


def _facts(agency: str, may_triage: bool = False) -> domain.ConsentFacts:
    return domain.ConsentFacts(agency_id=agency, may_triage=may_triage, today=TODAY)


def test_a_member_that_is_neither_lead_nor_coordinator_cannot_record_a_consent():
    with pytest.raises(Forbidden, match="may not record consent") as refused_:
        domain.decide_consent(_cmd(), CASE, _facts("hospital"), consent_id="k1")
    assert refused_.value.code == "not_consent_recorder"


def test_the_coordinator_records_consent_naming_who_obtained_it_and_the_form():
    [event] = domain.decide_consent(_cmd(obtained_by="hospital"), CASE,
                                    _facts("fukushi-sodan"), consent_id="k1")
    assert isinstance(event, ConsentRecorded)
    text = consent_text(event)  # sealed with the person's key, not in plain fields
    assert text is not None and (event.obtained_by_staff, event.form_ref) == (None, None)
    assert (event.obtained_by, text.obtained_by_staff, text.form_ref) == (
        "hospital", "相談員A", "同意書-2025-015")


def test_the_lead_agency_records_consent():
    case = domain.fold_case("c1", [])
    assert case.lead is None
    lead = LeadAgencyAssigned(case_id="c1", agency_id="hospital", meeting_id="m1",
                              decision_id="d1", assigned_on=TODAY)
    with_lead = domain.CaseFacts(**{**CASE.__dict__, "lead": "hospital"})
    assert domain.fold_case("c1", [lead]).lead == "hospital"
    assert domain.decide_consent(_cmd(), with_lead, _facts("hospital"), consent_id="k1")


@pytest.mark.parametrize(("over", "field"), [
    ({"obtained_by_staff": None}, "obtained_by_staff"),
    ({"form_ref": None}, "form_ref"),
    ({"obtained_by": "jido-sodan"}, "obtained_by"),
])
def test_a_consent_without_who_obtained_it_or_its_form_is_refused(over, field):
    with pytest.raises(InvalidInput, match=field):
        domain.decide_consent(_cmd(**over), CASE, _facts("fukushi-sodan"), consent_id="k1")


def test_oral_consent_needs_no_form_but_names_the_staff():
    [event] = domain.decide_consent(_cmd(method="oral", form_ref=None), CASE,
                                    _facts("fukushi-sodan"), consent_id="k1")
    assert isinstance(event, ConsentRecorded) and event.personal is not None
    assert consent_text(event).form_ref is None  # type: ignore[union-attr]


def test_consent_state_is_answered_only_to_the_case_members():
    domain.require_consent_reader(CASE, "hospital")
    for case, agency in ((CASE, "shakyo"), (domain.CaseFacts("c9"), "hospital")):
        with pytest.raises(NotFound, match="no case"):
            domain.require_consent_reader(case, agency)


# ---- over NATS ----------------------------------------------------------------------


async def _case(nc, topology) -> str:
    referral_id = (await submit(nc, topology))["ids"]["referral_id"]
    reply = await send(nc, topology, "fukushi-sodan", "triage_referral", {
        "command_id": cid(), "referral_id": referral_id, "outcome": "complex",
        "triaged_on": "2025-06-02"})
    assert reply["ok"], reply
    return reply["ids"]["case_id"]


def _consent(case_id: str, **over) -> dict:
    return {"command_id": cid("cons"), "case_id": case_id,
            "agencies": ["hokatsu-kita", "fukushi-sodan"], "purposes": ["共有"],
            "method": "written", "given_on": "2025-07-01", "obtained_by_staff": "相談員A",
            "form_ref": "同意書-2025-015", **over}


async def test_a_member_cannot_record_a_consent_that_covers_itself(referral_rt, nc, topology):
    case_id = await _case(nc, topology)  # members: hokatsu-kita (referred), fukushi-sodan
    await refused(nc, topology, "hokatsu-kita", "record_consent", _consent(case_id),
                  "not_consent_recorder", "may not record consent")
    await refused(nc, topology, "hokatsu-kita", "record_application", {
        "command_id": cid(), "case_id": case_id, "applied_on": "2025-06-10",
        "with_consent": True, "consent": {k: v for k, v in _consent(case_id).items()
                                          if k not in ("command_id", "case_id")}},
        "not_consent_recorder", "may not record consent")
    await refused(nc, topology, "fukushi-sodan", "record_consent",
                  _consent(case_id, form_ref=None), "invalid", "form_ref")
    ok = await send(nc, topology, "fukushi-sodan", "record_consent",
                    _consent(case_id, obtained_by="hokatsu-kita"))
    assert ok["ok"], ok
    event = ok["events"][0]
    assert event["type"] == "ConsentRecorded"
    history = await ask(nc, topology, "hokatsu-kita", "consent_history", {"case_id": case_id})
    [recorded] = [e for e in history["result"]["events"] if e["type"] == "ConsentRecorded"]
    assert (recorded["obtained_by"], recorded["obtained_by_staff"], recorded["form_ref"]) == (
        "hokatsu-kita", "相談員A", "同意書-2025-015")


async def test_a_non_member_learns_nothing_of_a_case_from_its_consent_queries(
    referral_rt, nc, topology
):
    case_id = await _case(nc, topology)
    assert (await send(nc, topology, "fukushi-sodan", "record_consent",
                       _consent(case_id)))["ok"]
    for query in ("consent_history", "consent_coverage"):
        member = await ask(nc, topology, "hokatsu-kita", query, {"case_id": case_id})
        assert member["ok"], member
        answers = []
        for asked in (case_id, "case-that-does-not-exist"):
            reply = await ask(nc, topology, "hospital", query, {"case_id": asked})
            assert reply["ok"] is False and reply["error"]["code"] == "not_found", reply
            answers.append(reply["error"]["message"].replace(asked, "X"))
        assert answers[0] == answers[1]  # the same answer: existence is not disclosed


# ---- one the lead names -------------------------------------------------------------

WITH_LEAD = domain.CaseFacts(**{**CASE.__dict__, "lead": "fukushi-sodan"})


def _named(agency: str = "hospital", by: str = "fukushi-sodan") -> list:
    return [ConsentRecorderNamed(case_id="c1", agency_id=agency, named_by=by, named_on=TODAY)]


def test_only_the_lead_names_a_member_to_record_consent():
    cmd = NameConsentRecorder(command_id="n", case_id="c1", agency_id="hospital")
    with pytest.raises(Forbidden, match="only the lead agency"):
        domain.decide_name_consent_recorder(cmd, WITH_LEAD, [], _facts("hokatsu-kita"))
    [named] = domain.decide_name_consent_recorder(cmd, WITH_LEAD, [], _facts("fukushi-sodan"))
    assert (named.agency_id, named.named_by) == ("hospital", "fukushi-sodan")
    stranger = NameConsentRecorder(command_id="n", case_id="c1", agency_id="jido-sodan")
    with pytest.raises(InvalidInput, match="not an active member"):
        domain.decide_name_consent_recorder(stranger, WITH_LEAD, [], _facts("fukushi-sodan"))


def test_a_named_member_records_consent_but_never_widens_coverage_to_itself():
    others = _cmd(agencies=["hokatsu-kita"])
    assert domain.decide_consent(others, WITH_LEAD, _facts("hospital"), consent_id="k1",
                                 history=_named())
    with pytest.raises(Forbidden, match="widen coverage to itself") as refused_:
        domain.decide_consent(_cmd(), WITH_LEAD, _facts("hospital"), consent_id="k1",
                              history=_named())
    assert refused_.value.code == "widens_own_coverage"
    # Named by an earlier lead: no longer a recorder.
    with pytest.raises(Forbidden, match="may not record consent"):
        domain.decide_consent(others, WITH_LEAD, _facts("hospital"), consent_id="k1",
                              history=_named(by="hokatsu-kita"))


async def test_the_lead_names_a_member_that_then_records_a_consent_it_obtained(
    referral_rt, services, nc, topology, store
):
    await services("casefile", "meeting")
    case_id = await _case(nc, topology)  # members: hokatsu-kita, fukushi-sodan
    await _lead_named_and_hospital_invited(nc, topology, store, case_id)
    name = {"case_id": case_id, "agency_id": "hospital"}
    await refused(nc, topology, "hokatsu-kita", "name_consent_recorder",
                  {"command_id": cid(), **name}, "not_lead", "only the lead agency")
    await refused(nc, topology, "hospital", "record_consent",
                  _consent(case_id, agencies=["shakyo"]), "not_consent_recorder",
                  "may not record consent")
    named = await send(nc, topology, "shakyo", "name_consent_recorder",
                       {"command_id": cid(), **name})
    assert named["ok"], named
    await refused(nc, topology, "hospital", "record_consent",
                  _consent(case_id, agencies=["shakyo", "hospital"]), "widens_own_coverage",
                  "may not widen coverage to itself")
    ok = await send(nc, topology, "hospital", "record_consent",
                    _consent(case_id, agencies=["shakyo", "hokatsu-kita"]))
    assert ok["ok"], ok
    history = await ask(nc, topology, "shakyo", "consent_history", {"case_id": case_id})
    assert [e["type"] for e in history["result"]["events"]] == [
        "ConsentRecorderNamed", "ConsentRecorded"]


async def _lead_named_and_hospital_invited(nc, topology, store, case_id: str) -> None:
    """The hospital invited to the case; shakyo named lead by a 支援会議's decision."""
    today = today_jst().isoformat()

    async def ok(agency: str, command: str, **body) -> dict:
        reply = await send(nc, topology, agency, command, {"command_id": cid(), **body})
        assert reply["ok"], reply
        return reply

    await ok("fukushi-sodan", "invite_case_member", case_id=case_id, agency_id="hospital",
             joined_on=today)
    meeting_id = (await ok("fukushi-sodan", "schedule_meeting", kind="confidential",
                           scheduled_for=soon(), members=["shakyo"]))["ids"]["meeting_id"]
    await ok("fukushi-sodan", "table_case", meeting_id=meeting_id, case_id=case_id,
             asks=["assign_lead"])
    for agency in ("fukushi-sodan", "shakyo"):
        await ok(agency, "acknowledge_confidentiality", meeting_id=meeting_id)
    await ok("fukushi-sodan", "record_meeting_held", meeting_id=meeting_id, held_on=today,
             attendees=["fukushi-sodan", "shakyo"])
    await ok("fukushi-sodan", "record_decision", meeting_id=meeting_id, item_id="item-1",
             decision="assign_lead", reason="日常の見守り", lead_agency="shakyo")

    async def lead_named() -> bool:  # the casefile's reactor applies the decision
        history = await store.load("case", case_id)
        return any(e.type == "LeadAgencyAssigned" for e in history.envelopes)

    await eventually(lead_named, timeout=20)
