"""A supervisor's actions on live work through the real API: move a waiting contact to
another skill or priority, set an expert away, end a stuck session, mark a session
distressing. Each changes routing at once, is audited with who and why, and leaves the
router and the database agreeing."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from base.audit import AuditEntry
from expertline.app import DATABASE
from router.context import engine_of
from skills.watch import EVERYTHING
from tests.conftest import TokenFactory
from tests.engine_support import seed_pool


@pytest.fixture
async def people(client: TestClient, auth: TokenFactory) -> dict[str, Any]:
    await seed_pool(client.app[DATABASE])
    await engine_of(client.app)._reload_pool(EVERYTHING)
    return {"admin": await auth("admin"), "sup": await auth("supervisor", orgs={"nhs-a"}),
            "other": await auth("supervisor", orgs={"council-b"}),
            "ann": await auth("expert", expert="e-ann")}


async def call(client: TestClient, method: str, path: str, headers: dict[str, str],
               body: Any = None) -> tuple[int, Any]:
    resp = await client.request(method, path, json=body, headers=headers)
    assert resp.content_type == "application/json"
    return resp.status, await resp.json()


async def queue(client: TestClient, people: dict[str, Any], skill: str, ref: str) -> str:
    status, found = await call(client, "POST", "/api/v1/contacts", people["sup"],
                               {"skill": skill, "external_ref": ref})
    assert status == 201, found
    return str(found["id"])


async def audit_trail(client: TestClient, action: str) -> list[AuditEntry]:
    async with client.app[DATABASE].session() as session:
        query = select(AuditEntry).where(col(AuditEntry.action) == action)
        return list((await session.exec(query.order_by(col(AuditEntry.id)))).all())


async def agree(client: TestClient, people: dict[str, Any]) -> None:
    _, found = await call(client, "GET", "/api/v1/router/consistency", people["admin"])
    assert found == {"agree": True, "differences": [], "count": 0}


async def test_moving_a_waiting_contact_routes_it_to_the_new_skill_at_once(
        client: TestClient, people: dict[str, Any]) -> None:
    await call(client, "PUT", "/api/v1/me/status", people["ann"], {"status": "available"})
    contact = await queue(client, people, "housing", "CA-housing")  # cat, housing, is offline
    status, moved = await call(client, "POST", f"/api/v1/contacts/{contact}/move",
                               people["sup"], {"skill": "dementia", "priority": 5,
                                               "why": "caller asked about her mother"})
    assert status == 200 and (moved["skill"], moved["priority"]) == ("dementia", 5)
    assert moved["state"] == "offered"  # ann holds dementia and was free
    _, detail = await call(client, "GET", f"/api/v1/contacts/{contact}", people["sup"])
    assert (detail["skill"], detail["priority"], detail["state"]) == ("dementia", 5, "offered")
    assert any("moved by a supervisor: caller asked about her mother" in (e["reason"] or "")
               for e in detail["events"])
    [entry] = await audit_trail(client, "move")
    assert entry.entity_id == contact and entry.actor.startswith("supervisor")
    assert entry.before == {"skill": "housing", "priority": 0}
    assert entry.after == {"skill": "dementia", "priority": 5,
                           "why": "caller asked about her mother", "org": None, "expert": None}
    await agree(client, people)


async def test_moving_an_offered_contact_rescinds_the_offer_without_blaming_the_expert(
        client: TestClient, people: dict[str, Any]) -> None:
    await call(client, "PUT", "/api/v1/me/status", people["ann"], {"status": "available"})
    contact = await queue(client, people, "dementia", "CA-1")
    _, offers = await call(client, "GET", "/api/v1/me/offers", people["ann"])
    [offer] = offers["items"]
    status, moved = await call(client, "POST", f"/api/v1/contacts/{contact}/move",
                               people["sup"], {"skill": "housing", "why": "wrong queue"})
    assert status == 200 and moved["state"] == "queued"
    _, detail = await call(client, "GET", f"/api/v1/contacts/{contact}", people["sup"])
    assert [o["status"] for o in detail["offers"]] == ["rescinded"]
    _, me = await call(client, "GET", "/api/v1/me", people["ann"])
    assert me["state"] == "available"  # not sent away for a missed offer
    assert offer["id"] == detail["offers"][0]["id"]
    await agree(client, people)


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"skill": "astrology", "why": "x"}, 422, "invalid"),
    ({"skill": "dementia"}, 422, "invalid"),            # no why
    ({"skill": "dementia", "why": "   "}, 422, "invalid"),
    ({"why": "nothing to move"}, 422, "invalid"),
    ({"priority": 11, "why": "x"}, 422, "invalid"),
    ({"priority": "high", "why": "x"}, 422, "invalid"),
])
async def test_a_bad_move_is_refused_and_changes_nothing(
        client: TestClient, people: dict[str, Any], body: dict[str, Any], status: int,
        code: str) -> None:
    contact = await queue(client, people, "housing", "CA-2")
    found, error = await call(client, "POST", f"/api/v1/contacts/{contact}/move",
                              people["sup"], body)
    assert found == status and error["error"]["code"] == code
    _, detail = await call(client, "GET", f"/api/v1/contacts/{contact}", people["sup"])
    assert (detail["skill"], detail["priority"]) == ("housing", 0)
    assert await audit_trail(client, "move") == []


async def test_only_waiting_contacts_move_and_only_supervisors_move_them(
        client: TestClient, people: dict[str, Any]) -> None:
    body = {"skill": "dementia", "why": "x"}
    status, _ = await call(client, "POST", "/api/v1/contacts/no-such/move", people["sup"], body)
    assert status == 404
    contact = await queue(client, people, "dementia", "CA-3")
    status, _ = await call(client, "POST", f"/api/v1/contacts/{contact}/move", people["ann"],
                           body)
    assert status == 403
    await call(client, "PUT", "/api/v1/me/status", people["ann"], {"status": "available"})
    _, offers = await call(client, "GET", "/api/v1/me/offers", people["ann"])
    await call(client, "POST", f"/api/v1/me/offers/{offers['items'][0]['id']}/accept",
               people["ann"])
    status, error = await call(client, "POST", f"/api/v1/contacts/{contact}/move",
                               people["sup"], body)
    assert status == 409 and "only a waiting contact" in error["error"]["message"]


async def test_a_supervisor_sets_their_own_organisations_expert_away_and_it_is_audited(
        client: TestClient, people: dict[str, Any]) -> None:
    await call(client, "PUT", "/api/v1/me/status", people["ann"], {"status": "available"})
    status, _ = await call(client, "PUT", "/api/v1/experts/e-ann/status", people["other"],
                           {"status": "away", "why": "not theirs"})
    assert status == 404  # another organisation's expert: as if unknown
    status, done = await call(client, "PUT", "/api/v1/experts/e-ann/status", people["sup"],
                              {"status": "away", "why": "headset broken"})
    assert status == 200 and done["state"] == "away"
    _, me = await call(client, "GET", "/api/v1/me", people["ann"])
    assert me["state"] == "away"
    [entry] = await audit_trail(client, "set_status")
    assert entry.entity_id == "e-ann" and entry.after == {"status": "away",
                                                          "why": "headset broken"}


async def test_a_supervisor_ends_a_stuck_session_and_marks_it_distressing(
        client: TestClient, people: dict[str, Any]) -> None:
    await call(client, "PUT", "/api/v1/me/status", people["ann"], {"status": "available"})
    contact = await queue(client, people, "dementia", "CA-4")
    _, offers = await call(client, "GET", "/api/v1/me/offers", people["ann"])
    await call(client, "POST", f"/api/v1/me/offers/{offers['items'][0]['id']}/accept",
               people["ann"])
    status, _ = await call(client, "POST", f"/api/v1/contacts/{contact}/distressing",
                           people["sup"], {"why": "caller in crisis"})
    assert status == 200
    status, ended = await call(client, "POST", f"/api/v1/contacts/{contact}/end",
                               people["sup"], {"why": "the call dropped but stayed open"})
    assert status == 200 and ended["ended"] is True
    _, detail = await call(client, "GET", f"/api/v1/contacts/{contact}", people["sup"])
    [session] = detail["sessions"]
    assert (session["ended_by"], session["distressing"]) == ("supervisor", True)
    [ending] = await audit_trail(client, "end_session")
    assert ending.after is not None and "the call dropped" in ending.after["reason"]
    assert [e.after for e in await audit_trail(client, "distressing")] == [
        {"why": "caller in crisis", "org": None, "expert": "e-ann"}]
    status, _ = await call(client, "POST", f"/api/v1/contacts/{contact}/end", people["sup"],
                           {"why": "again"})
    assert status == 409
    await agree(client, people)
