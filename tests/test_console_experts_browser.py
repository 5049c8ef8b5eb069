"""The console's pool pages as a supervisor uses them, in real Chromium against the real app on
a real database (SQLite and PostgreSQL): sign in with a link, filter the experts by a skill,
open one, change a proficiency level through the page's script (which calls the JSON API) and
see it saved, in the API and in the routing engine; axe-core at 1280 px and 390 px."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from base.access import Role
from router.context import engine_of
from tests.browser_support import browser, no_serious_violations, sign_in_link, url

pytestmark = pytest.mark.browser




async def routing_level(site: TestServer, expert_id: str, skill: str) -> int | None:
    """The level the routing engine holds, once the reloads the change started are done."""
    engine = engine_of(site.app)
    for _ in range(100):
        if not engine._tasks:
            break
        await asyncio.gather(*engine._tasks)
    profile = engine.core.profile(expert_id)
    return None if profile is None else profile.skills.get(skill)


async def test_a_supervisor_finds_an_expert_by_skill_and_changes_a_level(
        site: TestServer) -> None:
    async with browser() as chromium:
        page = await chromium.new_page()
        await page.goto(await sign_in_link(site, Role.SUPERVISOR, expert=None,
                                           orgs=frozenset({"nhs-a"})))
        await page.get_by_role("button", name="Sign in").click()
        sections = page.get_by_role("navigation", name="Console sections")
        await sections.get_by_role("link", name="Experts").click()
        await expect(page.get_by_role("heading", name="Experts", level=1)).to_be_visible()
        table = page.get_by_role("table", name="Experts found")
        await expect(table.get_by_role("link", name="Ann")).to_be_visible()
        await expect(page.get_by_text("e-cat")).to_have_count(0)  # another organisation's

        await page.get_by_label("Skill", exact=True).select_option(label="Carers Support")
        await page.get_by_role("button", name="Search").click()
        await expect(page).to_have_url(url(site, "/console/experts?q=&skill=carers-support"
                                                 "&org=&language="))
        await expect(table.get_by_role("link")).to_have_count(1)
        await expect(table.get_by_role("link", name="Bob")).to_be_visible()
        await expect(page.get_by_text("Showing 1 to 1 of 1 expert.")).to_be_visible()
        await no_serious_violations(page, "console-experts")

        await table.get_by_role("link", name="Bob").click()
        await expect(page.get_by_role("heading", name="Bob", level=1)).to_be_visible()
        level = page.get_by_label("Level for Dementia")
        await expect(level).to_have_value("4")
        await level.select_option("2")
        await page.get_by_role("button", name="Save level for Dementia").click()
        banner = page.get_by_role("alert")
        await expect(banner).to_contain_text("Dementia: level 2 saved")
        await expect(banner).to_be_focused()
        await expect(page.get_by_label("Level for Dementia")).to_have_value("2")
        await no_serious_violations(page, "console-expert")

        answer = await page.request.get(url(site, "/api/v1/experts/e-bob"))
        assert answer.ok and (await answer.json())["skills"]["dementia"] == 2
        assert await routing_level(site, "e-bob", "dementia") == 2


async def test_the_api_s_refusal_shows_in_an_error_summary_and_changes_nothing(
        site: TestServer) -> None:
    async with browser() as chromium:
        page = await chromium.new_page()
        await page.goto(await sign_in_link(site, Role.SUPERVISOR, expert=None,
                                           orgs=frozenset({"nhs-a"})))
        await page.get_by_role("button", name="Sign in").click()
        await page.goto(url(site, "/console/experts/e-ann"))
        await page.get_by_label("Accreditation", exact=True).fill("Not A Slug")
        await page.get_by_role("button", name="Add accreditation").click()
        summary = page.locator("#error-summary")
        await expect(summary).to_be_visible()
        await expect(summary).to_be_focused()
        await expect(summary).to_contain_text("'name'")  # the API's own message
        field_error = page.locator(".govuk-error-message")
        await expect(field_error).to_have_count(1)
        await expect(page.get_by_label("Accreditation", exact=True)).to_have_accessible_description(
            "Its short name in lower case, for example: enhanced-dbs Error: " +
            (await field_error.inner_text()).removeprefix("Error:").strip())
        await page.get_by_label("Day").fill("31")
        await page.get_by_label("Month").fill("2")
        await page.get_by_label("Year").fill("2030")
        await page.get_by_label("Accreditation", exact=True).fill("enhanced-dbs")
        await page.get_by_role("button", name="Add accreditation").click()
        await expect(summary).to_be_visible()
        await expect(page.locator(".govuk-error-message")).to_have_count(1)
        answer = await page.request.get(url(site, "/api/v1/experts/e-ann"))
        assert (await answer.json())["accreditations"] == []

        await page.get_by_label("Day").fill("28")
        await page.get_by_role("button", name="Add accreditation").click()
        await expect(page.get_by_role("alert")).to_contain_text("Accreditation enhanced-dbs added")
        await expect(summary).to_be_hidden()
        remove = page.get_by_role("button", name="Remove accreditation enhanced-dbs")
        await expect(remove).to_be_visible()
        await remove.click()
        removed = "Accreditation enhanced-dbs removed"
        await expect(page.get_by_role("alert")).to_contain_text(removed)
        await expect(remove).to_have_count(0)
