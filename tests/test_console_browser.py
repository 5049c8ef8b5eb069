"""The supervisor console as a supervisor uses it, in real Chromium against the real app
(SQLite and PostgreSQL): a contact arrives on the wallboard without a reload, its page explains
who could take it, the supervisor moves it to another skill and sees it offered. axe-core on
every page at 1280 px and 390 px; screenshots in artifacts/screenshots/."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from router.context import engine_of
from tests.browser_support import browser, no_serious_violations, signed_in_console, url
from tests.engine_support import arrive

pytestmark = pytest.mark.browser


async def test_a_supervisor_watches_a_contact_arrive_explains_it_and_moves_it(
        site: TestServer) -> None:
    engine = engine_of(site.app)
    await engine.set_status("e-ann", "available")  # ann holds dementia; nobody free for housing
    async with browser() as chromium:
        page = await signed_in_console(chromium, site)
        await expect(page.locator("#connection")).to_contain_text("Live")
        await expect(page.locator("#waiting")).to_have_text("0")
        await page.evaluate("window.stillHere = true")  # gone if the page reloads
        contact_id = await arrive(site.app, "CA-console-1", "housing")
        row = page.locator("#skills tr[data-skill=housing]")
        await expect(row.locator("td").first).to_have_text("1")  # pushed, not reloaded
        await expect(page.locator("#waiting")).to_have_text("1")
        assert await page.evaluate("window.stillHere") is True
        stats = engine.core.queue_stats()
        assert [(q.skill, q.waiting) for q in stats] == [("housing", 1)]
        await no_serious_violations(page, "console-wallboard")

        await page.get_by_role("link", name=contact_id).click()
        heading = page.get_by_role("heading", name=f"Contact {contact_id}")
        await expect(heading).to_be_visible()
        await expect(page.locator("#now-reason")).to_contain_text("nobody")
        await no_serious_violations(page, "console-contact")

        await page.wait_for_load_state("load")
        await page.get_by_label("Skill").select_option("dementia")
        await page.locator("#move-why").fill("She asked about her mother's dementia")
        await page.get_by_role("button", name="Move contact").click()
        await expect(page.locator("#notice")).to_contain_text("Contact moved")
        await expect(page.locator("#contact-skill")).to_have_text("dementia")
        await expect(page.locator("#contact-state")).to_contain_text("offered")
        await expect(page.get_by_role("button", name="Set e-ann away and withdraw the offer")
                     ).to_be_visible()


async def test_a_refused_move_says_why_and_the_contact_list_finds_contacts(
        site: TestServer) -> None:
    contact_id = await arrive(site.app, "CA-console-2", "housing")
    async with browser() as chromium:
        page = await signed_in_console(chromium, site)
        await expect(page.locator("#connection")).to_contain_text("Live")
        await page.goto(url(site, "/console/contacts?q=CA-console-2"))
        await expect(page.get_by_role("link", name=contact_id)).to_be_visible()
        await no_serious_violations(page, "console-contacts")
        await page.get_by_role("link", name=contact_id).click()
        await page.wait_for_load_state("load")  # the form's script has run
        await page.get_by_role("button", name="Move contact").click()  # no reason given
        summary = page.locator("#error-summary")
        await expect(summary).to_be_visible()
        await expect(summary).to_contain_text("Say why")
        await expect(page.locator("#contact-skill")).to_have_text("housing")
