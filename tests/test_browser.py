"""The pages as people use them, in real Chromium (Playwright, Debian's chromium), against the
real app on a real database (SQLite and PostgreSQL): locators by role and accessible name,
axe-core on every page at 1280 px and 390 px, a screenshot of each in artifacts/screenshots/.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, expect

from base.access import Role
from base.clock import now_utc
from base.config import Config
from expertline.app import DATABASE, create_app
from pages import sessions
from router.context import engine_of
from skills.watch import EVERYTHING
from tests.browser_support import browser, checked
from tests.engine_support import seed_pool

pytestmark = pytest.mark.browser


@pytest.fixture
async def site(aiohttp_server: Any, config: Config) -> TestServer:
    server: TestServer = await aiohttp_server(create_app(config))
    await seed_pool(server.app[DATABASE])
    await engine_of(server.app)._reload_pool(EVERYTHING)
    return server


def url(site: TestServer, path: str) -> str:
    return str(site.make_url(path))


async def sign_in_link(site: TestServer, role: Role = Role.EXPERT, *,
                       expert: str | None = "e-ann",
                       orgs: frozenset[str] = frozenset()) -> str:
    async with site.app[DATABASE].transaction() as session:
        token = sessions.make_link(session, role=role, expert_id=expert, orgs=orgs,
                                   minutes=10, now=now_utc())
    return url(site, f"/sign-in/{token}")


async def no_serious_violations(page: Page, name: str) -> None:
    assert await checked(page, name) == []


async def test_the_landing_page_leads_to_chat_desk_and_console(site: TestServer) -> None:
    async with browser() as chromium:
        page = await chromium.new_page()
        await page.goto(url(site, "/"))
        await expect(page.get_by_role("heading", name="Expertline", level=1)).to_be_visible()
        await expect(page.get_by_text("If someone is in danger now, call 999.")).to_be_visible()
        await no_serious_violations(page, "landing")
        await page.get_by_role("link", name="Expert desk").first.click()
        await expect(page.get_by_role("heading", name="Sign in first")).to_be_visible()
        await expect(page.get_by_text("expertline sign-in-link --expert")).to_be_visible()
        await no_serious_violations(page, "sign-in-first")


async def test_an_expert_signs_in_with_a_link_and_the_desk_connects(site: TestServer) -> None:
    async with browser() as chromium:
        page = await chromium.new_page()
        await page.goto(await sign_in_link(site))
        await no_serious_violations(page, "sign-in")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("heading", name="Expert desk")).to_be_visible()
        await expect(page.locator("#connection")).to_contain_text("Connected")
        await page.get_by_role("button", name="Available").click()
        await expect(page.locator("#status-now")).to_contain_text("available")
        await no_serious_violations(page, "desk")
