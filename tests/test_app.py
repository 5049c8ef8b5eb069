"""The application shell: health, authentication, JSON errors for anything unknown or bad."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from expertline.logs import mask_phone, mask_secrets


async def test_healthz(client: TestClient) -> None:
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}


async def test_api_needs_a_token(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer nope"}):
        resp = await client.get("/api/v1/skills", headers=headers)
        assert resp.status == 401
        body = await resp.json()
        assert body["error"]["code"] == "unauthorized"


async def test_unknown_route_is_json_404(client: TestClient, auth) -> None:
    resp = await client.get("/api/v1/nothing-here", headers=await auth("admin"))
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "not_found"


def test_phone_numbers_are_masked() -> None:
    assert mask_phone("call from +447700900123 ok") == "call from ***123 ok"
    assert mask_phone("whatsapp:+447700900456") == "whatsapp:***456"
    assert mask_phone("ring 07700 900789 now") == "ring ***789 now"
    assert mask_phone("contact 42 waited 180 s") == "contact 42 waited 180 s"
    assert "xl_" in mask_secrets("token xl_abcDEF123") and "abcDEF" not in mask_secrets(
        "token xl_abcDEF123")
