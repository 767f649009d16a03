"""Issue 15, finding 3: an agenda item's material and minutes are the person's data. At a
重層的支援会議 they go only to members a consent covers for that case **today** (not to a
member outside the consent, and not after withdrawal); at a 支援会議, to its bound members.
Proved on the pure rule (``visibility.item_basis``), then over NATS with the running service."""

from __future__ import annotations

from datetime import date

from contracts.consent import ConsentMethod, ConsentRecorded, ConsentWithdrawn
from contracts.visibility import Basis, Seat
from services.meeting.visibility import item_basis
from tests.meeting.support import (
    COORD,
    HOKATSU,
    KIKAN,
    SHAKYO,
    case_through_commands,
    today_jst,
)

TODAY = date(2026, 6, 10)
SECRET = "本人の通院歴と借入の状況"
K = ConsentRecorded(case_id="c1", consent_id="k1", person_id="p1", agencies=(COORD, HOKATSU),
                    purposes=("共有",), method=ConsentMethod.written, obtained_by=COORD,
                    given_on=date(2026, 5, 1))


def test_an_item_of_a_support_plan_meeting_shows_to_members_its_consent_covers_today():
    assert item_basis("support_plan", HOKATSU, [K], (), TODAY) == Basis(
        kind="consent", consent_id="k1")
    assert item_basis("support_plan", SHAKYO, [K], (), TODAY) is None
    gone = ConsentWithdrawn(case_id="c1", consent_id="k1", withdrawn_on=TODAY)
    assert item_basis("support_plan", HOKATSU, [K, gone], (), TODAY) is None


def test_an_item_of_a_confidential_meeting_shows_on_the_seat_never_on_consent():
    seat = Seat("s1", SHAKYO, date(2026, 5, 3))
    assert item_basis("confidential", SHAKYO, [], (seat,), TODAY) == Basis(
        kind="support_meeting", meeting_id="s1", acknowledged_at=date(2026, 5, 3))
    assert item_basis("confidential", HOKATSU, [K], (), TODAY) is None


async def test_item_material_and_minutes_go_only_to_members_covered_for_that_case(
    drv, services
):
    # The consent covers COORD, HOKATSU, KIKAN; not SHAKYO.
    case = await case_through_commands(drv.nc, drv.topology, services, plan=False)
    meeting_id = await drv.schedule(members=(HOKATSU, SHAKYO))
    await drv.ok(COORD, "table_case", meeting_id=meeting_id, case_id=case.case_id,
                 asks=["evaluate"])
    await drv.ok(COORD, "share_material", meeting_id=meeting_id, item_id="item-1",
                 title="世帯の状況", text=SECRET)
    await drv.ok(COORD, "share_material", meeting_id=meeting_id, title="会議次第",
                 text="定例の進め方")
    await drv.hold(meeting_id, attendees=(COORD, HOKATSU, SHAKYO))
    await drv.ok(COORD, "record_minutes", meeting_id=meeting_id, item_id="item-1",
                 text=f"議事: {SECRET}")

    covered = await drv.ask(HOKATSU, "meeting_materials", meeting_id=meeting_id)
    assert [(m["title"], (m["basis"] or {}).get("kind")) for m in covered] == [
        ("世帯の状況", "consent"), ("会議次第", None)]
    outside = await drv.ask(SHAKYO, "meeting_materials", meeting_id=meeting_id)
    assert [m["title"] for m in outside] == ["会議次第"]
    assert SECRET not in str(outside)
    minutes = await drv.ask(SHAKYO, "meeting_minutes", meeting_id=meeting_id)
    assert minutes["items"] == [] and SECRET not in str(minutes)
    assert [i["text"] for i in (await drv.ask(HOKATSU, "meeting_minutes",
                                              meeting_id=meeting_id))["items"]] == [
        f"議事: {SECRET}"]

    await drv.ok(COORD, "withdraw_consent", case_id=case.case_id, consent_id=case.consent_id,
                 withdrawn_on=today_jst().isoformat())
    await drv.rt.runners["meeting"].wait_for(await drv.last_seq())
    after = await drv.ask(HOKATSU, "meeting_materials", meeting_id=meeting_id)
    assert [m["title"] for m in after] == ["会議次第"]
    assert (await drv.ask(HOKATSU, "meeting_minutes", meeting_id=meeting_id))["items"] == []
    # KIKAN is covered too, but not a member of this meeting: it reads nothing of it.
    await drv.ask_refused(KIKAN, "meeting_materials", "forbidden", meeting_id=meeting_id)
