"""The console's contact pages through the real app: the searchable list and a contact's
whole history with its routing explanation, as a signed-in supervisor reads them."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from base.access import Role
from expertline.app import DATABASE
from router.context import engine_of
from skills.watch import EVERYTHING
from tests.engine_support import arrive, seed_pool
from tests.test_pages import link, sign_in


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
    status, html = await page(client, "/console/contacts?state=lost")
    assert status == 400 and "unknown state" in html
    status, _ = await page(client, "/console/contacts?limit=0")
    assert status == 400


async def test_only_supervisors_and_admins_open_the_contact_pages(client: TestClient) -> None:
    await seed_pool(client.app[DATABASE])
    assert (await page(client, "/console/contacts"))[0] == 401
    await sign_in(client, await link(client))  # an expert's session
    status, html = await page(client, "/console/contacts")
    assert status == 401 and "Sign in first" in html


