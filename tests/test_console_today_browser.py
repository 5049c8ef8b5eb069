"""The console's "Today" and "Rota" pages in real Chromium (Playwright, Debian's chromium)
against the real app on a real database: a supervisor signs in with a link, reads today's
service level and queue per half-hour (contacts made through the real engine, its clock frozen)
and their team's week, each picture beside its table, and axe-core finds no serious or critical
violation at 1280 px and 390 px (screenshots ``console-today`` and ``console-rota`` in
artifacts/screenshots/)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from base.config import Config
from expertline.app import DATABASE, create_app
from scheduler import rota
from scheduler.tables import ShiftPatternRow
from tests.browser_support import browser, no_serious_violations, signed_in_console
from tests.test_console_today import seed_day

pytestmark = pytest.mark.browser

PATTERNS: dict[str, dict[str, Any]] = {
    "shp-ann": {"kind": "weekly", "expert_id": "e-ann",
                "days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00",
                "breaks": [{"at": "12:30", "minutes": 30}]},
    "shp-bob": {"kind": "one_off", "expert_id": "e-bob", "start": "2026-12-08T19:00",
                "end": "2026-12-09T07:00", "breaks": [{"offset_min": 300, "minutes": 30}]},
    "abs-ann": {"kind": "absence", "expert_id": "e-ann", "start": "2026-12-10",
                "end": "2026-12-10", "reason": "leave"},
}


@pytest.fixture
async def site(aiohttp_server: Any, config: Config) -> TestServer:
    server: TestServer = await aiohttp_server(create_app(config))
    await seed_day(server.app)
    async with server.app[DATABASE].transaction() as session:
        for pattern_id, body in PATTERNS.items():
            data = {**body, "id": pattern_id, "tz": "Europe/London"}
            stored = (rota.Absence.from_json(data).to_json() | {"kind": "absence"}
                      if body["kind"] == "absence" else rota.pattern_from_json(data).to_json())
            session.add(ShiftPatternRow(id=pattern_id, expert_id=body["expert_id"],
                                        kind=body["kind"], pattern=stored))
    return server


async def test_a_supervisor_reads_today_and_the_teams_week(site: TestServer) -> None:
    async with browser() as chromium:
        page = await signed_in_console(chromium, site)
        await page.get_by_role("link", name="Today", exact=True).click()
        await expect(page.get_by_role("heading", name="Today", level=1)).to_be_visible()
        service = page.get_by_role("img", name="Service level today, per interval")
        queue = page.get_by_role("img", name="Queue length today, at the end of each interval")
        await expect(service).to_be_visible()
        await expect(queue).to_be_visible()
        await expect(service.locator("g.xl-slot")).to_have_count(21)  # 00:00 up to 10:00-10:30
        await expect(queue.locator("g.xl-slot")).to_have_count(21)
        table = page.get_by_role("table", name="Today per half-hour: All skills")
        await expect(table.get_by_role("row").filter(has_text="09:00\u201309:30")).to_contain_text(
            "50%")
        await no_serious_violations(page, "console-today")

        await page.get_by_label("Skill", exact=True).select_option("dementia")
        await page.get_by_role("button", name="Show today").click()
        await expect(page.get_by_role("table", name="Today per half-hour: Dementia (dementia)")
                     ).to_be_visible()

        await page.get_by_role("link", name="Rota", exact=True).click()
        await expect(page.get_by_role("heading", name="Rota", level=1)).to_be_visible()
        await page.get_by_label("Organisation", exact=True).select_option("nhs-a")
        await page.get_by_label("Week of", exact=True).fill("2026-12-09")
        await page.get_by_role("button", name="Show the rota").click()
        picture = page.get_by_role("img", name="Rota for the week of Mon 7 Dec 2026")
        await expect(picture).to_be_visible()
        await expect(picture.locator('g.xl-shift[data-expert="e-ann"]')).to_have_count(4)
        await expect(picture.locator('g.xl-leave[data-expert="e-ann"]')).to_have_count(1)
        await expect(picture.locator('g.xl-shift[data-expert="e-bob"]')).to_have_count(2)
        week = page.get_by_role("table", name="Shifts, absences and leave in the week of "
                                              "Mon 7 Dec 2026")
        await expect(week.get_by_role("row").filter(has_text="Thu 10 Dec")).to_contain_text(
            "Leave")
        await expect(week.get_by_role("row")).to_have_count(8)  # the header and seven bars
        await no_serious_violations(page, "console-rota")
