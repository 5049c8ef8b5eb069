"""The console's contact pages through the real app: the searchable list and a contact's
whole history with its routing explanation, as a signed-in supervisor reads them."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from base.access import Role
from base.audit import AuditEntry
from expertline.app import DATABASE
from router.context import engine_of
from skills import pool
from skills.models import Skill
from skills.watch import EVERYTHING
from tests.engine_support import arrive, seed_pool
from tests.test_pages import csrf_of, link, sign_in


@pytest.fixture
async def supervisor(client: TestClient) -> None:
    await seed_pool(client.app[DATABASE])
    await engine_of(client.app)._reload_pool(EVERYTHING)
    await sign_in(client, await link(client, Role.SUPERVISOR, expert=None,
                                     orgs=frozenset({"nhs-a"})))



async def page(client: TestClient, path: str) -> tuple[int, str]:
    resp = await client.get(path)
    return resp.status, await resp.text()


async def test_the_list_finds_contacts_by_reference_state_and_skill(
        client: TestClient, supervisor: None) -> None:
    first = await arrive(client.app, "CA-first")
    second = await arrive(client.app, "CA-second", skill="housing")
    status, html = await page(client, "/console/contacts")
    assert status == 200 and "2 contacts, newest first" in html
    assert html.index(second) < html.index(first)  # newest first
    status, html = await page(client, "/console/contacts?q=CA-first")
    assert status == 200 and first in html and second not in html
    _, html = await page(client, "/console/contacts?skill=housing")
    assert second in html and first not in html
    _, html = await page(client, "/console/contacts?state=completed")
    assert "No contact matches." in html


async def test_a_contact_page_explains_who_would_take_it_and_masks_the_number(
        client: TestClient, supervisor: None) -> None:
    contact = await arrive(client.app, "CA-1", address="+447700900123")
    status, html = await page(client, f"/console/contacts/{contact}")
    assert status == 200 and f"Contact {contact}" in html
    assert "+447700900123" not in html and "***123" in html  # masked for a supervisor
    assert "Who would take it now" in html and "nobody" in html.lower()
    # ann becomes available: she is offered the contact, and the page says why
    await engine_of(client.app).set_status("e-ann", "available")
    _, html = await page(client, f"/console/contacts/{contact}")
    assert "offered to e-ann" in html and "chosen" in html
    assert "Candidates at that decision, best first" in html


async def test_bad_queries_and_unknown_contacts_get_a_clear_page_not_a_500(
        client: TestClient, supervisor: None) -> None:
    status, html = await page(client, "/console/contacts/no-such-contact")
    assert status == 404 and "contact no-such-contact is unknown" in html
    assert "Contact not found" in html  # inside the console: its sections, a way back
    assert 'aria-label="Console sections"' in html and 'href="/console/contacts">Back' in html
    status, html = await page(client, "/console/contacts?state=lost")
    assert status == 400 and "unknown state" in html
    assert 'aria-label="Console sections"' in html
    status, _ = await page(client, "/console/contacts?limit=0")
    assert status == 400


async def test_only_supervisors_and_admins_open_the_contact_pages(client: TestClient) -> None:
    await seed_pool(client.app[DATABASE])
    assert (await page(client, "/console/contacts"))[0] == 401
    await sign_in(client, await link(client))  # an expert's session
    status, html = await page(client, "/console/contacts")
    assert status == 401 and "Sign in first" in html




def move_skill_options(html: str) -> list[str]:
    """The Move form's skill options, as written (the selected one says so)."""
    select_ = html[html.index('id="move-skill"'):]
    return re.findall(r"<option[^>]*>[^<]*</option>", select_[:select_.index("</select>")])


async def moves_recorded(client: TestClient) -> int:
    async with client.app[DATABASE].session() as session:
        query = select(AuditEntry).where(col(AuditEntry.action) == "move")
        return len((await session.exec(query)).all())


async def test_a_contact_whose_skill_is_gone_shows_it_selected_and_a_no_change_move_is_refused(
        client: TestClient, supervisor: None) -> None:
    """The skill went from the pool while the contact waited (as a delete did before deletes
    were refused, or an import with replace does): the Move form must not show another skill
    as the contact's, or a change of priority alone would move it there."""
    db = client.app[DATABASE]
    async with db.transaction() as session:
        session.add(Skill(id="qa-child", name="QA child"))
    await engine_of(client.app)._reload_pool(EVERYTHING)
    contact = await arrive(client.app, "CA-qa", skill="qa-child")
    async with db.transaction() as session:
        await pool.delete_skill(session, skill_id="qa-child")
    await engine_of(client.app)._reload_pool(EVERYTHING)

    status, html = await page(client, f"/console/contacts/{contact}")
    assert status == 200
    options = move_skill_options(html)
    assert options[0] == ('<option value="qa-child" selected>qa-child (no longer in the pool)'
                          '</option>')
    assert [o for o in options if " selected" in o] == options[:1]  # no other skill chosen
    assert "Its skill, qa-child, is no longer in the pool" in html
    headers = {"X-CSRF-Token": csrf_of(html)}
    url = f"/api/v1/contacts/{contact}/move"
    # what the form sends when nothing was changed: refused, nothing recorded
    same = await client.post(url, headers=headers,
                             json={"skill": "qa-child", "priority": 0, "why": "just looking"})
    body = await same.json()
    assert same.status == 422 and "choose another skill or priority" in body["error"]["message"]
    # a new priority alone keeps the gone skill: refused too, never moved to another skill
    kept = await client.post(url, headers=headers,
                             json={"skill": "qa-child", "priority": 5, "why": "urgent"})
    assert kept.status == 422 and "qa-child" in (await kept.json())["error"]["message"]
    assert await moves_recorded(client) == 0
    moved = await client.post(url, headers=headers,
                              json={"skill": "dementia", "priority": 5, "why": "urgent"})
    assert moved.status == 200, await moved.text()
    assert await moves_recorded(client) == 1


async def test_a_move_that_changes_nothing_is_refused(client: TestClient,
                                                      supervisor: None) -> None:
    contact = await arrive(client.app, "CA-same")
    _, html = await page(client, f"/console/contacts/{contact}")
    assert '<option value="dementia" selected>Dementia</option>' in move_skill_options(html)
    assert "no longer in the pool" not in html
    headers = {"X-CSRF-Token": csrf_of(html)}
    for body in ({"skill": "dementia", "priority": 0}, {"skill": "dementia"}, {"priority": 0}):
        refused = await client.post(f"/api/v1/contacts/{contact}/move", headers=headers,
                                    json={**body, "why": "no change"})
        error = (await refused.json())["error"]
        assert refused.status == 422, body
        assert error["message"] == (f"contact {contact} already waits for skill 'dementia' at "
                                    "priority 0: choose another skill or priority to move it")
    assert await moves_recorded(client) == 0
    detail = await (await client.get(f"/api/v1/contacts/{contact}")).json()
    assert not any("moved by a supervisor" in (e["reason"] or "") for e in detail["events"])


async def test_the_away_form_is_offered_only_for_an_expert_the_caller_may_set_away(
        client: TestClient, supervisor: None) -> None:
    """A shared-line contact offered to council-b's e-cat: nhs-a's supervisor sees the offer
    but no form (the API would refuse them); an admin gets the form, and it works."""
    contact = await arrive(client.app, "CA-housing", skill="housing")
    await engine_of(client.app).set_status("e-cat", "available")
    status, html = await page(client, f"/console/contacts/{contact}")
    assert status == 200 and "Offered to e-cat, not yet answered" in html
    assert "Set e-cat away and withdraw the offer" not in html
    assert 'data-url="/api/v1/experts/e-cat/status"' not in html
    assert "e-cat is not in your organisations" in html
    refused = await client.put("/api/v1/experts/e-cat/status",
                               headers={"X-CSRF-Token": csrf_of(html)},
                               json={"status": "away", "why": "not mine"})
    assert refused.status == 404  # what the page no longer offers, the API refuses

    await client.post("/sign-out", data={"csrf_token": csrf_of(html)})
    await sign_in(client, await link(client, Role.ADMIN, expert=None))
    status, html = await page(client, f"/console/contacts/{contact}")
    assert status == 200 and "Set e-cat away and withdraw the offer" in html
    assert 'data-url="/api/v1/experts/e-cat/status"' in html
    done = await client.put("/api/v1/experts/e-cat/status",
                            headers={"X-CSRF-Token": csrf_of(html)},
                            json={"status": "away", "why": "headset broken"})
    assert done.status == 200, await done.text()


async def test_the_away_form_is_offered_for_the_supervisors_own_expert(
        client: TestClient, supervisor: None) -> None:
    contact = await arrive(client.app, "CA-dementia")
    await engine_of(client.app).set_status("e-ann", "available")
    _, html = await page(client, f"/console/contacts/{contact}")
    assert "Set e-ann away and withdraw the offer" in html
    assert "not in your organisations" not in html
