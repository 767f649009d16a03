"""The web console in a real headless Chromium (Debian's package, driven by Playwright)."""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import pytest

from contracts.base import Actor
from contracts.case import CaseOpened, CaseOrigin
from contracts.common import Concern, SubjectRef
from contracts.referral import ContactRoute, ReferralPersonal, ReferralSubmitted
from eventstore.codec import new_envelope
from eventstore.crypto import KeyRing
from tests.helpers import eventually

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
    platform, console, browser, nc, topology, store, fake_stats
):
    ARTIFACTS.mkdir(exist_ok=True)
    await platform.agency("ag-before", "前からある機関")
    url = await console()
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    await page.goto(url + "/")
    await page.wait_for_selector("#live-state.ok", timeout=15_000)
    await page.wait_for_selector('#flow tr[data-type="AgencyRegistered"]')

    # An event published during the test shows up live, with its personal data masked.
    keyring = await KeyRing.open(nc, topology)
    referral = await keyring.seal_event(ReferralSubmitted(
        referral_id="ref-live", person_id="p-live", referring_agency="ag-houkatsu",
        contact_route=ContactRoute.visit, concerns=(Concern.housing, Concern.debt),
        personal=ReferralPersonal(name=SECRET, summary="住まいを失いそう"),
    ))
    await store.append([new_envelope(referral, Actor(agency_id="ag-houkatsu"))])
    row = page.locator('#flow tr[data-type="ReferralSubmitted"]')
    await row.wait_for(timeout=15_000)
    text = await row.inner_text()
    assert "つなぐシート受付" in text and "ref-live" in text and "«個人情報»" in text
    assert SECRET not in await page.content()
    await page.screenshot(path=str(ARTIFACTS / "console-live-flow.png"), full_page=True)

    # Filtering by case: only that case's events flow.
    await page.goto(url + "/?case=case-live")
    await page.wait_for_selector("#live-state.ok", timeout=15_000)
    for case_id in ("case-other", "case-live"):
        opened = CaseOpened(case_id=case_id, subject=SubjectRef(person_id="p-live"),
                            origin=CaseOrigin.outreach, opened_on=date(2025, 6, 1),
                            coordinator="ag-coord")
        await store.append([new_envelope(opened, Actor(agency_id="ag-coord"))])
    await page.wait_for_selector('#flow tr[data-type="CaseOpened"]', timeout=15_000)
    rows = await page.locator("#flow tbody tr").all_inner_texts()
    assert len(rows) == 1 and "case-live" in rows[0]

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
