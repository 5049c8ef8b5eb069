"""The admin's token API through the real app: list (never a secret), issue (checked, the
plain token once), revoke (the token's next request is a 401 at once), admins only, audited."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from base.audit import AuditEntry
from expertline.app import DATABASE
from tests.conftest import TokenFactory
from tests.engine_support import seed_pool


@pytest.fixture
async def admin(client: TestClient, auth: TokenFactory) -> dict[str, str]:
    await seed_pool(client.app[DATABASE])
    return await auth("admin")


async def test_an_admin_issues_lists_and_revokes_a_token_which_then_gets_401_at_once(
        client: TestClient, admin: dict[str, str]) -> None:
    made = await client.post("/api/v1/tokens", headers=admin, json={
        "role": "supervisor", "orgs": ["nhs-a"], "label": "Sue's wallboard",
        "expires_in_days": 30})
    body = await made.json()
    assert made.status == 201 and body["token"].startswith("xl_")
    assert (body["role"], body["org"], body["label"]) == ("supervisor", "nhs-a",
                                                          "Sue's wallboard")
    assert body["expires_at"] is not None and body["revoked_at"] is None
    theirs = {"Authorization": f"Bearer {body['token']}"}
    assert (await client.get("/api/v1/stats", headers=theirs)).status == 200

    listed = await (await client.get("/api/v1/tokens", headers=admin)).json()
    assert listed["total"] == 2 and [t["id"] for t in listed["items"]][-1] == body["id"]
    text = str(listed)
    assert body["token"] not in text and "token_hash" not in text and "hash" not in text

    gone = await client.delete(f"/api/v1/tokens/{body['id']}", headers=admin)
    assert gone.status == 200 and (await gone.json())["revoked_at"] is not None
    refused = await client.get("/api/v1/stats", headers=theirs)
    assert refused.status == 401 and (await refused.json())["error"]["code"] == "unauthorized"
    again = await client.post(f"/api/v1/tokens/{body['id']}/revoke", headers=admin)
    assert again.status == 409 and "already revoked" in (await again.json())["error"]["message"]

    async with client.app[DATABASE].session() as session:
        trail = (await session.exec(select(AuditEntry).where(
            col(AuditEntry.entity) == "api_token").order_by(col(AuditEntry.id)))).all()
    assert [(e.action, e.entity_id) for e in trail] == [("create", str(body["id"])),
                                                         ("revoke", str(body["id"]))]
    assert trail[0].actor == "admin:token1" and trail[0].after is not None
    assert trail[0].after["orgs"] == "nhs-a"


async def test_the_post_form_of_revoke_works_too(client: TestClient,
                                                 admin: dict[str, str]) -> None:
    made = await (await client.post("/api/v1/tokens", headers=admin,
                                    json={"role": "expert", "expert": "e-ann"})).json()
    assert made["expires_at"] is None and made["expert"] == "e-ann"
    done = await client.post(f"/api/v1/tokens/{made['id']}/revoke", headers=admin)
    assert done.status == 200
    mine = {"Authorization": f"Bearer {made['token']}"}
    assert (await client.get("/api/v1/me", headers=mine)).status == 401


@pytest.mark.parametrize(("body", "status", "words"), [
    ({}, 422, "'role' is required"),
    ({"role": "owner"}, 422, "'role' must be one of"),
    ({"role": "supervisor"}, 422, "at least one --org"),
    ({"role": "supervisor", "orgs": ["nowhere"]}, 422, "no organisation nowhere"),
    ({"role": "supervisor", "orgs": "nhs-a"}, 422, "must be a list of strings"),
    ({"role": "expert", "expert": "e-nobody"}, 422, "no expert e-nobody"),
    ({"role": "admin", "orgs": ["nhs-a"]}, 422, "not scoped"),
    ({"role": "admin", "expires_in_days": 0}, 422, "expires_in_days"),
    ({"role": "admin", "expires_in_days": "7"}, 422, "must be an integer"),
    ({"role": "admin", "secret": "x"}, 422, "unknown field 'secret'"),
])
async def test_bad_input_is_a_clear_4xx_and_issues_nothing(
        client: TestClient, admin: dict[str, str], body: dict[str, Any], status: int,
        words: str) -> None:
    resp = await client.post("/api/v1/tokens", headers=admin, json=body)
    assert resp.status == status and words in (await resp.json())["error"]["message"]
    assert (await (await client.get("/api/v1/tokens", headers=admin)).json())["total"] == 1


async def test_only_an_admin_may_see_or_touch_tokens(client: TestClient, admin: dict[str, str],
                                                     auth: TokenFactory) -> None:
    supervisor = await auth("supervisor", orgs={"nhs-a"})
    assert (await client.get("/api/v1/tokens", headers=supervisor)).status == 403
    made = await client.post("/api/v1/tokens", headers=supervisor, json={"role": "admin"})
    assert made.status == 403
    assert (await client.delete("/api/v1/tokens/1", headers=supervisor)).status == 403
    assert (await client.get("/api/v1/tokens")).status == 401
    assert (await client.delete("/api/v1/tokens/999", headers=admin)).status == 404
    assert (await client.delete("/api/v1/tokens/abc", headers=admin)).status == 404
