"""Which contacts a supervisor sees: those asked for their organisations, and the shared line's
that nobody, or one of their own experts, has taken. The list, a contact's page, the actions
and the wallboard's socket all keep to it; admins see every contact."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from base.access import Principal, Role
from expertline.app import DATABASE
from router.context import engine_of
from router.stats import today_by_interval
from skills.watch import EVERYTHING
from tests.conftest import TokenFactory
from tests.engine_support import seed_pool


@pytest.fixture
async def people(client: TestClient, auth: TokenFactory) -> dict[str, Any]:
    await seed_pool(client.app[DATABASE])
    await engine_of(client.app)._reload_pool(EVERYTHING)
    return {"admin": await auth("admin"), "nhs": await auth("supervisor", orgs={"nhs-a"}),
            "council": await auth("supervisor", orgs={"council-b"}),
            "cat": await auth("expert", expert="e-cat")}


async def post(client: TestClient, path: str, headers: dict[str, str], body: Any) -> Any:
    resp = await client.post(path, json=body, headers=headers)
    assert resp.status in (200, 201), await resp.text()
    return await resp.json()


async def listed(client: TestClient, headers: dict[str, str]) -> set[str]:
    found = await (await client.get("/api/v1/contacts", headers=headers)).json()
    return {c["id"] for c in found["items"]}


async def on_the_wallboard(client: TestClient, headers: dict[str, str]) -> set[str]:
    async with client.ws_connect("/ws/console", headers=headers) as ws:
        frame = await ws.receive_json(timeout=5)
    return {c["id"] for c in frame["contacts"]}


async def test_each_supervisor_sees_their_own_and_the_shared_lines_open_contacts(
        client: TestClient, people: dict[str, Any]) -> None:
    council_only = (await post(client, "/api/v1/contacts", people["admin"],
                               {"skill": "housing", "org": "council-b",
                                "external_ref": "CA-council"}))["id"]
    shared = (await post(client, "/api/v1/contacts", people["admin"],
                         {"skill": "dementia", "external_ref": "CA-shared"}))["id"]
    assert await listed(client, people["nhs"]) == {shared}
    assert await listed(client, people["council"]) == {shared, council_only}
    assert await listed(client, people["admin"]) == {shared, council_only}
    assert await on_the_wallboard(client, people["nhs"]) == {shared}
    assert await on_the_wallboard(client, people["council"]) == {shared, council_only}
    # another organisation's contact is as if unknown: to read and to act on
    seen = await client.get(f"/api/v1/contacts/{council_only}", headers=people["nhs"])
    assert seen.status == 404
    moved = await client.post(f"/api/v1/contacts/{council_only}/move", headers=people["nhs"],
                              json={"skill": "dementia", "why": "not mine to move"})
    assert moved.status == 404
    detail = await client.get(f"/api/v1/contacts/{council_only}", headers=people["admin"])
    assert (await detail.json())["skill"] == "housing"


async def test_a_shared_line_contact_taken_by_another_organisations_expert_leaves_my_view(
        client: TestClient, people: dict[str, Any]) -> None:
    shared = (await post(client, "/api/v1/contacts", people["admin"],
                         {"skill": "housing", "external_ref": "CA-housing"}))["id"]
    assert shared in await listed(client, people["nhs"])  # waiting: anyone's to watch
    await client.put("/api/v1/me/status", json={"status": "available"}, headers=people["cat"])
    offers = await (await client.get("/api/v1/me/offers", headers=people["cat"])).json()
    await client.post(f"/api/v1/me/offers/{offers['items'][0]['id']}/accept",
                      headers=people["cat"])
    assert shared not in await listed(client, people["nhs"])  # cat works for council-b
    assert shared in await listed(client, people["council"])
    assert (await client.get(f"/api/v1/contacts/{shared}", headers=people["nhs"])).status == 404


async def figures(client: TestClient, headers: dict[str, str]) -> Any:
    resp = await client.get("/api/v1/stats", headers=headers)
    assert resp.status == 200
    return await resp.json()


async def test_a_supervisors_figures_cover_only_their_remit(
        client: TestClient, people: dict[str, Any]) -> None:
    """The stats API and the wallboard count, for a supervisor, the contacts they may see and
    their organisations' experts; an admin's count everything."""
    await post(client, "/api/v1/contacts", people["admin"],
               {"skill": "housing", "org": "council-b", "external_ref": "CA-council"})
    await post(client, "/api/v1/contacts", people["admin"],
               {"skill": "dementia", "external_ref": "CA-shared"})
    nhs, council, admin = [await figures(client, people[who])
                           for who in ("nhs", "council", "admin")]
    assert (nhs["scope"], council["scope"], admin["scope"]) == (["nhs-a"], ["council-b"], "all")
    assert (nhs["waiting"], council["waiting"], admin["waiting"]) == (1, 2, 2)
    assert [q["skill"] for q in nhs["queues"]] == ["dementia"]  # not the council's housing
    assert {q["skill"] for q in council["queues"]} == {"dementia", "housing"}
    assert (nhs["today"]["offered"], council["today"]["offered"]) == (1, 2)
    assert set(nhs["by_skill"]) == {"dementia"} and set(admin["by_skill"]) == {
        "dementia", "housing"}
    assert sum(nhs["experts"].values()) == 2  # ann and bob; cat works for the council
    assert sum(council["experts"].values()) == 1
    assert sum(admin["experts"].values()) == 3
    async with client.ws_connect("/ws/console", headers=people["nhs"]) as ws:
        frame = await ws.receive_json(timeout=5)
    assert frame["stats"]["scope"] == ["nhs-a"] and frame["stats"]["waiting"] == 1


async def test_the_today_page_counts_only_the_contacts_a_supervisor_may_see(
        client: TestClient, people: dict[str, Any]) -> None:
    await post(client, "/api/v1/contacts", people["admin"],
               {"skill": "housing", "org": "council-b", "external_ref": "CA-council"})
    await post(client, "/api/v1/contacts", people["admin"],
               {"skill": "dementia", "external_ref": "CA-shared"})
    engine = engine_of(client.app)

    async def offered(caller: Principal) -> int:
        figures = await today_by_interval(engine, None, 1800.0, caller)
        return sum(interval["offered"] for interval in figures["intervals"])

    nhs = Principal(Role.SUPERVISOR, orgs=frozenset({"nhs-a"}))
    council = Principal(Role.SUPERVISOR, orgs=frozenset({"council-b"}))
    assert (await offered(nhs), await offered(council)) == (1, 2)
    assert await offered(Principal(Role.ADMIN)) == 2


async def test_the_wallboard_page_says_whose_figures_a_supervisor_sees(
        client: TestClient, people: dict[str, Any]) -> None:
    from tests.test_pages import link, sign_in

    await sign_in(client, await link(client, Role.SUPERVISOR, expert=None,
                                     orgs=frozenset({"nhs-a"})))
    page = await (await client.get("/console")).text()
    assert 'id="remit"' in page and "(nhs-a)" in page
    assert "counted across the whole shared pool" in page  # the queues' expert columns
