"""Real Chromium (Debian's ``chromium`` package) driven by Playwright for Python, for the pages'
tests. Never ``playwright install``: the browser is the system's. Each test gets a fresh
browser; ``checked(page, name)`` runs axe-core on the page at a desktop and a phone width and
saves a screenshot of each to ``artifacts/screenshots/`` (kept by CI as evidence).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright

from base.access import Role
from base.clock import now_utc
from expertline.app import DATABASE
from pages import sessions

CHROMIUM = os.environ.get("EXPERTLINE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--autoplay-policy=no-user-gesture-required"]
SHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
SERIOUS = ("serious", "critical")


def chromium_or_skip() -> str:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it: "
                    "apt-get install chromium)")
    return CHROMIUM


@asynccontextmanager
async def browser() -> AsyncIterator[Browser]:
    path = chromium_or_skip()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=path, args=ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def checked(page: Page, name: str) -> list[dict[str, Any]]:
    """axe-core at both widths, and a screenshot of each: the serious or critical
    violations found (the caller asserts there are none)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    found = []
    original = page.viewport_size
    for label, (width, height) in WIDTHS.items():
        await page.set_viewport_size({"width": width, "height": height})
        results = await Axe().run(page)
        found += [{"width": label, "id": v["id"], "impact": v["impact"], "help": v["help"],
                   "nodes": [n["target"] for n in v["nodes"]]}
                  for v in results.response["violations"] if v["impact"] in SERIOUS]
        await page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
    if original is not None:
        await page.set_viewport_size(original)
    return found


async def no_serious_violations(page: Page, name: str) -> None:
    assert await checked(page, name) == []


def url(site: TestServer, path: str) -> str:
    return str(site.make_url(path))


async def sign_in_link(site: TestServer, role: Role = Role.EXPERT, *,
                       expert: str | None = "e-ann",
                       orgs: frozenset[str] = frozenset()) -> str:
    async with site.app[DATABASE].transaction() as session:
        token = sessions.make_link(session, role=role, expert_id=expert, orgs=orgs,
                                   minutes=10, now=now_utc())
    return url(site, f"/sign-in/{token}")


async def signed_in_console(chromium: Browser, site: TestServer,
                            orgs: frozenset[str] = frozenset({"nhs-a"}),
                            role: Role = Role.SUPERVISOR) -> Page:
    """A new browser context whose person followed a console sign-in link (a supervisor of
    ``orgs`` by default) and landed on the wallboard."""
    page = await (await chromium.new_context()).new_page()
    await page.goto(await sign_in_link(site, role, expert=None, orgs=orgs))
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/console")
    return page
