"""A case view always fits in one message; the rest is read page by page (issue #14,
finding 6: the feed's too-large notice names ``case_view``, which must then answer)."""

from __future__ import annotations

import pytest

from services.casefile.paging import fit, page, size

ITEM = {"assessment_id": "a", "personal": {"notes": "状" * 1000}}  # ≈ 3 KB each


def view(n: int, **lists: list) -> dict:
    return {"case_id": "c1", "stage": "support", "redacted": False,
            "assessments": [{**ITEM, "assessment_id": f"a{i}"} for i in range(n)], **lists}


def test_a_view_that_fits_is_given_whole():
    v = view(3)
    assert fit(v, budget=100_000) is v


@pytest.mark.parametrize("n", [10, 31, 200])
def test_a_view_too_large_is_cut_to_the_budget_and_says_how_to_read_the_rest(n):
    v = view(n, members=[{"agency_id": "hokatsu"}])
    cut = fit(v, budget=20_000)
    assert size(cut) <= 20_000
    assert cut["members"] == v["members"]  # small lists first, kept whole
    more = cut["more"]["assessments"]
    assert more["total"] == n and more["returned"] == len(cut["assessments"]) < n
    assert more["read_with"] == {"case_id": "c1", "section": "assessments",
                                 "offset": more["returned"]}


def test_reading_page_by_page_from_the_cut_view_gives_every_item_once_in_order():
    v = view(31)
    cut = fit(v, budget=20_000)
    items, offset = list(cut["assessments"]), cut["more"]["assessments"]["returned"]
    while offset is not None:
        p = page(v, "assessments", offset, budget=20_000)
        assert size(p) <= 20_000 and p["total"] == 31
        items += p["items"]
        offset = p["next_offset"]
    assert items == v["assessments"]


def test_a_page_always_holds_one_item_so_reading_ends():
    p = page(view(2), "assessments", 0, budget=10)
    assert len(p["items"]) == 1 and p["next_offset"] == 1


def test_a_page_past_the_end_is_empty_and_the_last():
    assert page(view(2), "assessments", 5, budget=10_000) == {
        "case_id": "c1", "redacted": False, "section": "assessments", "offset": 5,
        "total": 2, "items": [], "next_offset": None}

