"""The expert's public profile (issue 14): what a citizen is told about who they talk to.

Supervisors set ``public_name``, ``public_role`` and ``show_organisation`` through the expert API
(validated and audited like every other field, only for their organisations' experts); the
routing engine announces exactly that, and nothing more, when the expert takes a contact."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from expertline.app import DATABASE
from router.context import engine_of
from router.ports import Announcement, Assigned, ShownExpert
from skills.watch import EVERYTHING
from tests.conftest import TokenFactory
from tests.engine_support import seed_pool

PROFILE = {"public_name": "  Ann  ", "public_role": "Dementia specialist nurse",
           "show_organisation": True}


@pytest.fixture
async def people(client: TestClient, auth: TokenFactory) -> dict[str, Any]:
    await seed_pool(client.app[DATABASE])
    await engine_of(client.app)._reload_pool(EVERYTHING)  # seeded behind the API's back
    return {"admin": await auth("admin"), "sup": await auth("supervisor", orgs={"nhs-a"}),
            "sup_out": await auth("supervisor", orgs={"council-b"}),
            "ann": await auth("expert", expert="e-ann")}


async def _settled(client: TestClient) -> None:
    engine = engine_of(client.app)
    while engine._tasks:  # the reloads the changes started
        await asyncio.gather(*engine._tasks)


async def _shown_when_taken(client: TestClient, people: dict[str, Any], ref: str
                            ) -> ShownExpert:
    """What the channel is told of ann when she takes a new contact."""
    heard: list[Announcement] = []

    async def listen(announcement: Announcement) -> None:
        heard.append(announcement)

    unsubscribe = engine_of(client.app).subscribe(listen)
    try:
        await client.post("/api/v1/contacts", json={"skill": "dementia", "external_ref": ref},
                          headers=people["sup"])
        await client.put("/api/v1/me/status", json={"status": "available"},
                         headers=people["ann"])
        [offer] = (await (await client.get("/api/v1/me/offers",
                                           headers=people["ann"])).json())["items"]
        taken = await client.post(f"/api/v1/me/offers/{offer['id']}/accept",
                                  headers=people["ann"])
        session_id = (await taken.json())["session_id"]
        await client.post(f"/api/v1/me/sessions/{session_id}/complete", headers=people["ann"])
        await client.post(f"/api/v1/me/sessions/{session_id}/complete", headers=people["ann"])
    finally:
        unsubscribe()
    [assigned] = [a for a in heard if isinstance(a, Assigned)]
    return assigned.shown


async def test_a_citizen_is_shown_only_what_the_expert_agreed_to_show(
        client: TestClient, people: dict[str, Any]) -> None:
    assert await _shown_when_taken(client, people, "c-1") == ShownExpert()  # "an expert"
    resp = await client.patch("/api/v1/experts/e-ann", json=PROFILE, headers=people["sup"])
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert (body["public_name"], body["public_role"], body["show_organisation"]) == (
        "Ann", "Dementia specialist nurse", True)  # trimmed
    await _settled(client)
    assert await _shown_when_taken(client, people, "c-2") == ShownExpert(
        "Ann", "Dementia specialist nurse", "NHS-A")

    renamed = await client.patch("/api/v1/organisations/nhs-a",
                                 json={"name": "Leeds Memory Service"}, headers=people["admin"])
    assert renamed.status == 200, await renamed.text()
    await _settled(client)
    assert (await _shown_when_taken(client, people, "c-3")).organisation == (
        "Leeds Memory Service")

    resp = await client.patch("/api/v1/experts/e-ann",
                              json={"show_organisation": False, "public_role": ""},
                              headers=people["sup"])
    assert resp.status == 200, await resp.text()
    await _settled(client)
    assert await _shown_when_taken(client, people, "c-4") == ShownExpert("Ann", "", "")


async def test_the_public_profile_is_read_back_and_audited(
        client: TestClient, people: dict[str, Any]) -> None:
    resp = await client.patch("/api/v1/experts/e-ann", json=PROFILE, headers=people["sup"])
    assert resp.status == 200, await resp.text()
    got = await (await client.get("/api/v1/experts/e-ann", headers=people["ann"])).json()
    assert (got["public_name"], got["show_organisation"]) == ("Ann", True)
    audit = await (await client.get("/api/v1/audit?entity=expert&entity_id=e-ann",
                                    headers=people["admin"])).json()
    [entry] = audit["items"]
    assert entry["before"]["public_name"] == "" and entry["after"]["public_name"] == "Ann"
    assert entry["after"]["public_role"] == "Dementia specialist nurse"
    created = await client.post("/api/v1/experts", headers=people["sup"], json={
        "id": "e-dot", "name": "Dorothy Jones", "organisation": "nhs-a",
        "public_name": "Dot", "show_organisation": False})
    assert created.status == 201, await created.text()
    assert (await created.json())["public_name"] == "Dot"


@pytest.mark.parametrize(("who", "body", "status"), [
    ("sup", {"public_name": "A" * 65}, 422),
    ("sup", {"public_role": "r" * 101}, 422),
    ("sup", {"public_name": 7}, 422),
    ("sup", {"show_organisation": "yes"}, 422),
    ("sup", {"show_organisation": None}, 422),
    ("sup", {"public_nickname": "Annie"}, 422),
    ("sup", '{"public_name": "Ann\\u0000"}', 400),  # a NUL is never stored
    ("sup_out", {"public_name": "Ann"}, 403),     # not their organisation's expert
    ("ann", {"public_name": "Ann"}, 403),         # experts do not edit the pool
])
async def test_a_bad_public_profile_is_refused_and_changes_nothing(
        client: TestClient, people: dict[str, Any], who: str, body: Any, status: int) -> None:
    headers = dict(people[who])
    if isinstance(body, str):
        headers["Content-Type"] = "application/json"
        resp = await client.patch("/api/v1/experts/e-ann", data=body, headers=headers)
    else:
        resp = await client.patch("/api/v1/experts/e-ann", json=body, headers=headers)
    assert resp.status == status, await resp.text()
    assert "error" in await resp.json()
    got = await (await client.get("/api/v1/experts/e-ann", headers=people["admin"])).json()
    assert (got["public_name"], got["public_role"], got["show_organisation"]) == ("", "", False)
