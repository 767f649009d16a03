"""The web console in a real headless Chromium (Debian's package, driven by Playwright)."""

from __future__ import annotations

import os
import re
import shutil
from datetime import date
from pathlib import Path
from uuid import NAMESPACE_URL, uuid5

import pytest

from tests.helpers import eventually, register_agency, send

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SECRET = "秘密 太郎"


def chromium_or_skip() -> str:
    found = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if found:
        return found
    message = ("the console's browser test needs Chromium: install Debian's package with "
               "`apt-get install -y chromium` (CI's .ci/run does) and run it again")
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
async def browser():
    executable = chromium_or_skip()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=executable, args=ARGS)
        yield chromium
        await chromium.close()


async def test_the_console_shows_live_events_masked_and_retries_a_dead_letter(
    platform, console, browser, nc, topology, store, fake_stats, services
):
    ARTIFACTS.mkdir(exist_ok=True)
    await platform.agency("ag-before", "前からある機関")
    await register_agency(store, "ag-houkatsu")
    await register_agency(store, "ag-coord", can_triage=True)
    await services("referral", "casefile")
    url = await console()
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    await page.goto(url + "/")
    await page.wait_for_selector("#live-state.ok", timeout=15_000)
    await page.wait_for_selector('#flow tr[data-type="AgencyRegistered"]')

    # An event sent during the test shows up live, with its personal data masked.
    submitted = await ok(nc, topology, "ag-houkatsu", "submit_referral", {
        "command_id": "live-referral", "contact_route": "visit",
        "concerns": ["housing", "debt"],
        "personal": {"name": SECRET, "address": "茨木市駅前一丁目",
                     "summary": "住まいを失いそう"}})
    row = page.locator('#flow tr[data-type="ReferralSubmitted"]')
    await row.wait_for(timeout=15_000)
    text = await row.inner_text()
    assert "つなぐシート受付" in text and submitted["ids"]["referral_id"] in text
    assert "«個人情報»" in text
    # New events, like the ones before, are shown in Japan time with the zone named.
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d JST", text), text
    before = await page.locator('#flow tr[data-type="AgencyRegistered"]').first.inner_text()
    assert re.search(r"\d\d:\d\d JST", before), before
    assert SECRET not in await page.content()
    await page.screenshot(path=str(ARTIFACTS / "console-live-flow.png"), full_page=True)

    # Filtering by case: only that case's events flow (the id the casefile will derive).
    live = case_id_of("ag-coord", "open-live")
    await page.goto(url + f"/?case={live}")
    await page.wait_for_selector("#live-state.ok", timeout=15_000)
    for command_id in ("open-other", "open-live"):
        opened = await ok(nc, topology, "ag-coord", "open_case", {
            "command_id": command_id, "program": "outreach",
            "subject": {"person_id": f"p-{command_id}"}, "opened_on": date.today().isoformat()})
    assert opened["ids"]["case_id"] == live
    await page.wait_for_selector('#flow tr[data-type="CaseOpened"]', timeout=15_000)
    rows = await page.locator("#flow tbody tr").all_inner_texts()
    assert all(live in r for r in rows) and any("CaseOpened" in r for r in rows)

    # A dead letter is retried from the page once the projection can apply it.
    platform.projection.poison.add("壊れた機関")
    await platform.agency("ag-broken", "壊れた機関")
    await eventually(lambda: platform.runner.dead_lettered == 1, timeout=20)
    platform.projection.poison.clear()
    await page.goto(url + "/dlq")
    button = page.locator('button.retry[data-seq="1"]')
    await button.wait_for()
    assert "cannot apply agency named 壊れた機関" in await page.inner_text("#dead-letters")
    await page.screenshot(path=str(ARTIFACTS / "console-dead-letters.png"), full_page=True)
    await button.click()
    await page.wait_for_selector("#dlq-message.ok", timeout=15_000)
    assert "再処理しました" in await page.inner_text("#dlq-message")
    assert (await nc.jetstream().stream_info(topology.dlq_stream)).state.messages == 0
    assert platform.projection.count(platform.runtime.engine, "ag-broken") == 1

    # Consumers and lag per service, and the statistics with their chart.
    await page.goto(url + "/status")
    await page.wait_for_selector('#consumers tr[data-projection="opsdemo_seen"]')
    assert "稼働中" in await page.inner_text("#services")
    await page.screenshot(path=str(ARTIFACTS / "console-status.png"), full_page=True)
    await page.goto(url + "/stats?as_of=2025-11-30")
    await page.wait_for_selector('section[data-program="multi_agency"] svg')
    await page.screenshot(path=str(ARTIFACTS / "console-stats.png"), full_page=True)
    await page.close()



async def ok(nc, topology, agency: str, command: str, body: dict) -> dict:
    reply = await send(nc, topology, agency, command, body)
    assert reply["ok"], reply
    return reply


def case_id_of(agency: str, command_id: str) -> str:
    """The case id the casefile derives for ``open_case`` (services/casefile/handlers.py)."""
    return f"case-{uuid5(NAMESPACE_URL, f'{agency}/{command_id}').hex[:20]}"
