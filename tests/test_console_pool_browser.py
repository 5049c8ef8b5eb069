"""The console's skills, organisations and import pages as an admin uses them, in real Chromium
against the real app on a real database (SQLite and PostgreSQL): add a related skill with a cost
through the page's script (which calls the JSON API) and see it saved, in the page and in the
API; add a data-sharing agreement; check a pool file, read the report row by row, apply it; and
axe-core at 1280 px and 390 px on each page."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, FilePayload, Page, expect

from base.access import Role
from tests.browser_support import browser, no_serious_violations, signed_in_console, url

pytestmark = pytest.mark.browser

DOCUMENT = {
    "version": 1,
    "organisations": [{"id": "age-cymru", "name": "Age Cymru", "nation": "wales"}],
    "skills": [{"id": "benefits", "name": "Benefits", "related": {"housing": 2}},
               {"id": "dementia", "name": "Dementia care"}],
}
BAD_CSV = "id,name,organisation,skills\ne-new,New Person,nowhere,dementia:3\n"


async def as_admin(chromium: Browser, site: TestServer) -> Page:
    """A page signed in as an admin (``site`` is conftest's: the app with the pool seeded)."""
    return await signed_in_console(chromium, site, orgs=frozenset(), role=Role.ADMIN)


async def api(page: Page, site: TestServer, path: str) -> tuple[int, Any]:
    answer = await page.request.get(url(site, path))
    return answer.status, (await answer.json()) if answer.status != 204 else None


async def test_an_admin_adds_a_related_skill_with_a_cost_and_sees_it_saved(
        site: TestServer) -> None:
    async with browser() as chromium:
        page = await as_admin(chromium, site)
        sections = page.get_by_role("navigation", name="Console sections")
        await sections.get_by_role("link", name="Skills", exact=True).click()
        await expect(page.get_by_role("heading", name="Skills", level=1)).to_be_visible()
        table = page.get_by_role("table", name="Skills found")
        await expect(table.get_by_role("row")).to_have_count(5)  # a header and four skills
        await expect(page.get_by_text("Showing 1 to 4 of 4 skills.")).to_be_visible()
        await no_serious_violations(page, "console-skills")

        await table.get_by_role("link", name="Dementia", exact=True).click()
        await expect(page.get_by_role("heading", name="Dementia", level=1)).to_be_visible()
        summary = page.locator("#error-summary")
        await page.get_by_label("Related skill to add").select_option(label="Housing")
        await page.get_by_role("button", name="Save related skills").click()
        await expect(summary).to_be_focused()  # our own check: a skill without a cost
        await expect(summary).to_contain_text("Enter “Cost of the skill to add”")
        await page.get_by_label("Cost of the skill to add").fill("0")
        await page.get_by_role("button", name="Save related skills").click()
        await expect(summary).to_contain_text("must be above 0")  # the API's own message
        assert (await api(page, site, "/api/v1/skills/dementia"))[1]["related"] == {}

        await page.get_by_label("Cost of the skill to add").fill("3.5")
        await page.get_by_role("button", name="Save related skills").click()
        banner = page.get_by_role("alert")
        await expect(banner).to_contain_text("Related skills of Dementia saved")
        await expect(banner).to_be_focused()
        await expect(page.get_by_label("Cost for Housing")).to_have_value("3.5")
        status, skill = await api(page, site, "/api/v1/skills/dementia")
        assert status == 200 and skill["related"] == {"housing": 3.5}
        _, housing = await api(page, site, "/api/v1/skills/housing")
        assert housing["related"] == {"dementia": 3.5}  # one pair, seen from both ends

        await page.get_by_label("Synonyms").fill("memory loss, forgetfulness")
        await page.get_by_role("button", name="Save details").click()
        await expect(page.get_by_role("alert")).to_contain_text("Skill Dementia saved")
        _, skill = await api(page, site, "/api/v1/skills/dementia")
        assert skill["synonyms"] == ["forgetfulness", "memory loss"]
        assert skill["related"] == {"housing": 3.5} and skill["broader"] is None
        await no_serious_violations(page, "console-skill")

        await page.get_by_label("Remove Housing").check()
        await page.get_by_role("button", name="Save related skills").click()
        await expect(page.get_by_role("alert")).to_contain_text("Related skills of Dementia")
        await expect(page.get_by_label("Cost for Housing")).to_have_count(0)
        assert (await api(page, site, "/api/v1/skills/dementia"))[1]["related"] == {}


async def test_an_admin_adds_a_skill_and_deletes_it(site: TestServer) -> None:
    async with browser() as chromium:
        page = await as_admin(chromium, site)
        await page.goto(url(site, "/console/skills"))
        await page.get_by_label("ID", exact=True).fill("benefits")
        await page.get_by_label("Name", exact=True).fill("Benefits advice")
        await page.get_by_label("Broader skill (optional)").select_option(label="Housing")
        await page.get_by_role("button", name="Add skill").click()
        await expect(page).to_have_url(url(site, "/console/skills/benefits"))
        await expect(page.get_by_role("alert")).to_contain_text("Skill Benefits advice added")
        status, skill = await api(page, site, "/api/v1/skills/benefits")
        assert status == 200 and skill["broader"] == "housing"
        await page.get_by_role("button", name="Delete skill").click()
        await expect(page).to_have_url(url(site, "/console/skills"))
        await expect(page.get_by_role("alert")).to_contain_text("Skill Benefits advice deleted")
        assert (await api(page, site, "/api/v1/skills/benefits"))[0] == 404


async def test_an_admin_adds_a_data_sharing_agreement(site: TestServer) -> None:
    async with browser() as chromium:
        page = await as_admin(chromium, site)
        sections = page.get_by_role("navigation", name="Console sections")
        await sections.get_by_role("link", name="Organisations").click()
        await expect(page.get_by_role("heading", name="Organisations", level=1)).to_be_visible()
        await expect(page.get_by_text("There are no data-sharing agreements")).to_be_visible()

        await page.get_by_label("First organisation").select_option(label="NHS-A")
        await page.get_by_label("Second organisation").select_option(label="COUNCIL-B")
        await page.get_by_label("Purpose (optional)").fill("Dementia out of hours")
        await page.locator("#ends-day").fill("31")
        await page.get_by_role("button", name="Add agreement").click()
        summary = page.locator("#error-summary")
        await expect(summary).to_contain_text("Enter the end date as a day, month and year")
        await page.locator("#ends-month").fill("3")
        await page.locator("#ends-year").fill("2099")
        await page.get_by_role("button", name="Add agreement").click()
        await expect(page.get_by_role("alert")).to_contain_text(
            "Agreement between NHS-A and COUNCIL-B added")
        table = page.get_by_role("table", name="Data-sharing agreements")
        row = table.get_by_role("row").filter(has_text="COUNCIL-B and NHS-A")
        await expect(row).to_contain_text("Dementia out of hours")
        await expect(row).to_contain_text("31 March 2099")
        _, agreements = await api(page, site, "/api/v1/sharing-agreements")
        assert [(a["org_a"], a["org_b"], a["ends_on"], a["in_force"])
                for a in agreements["items"]] == [("council-b", "nhs-a", "2099-03-31", True)]
        await expect(page.get_by_role("button",
                                      name="Delete the agreement between COUNCIL-B and NHS-A")
                     ).to_be_visible()
        await no_serious_violations(page, "console-organisations")


async def test_an_admin_checks_a_pool_file_reads_the_report_and_applies_it(
        site: TestServer) -> None:
    async with browser() as chromium:
        page = await as_admin(chromium, site)
        sections = page.get_by_role("navigation", name="Console sections")
        await sections.get_by_role("link", name="Import").click()
        await expect(page.get_by_role("heading", name="Import a pool file", level=1)
                     ).to_be_visible()
        await page.get_by_label("Or paste the file's text").fill(json.dumps(DOCUMENT, indent=2))
        await page.get_by_role("button", name="Check the file (dry run)").click()

        changes = page.get_by_role("table", name="Planned changes (3)")
        rows = changes.get_by_role("row")
        await expect(rows).to_have_count(4)
        await expect(rows.nth(1)).to_contain_text("organisations[0]")
        await expect(rows.nth(1)).to_contain_text("Age Cymru")
        await expect(rows.nth(2)).to_contain_text("skills[0]")
        await expect(rows.nth(2)).to_contain_text("Create")
        await expect(rows.nth(3)).to_contain_text("skills[1]")
        await expect(rows.nth(3)).to_contain_text('name: "Dementia" → "Dementia care"')
        await expect(page.get_by_text("Nothing has been changed yet. Planned: 3 changes."))\
            .to_be_visible()
        assert (await api(page, site, "/api/v1/skills/benefits"))[0] == 404  # a dry run
        await no_serious_violations(page, "console-import")

        await page.get_by_role("button", name="Apply 3 changes").click()
        await expect(page.get_by_role("alert")).to_contain_text("Import applied: 3 changes.")
        await expect(page.get_by_role("table", name="Changes applied (3)")).to_be_visible()
        status, skill = await api(page, site, "/api/v1/skills/benefits")
        assert status == 200 and skill["related"] == {"housing": 2.0}
        assert (await api(page, site, "/api/v1/skills/dementia"))[1]["name"] == "Dementia care"

        await page.get_by_role("link", name="Import another file").click()
        csv = FilePayload(name="hr.csv", mimeType="text/csv", buffer=BAD_CSV.encode())
        await page.get_by_label("Upload a file").set_input_files(files=[csv])
        await page.get_by_role("button", name="Check the file (dry run)").click()
        problems = page.get_by_role("table", name="Problems (1)")
        await expect(problems.get_by_role("row").nth(1)).to_contain_text(
            "line 2, organisation")
        await expect(problems).to_contain_text("unknown organisation 'nowhere'")
        await expect(page.get_by_role("button", name="Apply")).to_have_count(0)
        assert (await api(page, site, "/api/v1/experts/e-new"))[0] == 404
