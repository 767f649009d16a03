"""A referral from submission through triage, application and consent, over real NATS."""

from __future__ import annotations

from contracts.base import Sealed
from contracts.case import CaseOpened, EnrollmentStarted, MemberJoined
from contracts.referral import ReferralTriaged
from tests.referral.support import ask, cid, send, submit, synced


async def test_a_complex_referral_goes_from_sheet_to_consent_and_shows_in_the_right_inboxes(
    referral_rt, nc, topology, store
):
    sub = await submit(nc, topology, "hokatsu-kita")
    referral_id = sub["ids"]["referral_id"]

    triage = await send(nc, topology, "fukushi-sodan", "triage_referral", {
        "command_id": cid("tri"), "referral_id": referral_id, "outcome": "complex",
        "triaged_on": "2025-06-02",
    })
    assert triage["ok"], triage
    case_id = triage["ids"]["case_id"]
    assert [e["type"] for e in triage["events"]] == [
        "ReferralTriaged", "CaseOpened", "EnrollmentStarted", "MemberJoined", "MemberJoined",
    ]
    # One atomic batch: consecutive stream sequences.
    seqs = [e["seq"] for e in triage["events"]]
    assert seqs == list(range(seqs[0], seqs[0] + 5))

    case = [env.event for env in (await store.load("case", case_id)).envelopes]
    opened = case[0]
    assert isinstance(opened, CaseOpened)
    assert opened.referral_id == referral_id and opened.coordinator == "fukushi-sodan"
    assert str(opened.opened_on) == "2025-06-02" and opened.sex.value == "male"
    submitted = (await store.load("referral", referral_id)).envelopes[0].event
    assert opened.subject.person_id == submitted.person_id
    assert isinstance(case[1], EnrollmentStarted) and case[1].program.value == "multi_agency"
    assert [(m.agency_id, m.how.value) for m in case[2:] if isinstance(m, MemberJoined)] == [
        ("hokatsu-kita", "referral"), ("fukushi-sodan", "triage"),
    ]
    # The case's personal block is sealed on the stream and opens to the subject's key.
    assert isinstance(opened.personal, Sealed)
    await referral_rt.keyring.prefetch({opened.personal.key_id})
    unsealed = referral_rt.keyring.unseal_event(opened)
    assert unsealed.personal.kana == "ヤマダ タロウ"

    # The coordinator records it, naming the member that obtained it, its staff and form.
    app = await send(nc, topology, "fukushi-sodan", "record_application", {
        "command_id": cid("app"), "case_id": case_id, "applied_on": "2025-06-10",
        "with_consent": True,
        "consent": {"agencies": ["hokatsu-kita", "fukushi-sodan", "shakyo"],
                    "purposes": ["支援方針の検討"], "method": "written",
                    "given_on": "2025-06-10", "valid_until": "2026-03-31",
                    "obtained_by": "hokatsu-kita", "obtained_by_staff": "相談員A",
                    "form_ref": "同意書-2025-001"},
    })
    assert app["ok"], app
    assert [e["type"] for e in app["events"]] == ["ApplicationRecorded", "ConsentRecorded"]

    await synced(referral_rt, nc, topology)
    sender = (await ask(nc, topology, "hokatsu-kita", "inbox"))["result"]
    assert [r["referral_id"] for r in sender["sent"]] == [referral_id]
    row = sender["sent"][0]
    assert row["status"] == "triaged" and row["outcome"] == "complex"
    assert row["case_id"] == case_id and row["last_actor"] == "fukushi-sodan"
    coordinator = (await ask(nc, topology, "fukushi-sodan", "inbox"))["result"]
    assert [r["referral_id"] for r in coordinator["triaged"]] == [referral_id]
    for other in ("shakyo", "hospital", "jido-sodan"):
        box = (await ask(nc, topology, other, "inbox"))["result"]
        assert box == {"sent": [], "received": [], "triaged": []}, other

    covered = await ask(nc, topology, "fukushi-sodan", "consent_coverage",
                        {"case_id": case_id, "agency_id": "shakyo", "on": "2025-07-01"})
    assert covered["result"]["covered"] is True
    assert covered["result"]["state"] == "consented"
    for agency_id, on in (("hospital", "2025-07-01"), ("shakyo", "2025-06-09"),
                          ("shakyo", "2026-04-01")):
        answer = await ask(nc, topology, "fukushi-sodan", "consent_coverage",
                           {"case_id": case_id, "agency_id": agency_id, "on": on})
        assert answer["result"]["covered"] is False, (agency_id, on)


async def test_an_ordinary_referral_is_handed_to_the_named_agency_which_sees_it(
    referral_rt, nc, topology
):
    referral_id = (await submit(nc, topology, "hokatsu-kita"))["ids"]["referral_id"]
    reply = await send(nc, topology, "fukushi-seisaku", "triage_referral", {
        "command_id": cid(), "referral_id": referral_id, "outcome": "ordinary",
        "assigned_agency": "shakyo",
    })
    assert reply["ok"], reply
    assert [e["type"] for e in reply["events"]] == ["ReferralTriaged"]
    await synced(referral_rt, nc, topology)
    received = (await ask(nc, topology, "shakyo", "inbox"))["result"]["received"]
    assert [(r["referral_id"], r["outcome"], r["triaged_by"]) for r in received] == [
        (referral_id, "ordinary", "fukushi-seisaku")
    ]
    assert (await ask(nc, topology, "hospital", "inbox"))["result"]["received"] == []
    # The agency it was handed to may read the sheet; an unrelated agency may not.
    sheet = await ask(nc, topology, "shakyo", "referral", {"referral_id": referral_id})
    assert sheet["result"]["sheet"]["personal"]["name"] == "山田 太郎"
    denied = await ask(nc, topology, "hospital", "referral", {"referral_id": referral_id})
    assert denied["error"]["code"] == "forbidden"


async def test_a_returned_referral_carries_its_reason_to_the_sender(referral_rt, nc, topology,
                                                                    store):
    referral_id = (await submit(nc, topology, "shakyo"))["ids"]["referral_id"]
    reply = await send(nc, topology, "fukushi-sodan", "triage_referral", {
        "command_id": cid(), "referral_id": referral_id, "outcome": "returned",
        "reason": "包括で継続対応が適当",
    })
    assert reply["ok"], reply
    event = (await store.load("referral", referral_id)).envelopes[-1].event
    # Free text about the person: only in the sealed block, shown to the sender unsealed.
    assert isinstance(event, ReferralTriaged) and event.reason is None
    assert isinstance(event.personal_reason, Sealed)
    assert event.personal_reason.key_id == event.person_id
    await synced(referral_rt, nc, topology)
    sent = (await ask(nc, topology, "shakyo", "inbox"))["result"]["sent"]
    assert sent[0]["outcome"] == "returned" and sent[0]["reason"] == "包括で継続対応が適当"


async def test_a_retried_triage_lands_on_the_same_case_and_appends_nothing(
    referral_rt, nc, topology
):
    referral_id = (await submit(nc, topology))["ids"]["referral_id"]
    cmd = {"command_id": cid(), "referral_id": referral_id, "outcome": "complex"}
    first = await send(nc, topology, "fukushi-sodan", "triage_referral", cmd)
    again = await send(nc, topology, "fukushi-sodan", "triage_referral", cmd)
    assert first["ok"] and again["ok"] and again["replayed"]
    assert again["ids"] == first["ids"] and again["events"] == first["events"]


async def test_the_triage_queue_shows_waiting_referrals_with_their_waiting_days(
    referral_rt, nc, topology
):
    waiting = (await submit(nc, topology))["ids"]["referral_id"]
    done = (await submit(nc, topology, "shakyo"))["ids"]["referral_id"]
    await send(nc, topology, "fukushi-sodan", "triage_referral",
               {"command_id": cid(), "referral_id": done, "outcome": "returned",
                "reason": "重複"})
    await synced(referral_rt, nc, topology)
    # The sheets were submitted on 2025-06-01 (occurred_at).
    queue = await ask(nc, topology, "fukushi-sodan", "triage_queue", {"as_of": "2025-06-11"})
    rows = queue["result"]["waiting"]
    assert [r["referral_id"] for r in rows] == [waiting]
    assert rows[0]["waiting_days"] == 10 and rows[0]["submitted_on"] == "2025-06-01"
    # The configured triage agency has the same queue.
    other = await ask(nc, topology, "fukushi-seisaku", "triage_queue", {"as_of": "2025-06-02"})
    assert other["result"]["waiting"][0]["waiting_days"] == 1
    denied = await ask(nc, topology, "hokatsu-kita", "triage_queue")
    assert denied["error"]["code"] == "forbidden"
