"""The web console over HTTP (the browser test is test_console_browser.py)."""

from __future__ import annotations

import httpx
import pytest

from tsunagu.ops.console import ConsoleConfig


def test_binding_beyond_loopback_without_a_token_is_refused():
    with pytest.raises(ValueError, match="give a token"):
        ConsoleConfig.checked(host="0.0.0.0", port=8780, token=None)
    assert ConsoleConfig.checked(host="0.0.0.0", port=8780, token="s3cret").token == "s3cret"
    assert ConsoleConfig.checked(host="127.0.0.1", port=8780, token=None).token is None


async def test_the_console_command_refuses_a_public_bind_without_a_token(cli):
    result = await cli("console", "--host", "0.0.0.0", "--port", "1")
    assert result.exit_code == 2
    assert "give a token" in result.output


async def test_with_a_token_every_request_must_carry_it(platform, console):
    url = await console(token="s3cret")
    async with httpx.AsyncClient(base_url=url) as http:
        for path in ("/", "/status", "/api/status", "/dlq", "/static/console.js"):
            assert (await http.get(path)).status_code == 401, path
        assert (await http.post("/api/dlq/1/retry")).status_code == 401
        assert (await http.get("/", headers={"Authorization": "Bearer wrong"})).status_code == 401
        ok = await http.get("/api/status", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        # ?token= once sets a cookie, so the browser's later requests (and SSE) carry it.
        first = await http.get("/?token=s3cret")
        assert first.status_code == 200
        assert (await http.get("/status")).status_code == 200


async def test_pages_are_japanese_and_show_consumers_and_lag(platform, console):
    seq = await platform.agency("c1")
    await platform.settle(seq)
    url = await console()
    async with httpx.AsyncClient(base_url=url) as http:
        page = (await http.get("/status")).text
        assert "コンシューマーと遅延" in page and "opsdemo_seen" in page
        assert "稼働中" in page
        doc = (await http.get("/api/status")).json()
        assert doc["projections"][0]["checkpoint"] == seq
        assert "イベントの流れ" in (await http.get("/")).text


async def test_dlq_retry_needs_the_console_header(platform, console):
    url = await console()
    async with httpx.AsyncClient(base_url=url) as http:
        response = await http.post("/api/dlq/1/retry")
        assert response.status_code == 403


async def test_the_stats_page_shows_the_report_with_its_chart(platform, console, fake_stats):
    url = await console()
    async with httpx.AsyncClient(base_url=url) as http:
        page = (await http.get("/stats?as_of=2025-11-30")).text
    assert "令和7年11月30日時点（（）内は令和6年11月30日時点）" in page
    assert "多機関協働事業実施状況" in page and "参加支援実施状況" in page
    assert "相談者数（実数）</th><td>120（130）" in page
    assert "連携した機関数</th><td>117（171）" in page
    assert "うち関係機関</th><td>19（51）" in page  # 参加支援 only
    assert page.count("うち関係機関") == 1
    assert page.count("<svg") == 3 and "40代" in page


def test_a_report_of_another_shape_is_still_shown_as_figures_with_their_prior_year():
    from tsunagu.ops.stats_view import report_view

    view = report_view({"programs": {"outreach": {"persons": {"current": 5, "prior": 3}}}})
    [program] = view["programs"]
    assert program.label == "アウトリーチ等を通じた継続的支援事業"
    assert [(f.path, f.value, f.prior) for f in program.figures] == [("persons", 5.0, 3.0)]
    assert "<svg" in program.chart_svg


async def test_the_stats_page_says_when_the_stats_service_does_not_answer(platform, console):
    url = await console()
    async with httpx.AsyncClient(base_url=url) as http:
        page = (await http.get("/stats?as_of=2025-11-30")).text
        bad = (await http.get("/stats?as_of=2025-13-40")).text
    assert "統計サービス（stats）が応答しません" in page
    assert "日付" in bad and "不正" in bad


async def test_the_disclosure_page_shows_who_was_given_a_persons_data_in_jst(
    platform, console, nc, topology
):
    from eventstore.disclosure import Disclosure, DisclosureLog

    await DisclosureLog(nc, topology).record(
        Disclosure.new(agency="hokatsu", person_id="p-1", case_id="c-1",
                       fields=["subject.name"], channel="query.case_view",
                       basis={"kind": "consent", "consent_id": "k-1"}),
        Disclosure.new(agency="hospital", person_id="p-2", case_id="c-2",
                       fields=["subject.phone"], channel="feed",
                       basis={"kind": "support_meeting", "meeting_id": "m-1"}))
    url = await console()
    async with httpx.AsyncClient(base_url=url) as http:
        by_person = (await http.get("/disclosures?person=p-1")).text
        by_agency = (await http.get("/disclosures?agency=hospital")).text
        empty = (await http.get("/disclosures")).text
        bad = await http.get("/disclosures?person=p-1.>")
    assert "情報の提供記録" in by_person and "hokatsu" in by_person
    assert "同意 k-1" in by_person and "JST" in by_person and "hospital" not in by_person
    assert "支援会議 m-1" in by_agency and "p-2" in by_agency and "p-1" not in by_agency
    assert "本人IDまたは提供先" in empty
    assert bad.status_code == 400 and "person" in bad.text
