"""The wallboard's breach banner in real Chromium against the real app (SQLite and PostgreSQL):
the forecast is made while the page is open, and its banner appears without a reload, worded
as the server words it; axe-core at 1280 px and 390 px."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import expect

from base.config import Config
from expertline.app import DATABASE, create_app
from router.context import engine_of
from scheduler.wiring import alerts_of
from skills.watch import EVERYTHING
from tests.browser_support import browser, no_serious_violations, signed_in_console
from tests.engine_support import arrive, seed_pool
from tests.test_alerts import NOON, POOL, Frozen, history, seed_history

pytestmark = pytest.mark.browser


async def test_a_breach_forecast_appears_on_an_open_wallboard_as_a_banner(
        aiohttp_server: Callable[..., Awaitable[Any]], config: Config) -> None:
    site = await aiohttp_server(create_app(config))
    await seed_pool(site.app[DATABASE], POOL)
    await seed_history(site.app[DATABASE], history({"dementia": (20, 600.0)}))
    engine = engine_of(site.app)
    await engine._reload_pool(EVERYTHING)
    engine.clock = Frozen(NOON.timestamp())
    await engine.set_status("e-ann", "available")
    for i in range(8):
        await arrive(site.app, f"CA-banner-{i}")
    async with browser() as chromium:
        page = await signed_in_console(chromium, site)
        await expect(page.locator("#connection")).to_contain_text("Live")
        await page.evaluate("window.stillHere = true")  # gone if the page reloads
        await expect(page.locator(".govuk-notification-banner")).to_have_count(0)
        alerts = alerts_of(site.app)
        assert alerts is not None and await alerts.refresh()
        banner = page.locator(".govuk-notification-banner[data-skill=dementia]")
        await expect(banner).to_contain_text("Dementia is heading for a breach", timeout=10_000)
        await expect(banner).to_contain_text("in the next 30 minutes")
        await expect(banner).to_contain_text("against a promise of 80.0% answered within 20 s")
        await expect(banner).to_contain_text("more experts on dementia for the next half-hour")
        assert await page.evaluate("window.stillHere") is True
        server_words = await (await page.context.request.get(page.url)).text()
        assert "Dementia is heading for a breach" in server_words  # the page says the same
        await no_serious_violations(page, "console-wallboard-alert")
