"""The console's two pictures in real Chromium (Playwright, Debian's chromium) against the real
app on a real database: a supervisor signs in with a link, draws the skills graph around a skill
and the coverage heatmap through their forms, reads the same skills in each picture and its
table, and axe-core finds no serious or critical violation at 1280 px and 390 px (screenshots
``console-graph`` and ``console-coverage`` in artifacts/screenshots/)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from base.access import Role
from base.config import Config
from expertline.app import DATABASE, create_app
from router.context import engine_of
from skills.watch import EVERYTHING
from tests.browser_support import browser, no_serious_violations, sign_in_link
from tests.test_pictures import seed_pictures, target_day

pytestmark = pytest.mark.browser


@pytest.fixture
async def site(aiohttp_server: Any, config: Config) -> TestServer:
    server: TestServer = await aiohttp_server(create_app(config))
    await seed_pictures(server.app[DATABASE], target_day())
    await engine_of(server.app)._reload_pool(EVERYTHING)
    return server


async def test_a_supervisor_reads_the_skills_graph_and_the_coverage_heatmap(
        site: TestServer) -> None:
    async with browser() as chromium:
        page = await chromium.new_page()
        await page.goto(await sign_in_link(site, Role.SUPERVISOR, expert=None,
                                           orgs=frozenset({"nhs-a"})))
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("link", name="Skills graph").click()
        await expect(page.get_by_role("heading", name="Skills graph", level=1)).to_be_visible()
        await page.get_by_label("Skill").select_option("dementia")
        await page.get_by_label("How far to look").select_option("1")
        await page.get_by_role("button", name="Show the graph").click()

        picture = page.get_by_role("img", name="Skills graph around Dementia")
        await expect(picture).to_be_visible()
        for skill in ("dementia", "dementia-carers", "carers-support"):
            await expect(picture.locator(f'g[data-skill="{skill}"]')).to_have_count(1)
        await expect(picture.locator("g.xl-fragile")).to_contain_text("One organisation only")
        await expect(picture.locator("g.xl-uncovered")).to_contain_text("Nobody holds it")
        table = page.get_by_role("table", name="Skills within 1 step of Dementia")
        await expect(table.get_by_role("row")).to_have_count(4)  # the header and three skills
        await expect(table.get_by_role("rowheader")).to_have_text(
            ["dementia", "carers-support", "dementia-carers"])
        await no_serious_violations(page, "console-graph")

        await page.get_by_role("link", name="Coverage").click()
        await page.get_by_label("First day").fill(target_day().isoformat())
        await page.get_by_label("Days (1 to 14)").fill("1")
        await page.get_by_role("button", name="Show coverage").click()
        heat = page.get_by_role("img", name="Coverage: agents needed against experts scheduled")
        await expect(heat).to_be_visible()
        for skill in ("dementia", "dementia-carers", "carers-support", "housing"):
            await expect(heat.locator(f'g.xl-row[data-skill="{skill}"]')).to_have_count(1)
        short = page.get_by_role("table", name="Half-hours short of staff")
        await expect(short.get_by_role("row").filter(has_text="10:00\u201310:30")).to_contain_text(
            "Dementia")
        totals = page.get_by_role("table", name="Totals per skill")
        await expect(totals.get_by_role("rowheader")).to_have_text(
            ["Carers Support (carers-support)", "Dementia (dementia)",
             "Dementia Carers (dementia-carers)", "Housing (housing)"])
        await no_serious_violations(page, "console-coverage")
