"""Sign-out in real Chromium (Playwright, Debian's chromium) against the real app: the desk and
the wallboard open in another tab of the same browser are disconnected by the server and show
"Sign in first" instead of reconnecting; the tab that signed out shows that it did."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from router.context import engine_of
from tests.browser_support import browser, signed_in_console, url
from tests.test_browser import signed_in_desk

pytestmark = pytest.mark.browser


async def test_signing_out_of_the_desk_disconnects_its_other_tab(site: TestServer) -> None:
    async with browser() as chromium:
        first = await signed_in_desk(chromium, site, "e-ann")
        second = await first.context.new_page()  # the same browser: the same session
        await second.goto(url(site, "/desk"))
        await expect(second.locator("#connection")).to_contain_text("Connected")
        await first.get_by_role("button", name="Sign out").click()
        await expect(first.get_by_role("heading", name="You have signed out")).to_be_visible()
        await expect(second.get_by_role("heading", name="Sign in first")).to_be_visible()
        assert engine_of(site.app).desk_state("e-ann")["presence"] == "offline"


async def test_signing_out_of_the_console_disconnects_its_other_tab(site: TestServer) -> None:
    async with browser() as chromium:
        first = await signed_in_console(chromium, site)
        second = await first.context.new_page()
        await second.goto(url(site, "/console"))
        await expect(second.locator("#connection")).to_contain_text("Live")
        await first.get_by_role("button", name="Sign out").click()
        await expect(first.get_by_role("heading", name="You have signed out")).to_be_visible()
        await expect(second.get_by_role("heading", name="Sign in first")).to_be_visible()
