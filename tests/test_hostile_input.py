"""Hostile input found by an outsider's attack (issue 13, items 4, 5 and 10): each used to give a
500, a hang, a leaked number or a wrong answer; each is now a clear 4xx JSON error that changes
nothing. Real app, real database (SQLite and PostgreSQL), real sockets."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from typing import Any

import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient

from base.config import Config
from base.logs import MaskingFormatter
from expertline.app import DATABASE
from router.context import engine_of
from skills.watch import EVERYTHING
from tests.conftest import TokenFactory, make_config
from tests.db_faults import unreachable
from tests.engine_support import seed_pool

DEEP = "[" * 100_000


@pytest.fixture
def config(db_url: str, tmp_path: Any) -> Config:
    return make_config(db_url, tmp_path, server={"body_timeout_s": 0.3})


@pytest.fixture
async def tokens(client: TestClient, auth: TokenFactory) -> dict[str, dict[str, str]]:
    await seed_pool(client.app[DATABASE])
    await engine_of(client.app)._reload_pool(EVERYTHING)
    return {"admin": await auth("admin"), "sup": await auth("supervisor", orgs={"nhs-a"}),
            "ann": await auth("expert", expert="e-ann")}


async def error_of(resp: Any, status: int) -> dict[str, Any]:
    body = await resp.text()
    assert resp.status == status, body
    assert resp.content_type == "application/json", body
    error = json.loads(body)["error"]
    assert set(error) >= {"code", "message"}
    return error


async def skill_count(client: TestClient, admin: dict[str, str]) -> int:
    return (await (await client.get("/api/v1/skills", headers=admin)).json())["total"]


@pytest.mark.parametrize("body", [
    '{"id": "nul", "name": "a\\u0000b"}',          # NUL: PostgreSQL refuses it
    '{"id": "lone", "name": "\\ud800"}',            # a lone surrogate has no UTF-8 form
    '{"id": "key", "name": "x", "\\u0000": 1}',     # in a key too
    DEEP,                                          # RecursionError in the JSON parser
    "[" * 40 + "]" * 40,                           # deeper than any document of ours
    '{"id": "n", "name": "x", "related": {"dementia": Infinity}}',
])
async def test_hostile_json_bodies_are_400_and_change_nothing(
        client: TestClient, tokens: dict[str, dict[str, str]], body: str) -> None:
    before = await skill_count(client, tokens["admin"])
    resp = await client.post("/api/v1/skills", data=body.encode("utf-8", "surrogatepass"),
                             headers={**tokens["admin"], "Content-Type": "application/json"})
    error = await error_of(resp, 400)
    assert error["code"] in ("invalid_text", "malformed_json")
    assert await skill_count(client, tokens["admin"]) == before


@pytest.mark.parametrize("path", [
    "/api/v1/skills/a%00b",                        # NUL in a path
    "/api/v1/experts?skill=%00",                   # and in a query value
    "/api/v1/experts?%00=1",                       # and a query key
])
async def test_nul_in_a_path_or_query_is_400(client: TestClient,
                                             tokens: dict[str, dict[str, str]],
                                             path: str) -> None:
    error = await error_of(await client.get(path, headers=tokens["admin"]), 400)
    assert error["code"] == "invalid_text"


@pytest.mark.parametrize("agreement", ["%C2%B2", "999999999999999999", "%D9%A1%D9%A2",
                                       "0", "-1", "1e3"])
async def test_numeric_ids_are_ascii_digits_the_database_can_hold(
        client: TestClient, tokens: dict[str, dict[str, str]], agreement: str) -> None:
    resp = await client.get(f"/api/v1/sharing-agreements/{agreement}", headers=tokens["admin"])
    await error_of(resp, 404)


@pytest.mark.parametrize("query", ["from=9999-12-31&to=9999-12-31", "from=0001-01-01&to=0001-01-02",
                                   "from=2026-12-07&to=%D9%A1"])
async def test_dates_outside_the_calendar_we_serve_are_400(
        client: TestClient, tokens: dict[str, dict[str, str]], query: str) -> None:
    for path in ("/api/v1/experts/e-ann/rota", "/api/v1/coverage"):
        await error_of(await client.get(f"{path}?{query}", headers=tokens["admin"]), 400)


async def test_a_body_shorter_than_its_content_length_times_out_with_408(
        client: TestClient, tokens: dict[str, dict[str, str]]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    head = ("POST /api/v1/skills HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: {tokens['admin']['Authorization']}\r\n"
            "Content-Length: 100\r\n\r\n{\"id\": ")
    writer.write(head.encode())
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), timeout=10)
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 408")


async def test_a_database_that_cannot_be_reached_while_checking_a_token_is_503(
        client: TestClient, tokens: dict[str, dict[str, str]]) -> None:
    async with unreachable(client.app[DATABASE]):
        error = await error_of(await client.get("/api/v1/skills", headers=tokens["admin"]), 503)
    assert error["code"] == "unavailable"
    assert (await client.get("/api/v1/skills", headers=tokens["admin"])).status == 200


async def test_a_deeply_nested_frame_is_an_error_and_the_sockets_stay_open(
        client: TestClient, tokens: dict[str, dict[str, str]]) -> None:
    async with client.ws_connect("/ws/chat") as chat:
        await chat.send_str(DEEP[:10_000])  # within the frame limit, far past the depth
        reply = await chat.receive_json(timeout=5)
        assert reply["type"] == "error" and "JSON" in reply["message"]
        await chat.send_json({"type": "hello", "text": "my mum has dementia"})
        assert (await chat.receive_json(timeout=5))["type"] == "queued"
    token = tokens["ann"]["Authorization"].split()[1]
    async with client.ws_connect(f"/ws/expert?access_token={token}") as desk:
        assert (await desk.receive_json(timeout=5))["type"] == "hello"
        await desk.send_str(DEEP[:10_000])
        reply = await desk.receive_json(timeout=5)
        assert reply["type"] == "error" and reply["code"] == "malformed_json"
        await desk.send_json({"action": "status", "status": "away"})
        assert (await desk.receive_json(timeout=5))["type"] in ("state", "result")
        assert not desk.closed and desk.close_code is None
        await desk.close()
        assert (await desk.receive()).type in (WSMsgType.CLOSED, WSMsgType.CLOSE)


async def test_callbacks_show_supervisors_masked_numbers_and_refuse_the_far_future(
        client: TestClient, tokens: dict[str, dict[str, str]]) -> None:
    body = {"number": "+447700900123", "skill": "dementia", "language": "en",
            "due_at": "2999-01-01T09:00:00+00:00"}
    resp = await client.post("/api/v1/callbacks", json=body, headers=tokens["admin"])
    assert (await error_of(resp, 422))["message"].startswith("'due_at' is more than")
    resp = await client.post("/api/v1/callbacks", json={**body, "language": "en\u0000"},
                             headers=tokens["admin"])
    await error_of(resp, 400)
    soon = {**body, "due_at": "2026-12-31T09:00:00+00:00"}
    resp = await client.post("/api/v1/callbacks", json=soon, headers=tokens["admin"])
    assert resp.status == 201, await resp.text()
    for who, number in (("admin", "+447700900123"), ("sup", "***123")):
        listed = await (await client.get("/api/v1/callbacks", headers=tokens[who])).json()
        assert [c["number"] for c in listed["items"]] == [number]


def test_tracebacks_in_the_log_have_numbers_and_tokens_masked() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(MaskingFormatter("%(levelname)s %(message)s"))
    log = logging.getLogger("tests.masking")
    log.addHandler(handler)
    try:
        raise ValueError("INSERT INTO callback VALUES ('+447700900123', 'Bearer xl_secret')")
    except ValueError:
        log.exception("could not save callback for 07700 900456")
    finally:
        log.removeHandler(handler)
    text = out.getvalue()
    assert "ValueError" in text and "***123" in text and "***456" in text
    assert "7700900123" not in text and "900456" not in text and "xl_secret" not in text


@pytest.mark.parametrize(("path", "headers", "status"), [
    ("/api/v1/skills?q=" + "x" * 20_000, {}, 414),            # a 20 KB request line
    ("/api/v1/skills", {"X-Padding": "x" * 10_000}, 431),     # a 10 KB header
])
async def test_an_over_long_request_line_or_header_is_a_json_4xx(
        client: TestClient, tokens: dict[str, dict[str, str]], path: str,
        headers: dict[str, str], status: int) -> None:
    """aiohttp's own parser answered these with a plain-text 400."""
    resp = await client.get(path, headers={**tokens["admin"], **headers})
    await error_of(resp, status)
