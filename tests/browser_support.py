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
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright

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
