"""Which contacts a supervisor sees: those asked for their organisations, and the shared line's
that nobody, or one of their own experts, has taken. The list, a contact's page, the actions
and the wallboard's socket all keep to it; admins see every contact."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from expertline.app import DATABASE
from router.context import engine_of
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
