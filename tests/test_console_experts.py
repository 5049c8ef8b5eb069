"""The console's pool pages through the real app on a real database (SQLite and PostgreSQL):
who may open them, the role scope (a supervisor sees only their own organisations' experts,
and the API refuses them another's), search and filters, paging, and the expert's page with
the forms its script sends to the API."""

from __future__ import annotations

import asyncio
import re

import pytest
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from base.access import Role
from base.audit import AuditEntry
from expertline.app import DATABASE
from router.context import engine_of
from skills import pool
from skills.models import Expert, Proficiency
from skills.watch import EVERYTHING
from tests.engine_support import seed_pool
from tests.test_pages import csrf_of, link, sign_in

NHS_A = frozenset({"nhs-a"})


@pytest.fixture
async def pool_seeded(client: TestClient) -> None:
    await seed_pool(client.app[DATABASE])
    await engine_of(client.app)._reload_pool(EVERYTHING)


async def as_supervisor(client: TestClient, orgs: frozenset[str] = NHS_A) -> None:
    resp = await sign_in(client, await link(client, Role.SUPERVISOR, expert=None, orgs=orgs))
    assert resp.status == 303


async def as_admin(client: TestClient) -> None:
    assert (await sign_in(client, await link(client, Role.ADMIN, expert=None))).status == 303


async def page(client: TestClient, path: str, status: int = 200) -> str:
    resp = await client.get(path)
    html = await resp.text()
    assert resp.status == status, html
    assert resp.content_type == "text/html"
    return html


def listed(html: str) -> list[str]:
    """The expert ids the list links to, in order."""
    return re.findall(r'href="/console/experts/([^"]+)"', html)


async def levels_of(client: TestClient, expert_id: str) -> dict[str, int]:
    async with client.app[DATABASE].session() as session:
        found = await pool.get_profile(session, expert_id=expert_id)
    assert found is not None
    return dict(found.skills)


async def test_the_pool_pages_ask_a_stranger_to_sign_in(client: TestClient,
                                                         pool_seeded: None) -> None:
    for path in ("/console/experts", "/console/experts/e-ann"):
        html = await page(client, path, 401)
        assert "Sign in first" in html and "--role supervisor" in html
        assert "e-ann" not in html


async def test_an_expert_session_cannot_open_the_pool_pages(client: TestClient,
                                                            pool_seeded: None) -> None:
    assert (await sign_in(client, await link(client, expert="e-ann"))).status == 303
    assert "Sign in first" in await page(client, "/console/experts", 401)
    assert "Sign in first" in await page(client, "/console/experts/e-ann", 401)


async def test_a_supervisor_sees_their_own_organisations_experts_only(
        client: TestClient, pool_seeded: None) -> None:
    await as_supervisor(client)
    html = await page(client, "/console/experts")
    assert listed(html) == ["e-ann", "e-bob"]
    assert "e-cat" not in html and "COUNCIL-B" not in html
    assert "Showing 1 to 2 of 2 experts." in html
    assert 'aria-current="page"' in html and ">Experts</a>" in html  # the console's navigation
    assert "Dementia: 4" in html and "Carers Support: 3" in html and "Welsh (cy)" in html

    detail = await page(client, "/console/experts/e-bob")
    assert "<h1 class=\"govuk-heading-l\">Bob</h1>" in detail
    for path in ("/console/experts/e-cat", "/console/experts/e-nobody", "/console/experts/%20x"):
        missing = await page(client, path, 404)
        assert "Expert not found" in missing and "Cat" not in missing
        assert "Housing" not in missing  # nothing of another organisation's expert shows


async def test_the_api_refuses_a_supervisor_another_organisations_expert(
        client: TestClient, pool_seeded: None) -> None:
    await as_supervisor(client)
    csrf = csrf_of(await page(client, "/console/experts"))
    body = {"level": 1}
    no_token = await client.put("/api/v1/experts/e-cat/skills/housing", json=body)
    assert no_token.status == 403 and (await no_token.json())["error"]["code"] == "csrf"
    refused = await client.put("/api/v1/experts/e-cat/skills/housing", json=body,
                               headers={"X-CSRF-Token": csrf})
    assert refused.status in (403, 404)
    error = (await refused.json())["error"]
    assert error["code"] in ("forbidden", "not_found") and error["message"]
    removed = await client.delete("/api/v1/experts/e-cat/skills/housing",
                                  headers={"X-CSRF-Token": csrf})
    assert removed.status in (403, 404)
    assert await levels_of(client, "e-cat") == {"housing": 5}  # nothing changed


async def test_search_and_filters_narrow_the_list(client: TestClient,
                                                  pool_seeded: None) -> None:
    async with client.app[DATABASE].transaction() as session:  # a narrower skill of dementia
        session.add(Proficiency(expert_id="e-cat", skill_id="dementia-carers", level=2))
    await as_supervisor(client, frozenset({"nhs-a", "council-b"}))
    assert listed(await page(client, "/console/experts")) == ["e-ann", "e-bob", "e-cat"]
    cases = {
        "q=BOB": ["e-bob"],  # a name, in any case
        "q=e-a": ["e-ann"],  # an id
        "q=%25": [],  # a LIKE wildcard is a plain character
        "skill=carers-support": ["e-bob"],
        "skill=dementia": ["e-ann", "e-bob", "e-cat"],  # its narrower skills count too
        "skill=dementia-carers": ["e-cat"],
        "skill=housing&org=nhs-a": [],
        "language=cy": ["e-bob"],
        "org=council-b": ["e-cat"],
        "q=a&skill=dementia&language=en&org=nhs-a": ["e-ann"],
    }
    for query, expected in cases.items():
        html = await page(client, f"/console/experts?{query}")
        assert listed(html) == expected, query
        if not expected:
            assert "No experts match this search." in html
    kept = await page(client, "/console/experts?q=bob&skill=dementia&language=cy")
    assert 'value="bob"' in kept and '<option value="dementia" selected>' in kept
    assert 'value="cy"' in kept  # the form shows the search back


async def test_a_filter_that_cannot_match_says_so_in_an_error_summary(
        client: TestClient, pool_seeded: None) -> None:
    await as_supervisor(client)
    for query, message in (("skill=knitting", "Choose a skill from the list"),
                           ("org=council-b", "Choose an organisation from the list"),
                           ("language=Welsh%21", "Enter a language code"),
                           ("q=" + "x" * 101, "100 characters or fewer")):
        html = await page(client, f"/console/experts?{query}", 400)
        assert "There is a problem" in html and message in html, query
        assert "<title>Error: Experts" in html and listed(html) == []


async def test_an_admin_sees_every_organisation(client: TestClient, pool_seeded: None) -> None:
    await as_admin(client)
    html = await page(client, "/console/experts")
    assert listed(html) == ["e-ann", "e-bob", "e-cat"]
    assert "The experts of every organisation" in html
    assert listed(await page(client, "/console/experts?org=council-b")) == ["e-cat"]
    assert "<h1 class=\"govuk-heading-l\">Cat</h1>" in await page(client, "/console/experts/e-cat")


async def test_the_list_is_paged_fifty_at_a_time(client: TestClient, pool_seeded: None) -> None:
    async with client.app[DATABASE].transaction() as session:
        for n in range(60):
            session.add(Expert(id=f"x-{n:03d}", name=f"Extra {n}", org_id="nhs-a"))
    await as_supervisor(client)
    first = await page(client, "/console/experts?q=extra")
    assert listed(first) == [f"x-{n:03d}" for n in range(50)]
    assert "Showing 1 to 50 of 60 experts." in first and "Page 1 of 2" in first
    assert 'href="/console/experts?q=extra&amp;page=2" rel="next"' in first
    second = await page(client, "/console/experts?q=extra&page=2")
    assert listed(second) == [f"x-{n:03d}" for n in range(50, 60)]
    assert 'rel="prev"' in second and 'rel="next"' not in second
    assert "There is no page 9" in await page(client, "/console/experts?q=extra&page=9")
    assert "Showing 1 to 50" in await page(client, "/console/experts?q=extra&page=x")


async def test_the_expert_page_has_a_named_form_for_each_change(
        client: TestClient, pool_seeded: None) -> None:
    await as_supervisor(client)
    html = await page(client, "/console/experts/e-bob")
    assert '<script type="module" src="/static/console-forms.js"></script>' in html
    assert "<script>" not in html and "style=" not in html  # nothing inline
    assert '<meta name="csrf-token" content="' in html
    for name in ("Save level<span class=\"govuk-visually-hidden\"> for Dementia</span>",
                 "Remove<span class=\"govuk-visually-hidden\"> skill Carers Support</span>",
                 '<label class="govuk-label govuk-visually-hidden" for="level-dementia">'
                 "Level for Dementia</label>",
                 'data-method="PUT" data-url="/api/v1/experts/e-bob/skills/dementia"',
                 'data-method="DELETE" data-url="/api/v1/experts/e-bob/skills/carers-support"',
                 'data-method="PATCH" data-url="/api/v1/experts/e-bob"',
                 'data-method="POST" data-url="/api/v1/experts/e-bob/accreditations"',
                 ">Save languages</button>", ">Add skill</button>",
                 ">Add accreditation</button>", 'value="cy, en"'):
        assert name in html, name
    add = html[html.index('id="add-skill"'):]
    add = add[:add.index("</select>")]
    assert '"housing"' in add and '"dementia-carers"' in add and '"dementia"' not in add
    script = await client.get("/static/console-forms.js")
    assert script.status == 200 and "X-CSRF-Token" in await script.text()


async def test_a_change_sent_as_the_page_sends_it_shows_on_the_page_and_reaches_routing(
        client: TestClient, pool_seeded: None) -> None:
    await as_supervisor(client)
    csrf = csrf_of(await page(client, "/console/experts/e-bob"))
    headers = {"X-CSRF-Token": csrf}
    resp = await client.put("/api/v1/experts/e-bob/skills/dementia", json={"level": 2},
                            headers=headers)
    assert resp.status == 200, await resp.text()
    added = await client.post("/api/v1/experts/e-bob/accreditations", headers=headers,
                              json={"name": "enhanced-dbs", "reference": "D-1",
                                    "expires_on": "2099-03-27"})
    assert added.status == 201, await added.text()
    for body in ({"name": "ig-training", "expires_on": "2001-01-31"}, {"name": "first-aid"}):
        more = await client.post("/api/v1/experts/e-bob/accreditations", json=body,
                                 headers=headers)
        assert more.status == 201, await more.text()
    html = await page(client, "/console/experts/e-bob")
    assert '<option value="2" selected>' in html
    assert "enhanced-dbs" in html and "27 March 2099" in html
    assert "Expired</strong> 31 January 2001" in html and "Does not expire" in html
    listing = await page(client, "/console/experts?q=bob")
    assert "enhanced-dbs (until 27 March 2099)" in listing
    assert "ig-training (expired 31 January 2001)" in listing
    assert "first-aid (does not expire)" in listing
    engine = engine_of(client.app)
    while engine._tasks:  # the reload the change started
        await asyncio.gather(*engine._tasks)
    profile = engine.core.profile("e-bob")
    assert profile is not None and profile.skills["dementia"] == 2
    async with client.app[DATABASE].session() as session:
        level = (await session.exec(select(Proficiency.level).where(
            Proficiency.expert_id == "e-bob", Proficiency.skill_id == "dementia"))).one()
        trail = (await session.exec(select(AuditEntry.action).where(
            col(AuditEntry.entity_id) == "e-bob").order_by(col(AuditEntry.id)))).all()
    assert level == 2 and list(trail) == ["set-skill"] + ["add-accreditation"] * 3

    again = await client.post("/api/v1/experts/e-bob/accreditations", headers=headers,
                              json={"name": "first-aid"})  # the same form sent twice
    assert again.status == 409 and "already holds first-aid" in await again.text()
    assert (await client.patch("/api/v1/experts/e-bob", json={"languages": []},
                               headers=headers)).status == 200
    assert "None: routing offers them nothing" in await page(client, "/console/experts/e-bob")
