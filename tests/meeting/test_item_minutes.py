"""Minutes and material of one agenda item are sealed with the item's case key (erasing the
person shreds them); the meeting's own minutes and material keep the meeting's key."""

from __future__ import annotations

from contracts.meeting import MaterialShared, MinutesRecorded
from tests.meeting.support import COORD, HOKATSU, CaseRef, case_through_commands


async def test_an_items_minutes_are_sealed_with_its_case_key_and_listed_per_item(
    drv, services
):
    meeting_id, case = await _tabled(drv, services)
    await drv.hold(meeting_id)
    await drv.ok(COORD, "record_minutes", meeting_id=meeting_id, item_id="item-1",
                 text="本人の通院状況を確認した")
    await drv.ok(COORD, "record_minutes", meeting_id=meeting_id, text="地域資源の不足を確認")
    item, whole = [e for e in await drv.events_of(meeting_id) if isinstance(e, MinutesRecorded)]
    c = case.case_id
    assert (item.item_id, item.case_id, item.personal.key_id) == ("item-1", c, c)
    assert (whole.item_id, whole.case_id, whole.personal.key_id) == (None, None, meeting_id)
    minutes = await drv.ask(HOKATSU, "meeting_minutes", meeting_id=meeting_id)
    assert minutes["text"] == "地域資源の不足を確認" and minutes["erased"] is False
    assert minutes["items"] == [{"item_id": "item-1", "case_id": c, "recorded_by": COORD,
                                 "text": "本人の通院状況を確認した", "erased": False,
                                 "basis": {"kind": "consent", "consent_id": case.consent_id,
                                           "meeting_id": None, "acknowledged_at": None}}]


async def test_minutes_for_an_item_not_on_the_agenda_or_twice_are_refused(drv, services):
    meeting_id, _ = await _tabled(drv, services)
    await drv.hold(meeting_id)
    error = await drv.refused(COORD, "record_minutes", "not_on_agenda", meeting_id=meeting_id,
                              item_id="item-9", text="議事")
    assert error["message"].startswith("item_id:") and error["details"]["field"] == "item_id"
    await drv.ok(COORD, "record_minutes", meeting_id=meeting_id, item_id="item-1", text="議事")
    error = await drv.refused(COORD, "record_minutes", "already_recorded",
                              meeting_id=meeting_id, item_id="item-1", text="again")
    assert error["details"]["field"] == "item_id"
    # Only the meeting's own minutes exist once per meeting; each item has its own.
    await drv.ok(COORD, "record_minutes", meeting_id=meeting_id, text="全体")


async def test_an_items_material_carries_its_case_and_is_sealed_with_its_key(
    drv, services
):
    meeting_id, case = await _tabled(drv, services)
    await drv.ok(COORD, "share_material", meeting_id=meeting_id, item_id="item-1",
                 title="世帯の状況", text="内容")
    await drv.ok(COORD, "share_material", meeting_id=meeting_id, title="全体資料", text="内容")
    item, whole = [e for e in await drv.events_of(meeting_id) if isinstance(e, MaterialShared)]
    assert (item.case_id, item.personal.key_id) == (case.case_id, case.case_id)
    assert (whole.case_id, whole.personal.key_id) == (None, meeting_id)
    materials = await drv.ask(HOKATSU, "meeting_materials", meeting_id=meeting_id)
    assert [(m["case_id"], m["erased"]) for m in materials] == [(case.case_id, False),
                                                                  (None, False)]


async def _tabled(drv, services) -> tuple[str, CaseRef]:
    """A meeting with a consented case as item-1."""
    case = await case_through_commands(drv.nc, drv.topology, services, plan=False)
    meeting_id = await drv.schedule()
    await drv.ok(COORD, "table_case", meeting_id=meeting_id, case_id=case.case_id,
                 asks=["evaluate"])
    return meeting_id, case
