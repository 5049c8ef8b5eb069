"""The console's staffing page and audit log as a supervisor uses them, in real Chromium
(Playwright, Debian's chromium) against the real app on a real database: sign in with a link,
work out a staffing, read the audit log; axe-core at 1280 px and 390 px on both pages, and
screenshots ``console-staffing`` and ``console-audit`` in artifacts/screenshots/."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from base.access import Role
from expertline.app import DATABASE
from expertline.auth import issue_token
from scheduler import erlang
from tests.browser_support import browser, no_serious_violations, sign_in_link, url

pytestmark = pytest.mark.browser



async def admin_changes(site: TestServer) -> None:
    """An admin renames nhs-a's expert and council-b's through the API."""
    async with site.app[DATABASE].transaction() as session:
        token, _ = await issue_token(session, role=Role.ADMIN)
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http:
        for expert, name in (("e-ann", "Ann Jones"), ("e-cat", "Cat Evans")):
            async with http.patch(url(site, f"/api/v1/experts/{expert}"), json={"name": name},
                                  headers=headers) as resp:
                assert resp.status == 200


async def test_a_supervisor_works_out_a_staffing_and_reads_the_audit_log(
        site: TestServer) -> None:
    await admin_changes(site)
    async with browser() as chromium:
        page = await chromium.new_page()
        await page.goto(await sign_in_link(site, Role.SUPERVISOR, expert=None,
                                           orgs=frozenset({"nhs-a"})))
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("navigation", name="Console sections").get_by_role(
            "link", name="Staffing").click()
        await expect(page.get_by_role("heading", name="Staffing", level=1)).to_be_visible()

        await page.get_by_label("Contacts offered per hour").fill("two hundred")
        await page.get_by_role("button", name="Work it out").click()
        summary = page.locator(".govuk-error-summary")
        await expect(summary).to_contain_text("Contacts offered per hour must be a number")
        await expect(summary.get_by_role("link", name="Contacts offered per hour must be a "
                                         "number")).to_have_attribute("href", "#calls_per_hour")
        await expect(page.get_by_label("Contacts offered per hour")).to_have_accessible_description(
            "Calls and chats that arrive in one hour, for example 200 Error: Contacts offered per "
            "hour must be a number")

        await page.get_by_label("Contacts offered per hour").fill("200")
        await page.get_by_label("Average handling time").fill("180")
        await page.get_by_label("Target answer time").fill("20")
        await page.get_by_label("Service level target").fill("80")
        await page.get_by_label("Average patience (optional)").fill("120")
        await page.get_by_label("Agents on duty (optional)").fill("13")
        await page.get_by_role("button", name="Work it out").click()
        await expect(page.locator(".govuk-error-summary")).to_have_count(0)
        fewest_c, fewest_a = erlang.staff(200, 180, 20, 0.8), erlang.staff(200, 180, 20, 0.8, 120)
        await expect(page.locator("#traffic")).to_have_text("10.00 Erlangs")
        await expect(page.locator("#fewest-c")).to_have_text(str(fewest_c.agents))
        await expect(page.locator("#fewest-a")).to_have_text(str(fewest_a.agents))
        at_13 = erlang.erlang_c(200, 180, 13, 20)
        await expect(page.locator("#agents-c-pw")).to_have_text(f"{at_13.pw * 100:.1f}%")
        curve = page.get_by_role("table", name="Service level")
        await expect(curve.get_by_role("row")).to_have_count(9)  # a header and agents 13..20
        await expect(curve.get_by_role("rowheader", name="13")).to_be_visible()
        await no_serious_violations(page, "console-staffing")

        await page.get_by_role("link", name="Audit log").click()
        await expect(page.get_by_role("heading", name="Audit log", level=1)).to_be_visible()
        records = page.get_by_role("table", name="Audit records")
        await expect(records).to_contain_text("name: Ann → Ann Jones")
        await expect(records).not_to_contain_text("Cat Evans")  # council-b's: not theirs
        await page.get_by_label("Entity").select_option("expert")
        await page.get_by_role("button", name="Show records").click()
        await expect(page.get_by_role("heading", name="1 record")).to_be_visible()
        await no_serious_violations(page, "console-audit")
