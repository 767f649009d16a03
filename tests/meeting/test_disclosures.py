"""A meeting's item material and minutes are recorded per case, on the basis each row was
shown on; material of the whole meeting is about no one person and is not recorded."""

from __future__ import annotations

from services.meeting.disclosures import of_materials, of_minutes

SEAT = {"kind": "support_meeting", "consent_id": None, "meeting_id": "m1",
        "acknowledged_at": "2026-05-01"}


def test_item_material_is_recorded_once_per_case_with_its_basis_and_field_names():
    rows = [
        {"material_id": "x1", "case_id": "c1", "title": "資料", "text": "本文", "basis": SEAT},
        {"material_id": "x2", "case_id": "c1", "title": "追加", "text": None,
         "attachment": {"object_name": "sha256-ab"}, "basis": SEAT},
        {"material_id": "x3", "case_id": None, "title": "全体資料", "text": "…", "basis": None},
    ]
    [record] = of_materials("hospital", rows)
    assert (record.agency, record.case_id, record.person_id) == ("hospital", "c1", None)
    assert record.fields == ("material.attachment", "material.text", "material.title")
    assert record.basis == SEAT and record.channel == "query.meeting_materials"


def test_erased_item_minutes_disclose_nothing():
    result = {"items": [{"case_id": "c1", "text": None, "basis": SEAT},
                        {"case_id": "c2", "text": "議事", "basis": SEAT}]}
    assert [r.case_id for r in of_minutes("hospital", result)] == ["c2"]
