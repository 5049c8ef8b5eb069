"""The application shell: health, authentication, JSON errors for anything unknown or bad."""

from __future__ import annotations

import logging

from aiohttp.test_utils import TestClient

from base.config import load_config
from base.logs import mask_phone, mask_secrets
from expertline.app import create_app, missing_voice_skills
from tests.conftest import make_config


async def test_healthz(client: TestClient) -> None:
    resp = await client.get("/healthz")
    assert resp.status == 200
    # one process (SQLite, or a test's app): it leads routing, with no lease and so no epoch
    assert await resp.json() == {"status": "ok", "role": "leader", "epoch": None}


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
    assert mask_phone("GET /x?to=%2B447700900123&y=1") == "GET /x?to=%2B***123&y=1"
    # a hex id that happens to start with ten digits stays readable
    assert mask_phone("contact ct-0123456789abcdef queued") == "contact ct-0123456789abcdef queued"
    assert "xl_" in mask_secrets("token xl_abcDEF123") and "abcDEF" not in mask_secrets(
        "token xl_abcDEF123")


async def test_start_up_warns_when_voice_routes_to_a_skill_nobody_holds(
        aiohttp_client, sqlite_url: str, tmp_path, caplog) -> None:
    config = make_config(sqlite_url, tmp_path, voice={"general_skill": "no-such-skill",
                                                      "menu": {"1": "dementia"}})
    with caplog.at_level(logging.WARNING, logger="expertline"):
        await aiohttp_client(create_app(config))
    warned = [r.getMessage() for r in caplog.records if "skills graph does not hold" in
              r.getMessage()]
    assert len(warned) == 2  # the empty pool holds neither
    assert any("'no-such-skill'" in m for m in warned) and any("'dementia'" in m for m in warned)


async def test_start_up_warns_of_a_skill_promise_for_a_skill_not_in_the_graph(
        aiohttp_client, sqlite_url: str, tmp_path, caplog) -> None:
    config = make_config(sqlite_url, tmp_path)  # the shipped promises; an empty pool
    with caplog.at_level(logging.WARNING, logger="expertline"):
        await aiohttp_client(create_app(config))
    warned = sorted(r.getMessage().split("]")[0] for r in caplog.records
                    if "promises a target for a skill that is not in" in r.getMessage())
    assert warned == [f"[staffing.skills.{s}" for s in sorted(config.staffing.skills)]


def test_missing_voice_skills_names_only_the_missing() -> None:
    config = load_config(None, {}).replace(voice={"general_skill": "general-advice",
                                                  "menu": {"1": "dementia", "2": "carers"}})
    assert missing_voice_skills(config, {"general-advice", "dementia"}.__contains__) == [
        "carers"]
