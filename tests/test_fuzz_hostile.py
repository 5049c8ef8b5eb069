"""Property: hostile input at every route and WebSocket finds no 5xx and changes no data
(issue 13, "Done when"). Hypothesis draws a route of the real app, fills its path with hostile
ids, its query with hostile values and its body with hostile JSON (``strategies_hostile``),
and sends it as an admin would; the chat and desk sockets get hostile frames. Afterwards every
table holds exactly what it held before."""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from base.config import Config
from expertline.app import DATABASE
from expertline.tables import metadata
from router.context import engine_of
from skills.watch import EVERYTHING
from tests.conftest import TokenFactory, make_config
from tests.engine_support import seed_pool
from tests.strategies_hostile import (
    VALID_BODIES,
    hostile_bodies,
    hostile_dates,
    hostile_frames,
    hostile_ids,
    hostile_text,
    poisoned_bodies,
)

QUERY_KEYS = ("limit", "offset", "state", "skill", "from", "to", "date", "text", "format",
              "entity", "org", "language", "force", "dry_run", "fragile_max", "access_token")
REAL_IDS = {"/api/v1/skills/{id}": "dementia", "/api/v1/organisations/{id}": "nhs-a"}
FUZZ = settings(max_examples=200, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@pytest.fixture
def config(db_url: str, tmp_path: Any) -> Config:
    """No per-client limits here: every example comes from the same address."""
    return make_config(db_url, tmp_path, limits={"chat_opens_per_min": 0,
                                                 "auth_failures_per_min": 0})


@pytest.fixture
async def tokens(client: TestClient, auth: TokenFactory) -> dict[str, dict[str, str]]:
    await seed_pool(client.app[DATABASE])
    await engine_of(client.app)._reload_pool(EVERYTHING)
    return {"admin": await auth("admin"), "ann": await auth("expert", expert="e-ann")}


@pytest.fixture
async def baseline(client: TestClient, tokens: dict[str, dict[str, str]]) -> dict[str, str]:
    """The data before any example ran (fixtures run once per test, not per example)."""
    return await digest(client)


def routes(client: TestClient) -> list[tuple[str, str]]:
    found = []
    for route in client.app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method in ("GET", "POST", "PUT", "PATCH", "DELETE") and path:
            found.append((route.method, path))
    return sorted(set(found))


def encoded(value: str) -> str:
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


async def digest(client: TestClient) -> dict[str, str]:
    """Every table's rows, hashed: what "no change to data" is checked against."""
    found = {}
    async with client.app[DATABASE].engine.connect() as conn:
        for table in sorted(metadata().tables.values(), key=lambda t: t.name):
            # a token's last use is bookkeeping any authorised request may write
            columns = [c for c in table.columns
                       if (table.name, c.name) != ("api_token", "last_used_at")]
            rows = (await conn.execute(sa.select(*columns))).all()
            found[table.name] = hashlib.sha256(
                repr(sorted(map(repr, rows))).encode()).hexdigest()
    return found


async def assert_refused_cleanly(resp: Any) -> None:
    body = await resp.read()
    assert resp.status < 500, body[:300]
    if resp.status >= 400 and resp.content_type == "application/json":
        error = (await resp.json())["error"]
        assert isinstance(error["code"], str) and isinstance(error["message"], str)


@st.composite
def requests(draw: st.DrawFn, table: list[tuple[str, str]]) -> tuple[str, str, bytes]:
    """A hostile request: hostile ids and query values and a hostile body, or a real id and a
    body the route accepts but for one poisoned string."""
    method, template = draw(st.sampled_from(table))
    valid = VALID_BODIES.get((method, template))
    if valid is not None and draw(st.booleans()):
        path = template.format(id=REAL_IDS.get(template, "e-ann"), skill="dementia")
        return method, path, draw(poisoned_bodies(valid))
    path = re.sub(r"\{[^}]+\}", lambda _m: encoded(draw(hostile_ids)), template)
    keys = draw(st.lists(st.sampled_from(QUERY_KEYS), max_size=3, unique=True))
    values = [draw(hostile_dates | hostile_ids | hostile_text) for _ in keys]
    query = "&".join(f"{k}={encoded(v)}" for k, v in zip(keys, values, strict=True))
    return method, f"{path}?{query}" if query else path, draw(hostile_bodies())


@given(data=st.data())
@FUZZ
async def test_hostile_requests_at_every_route_get_no_5xx_and_change_nothing(
        client: TestClient, tokens: dict[str, dict[str, str]], baseline: dict[str, str],
        data: st.DataObject) -> None:
    method, url, body = data.draw(requests(routes(client)))
    headers = {**tokens["admin"], "Content-Type": "application/json"}
    resp = await client.request(method, url, data=body, headers=headers)
    await assert_refused_cleanly(resp)
    assert await digest(client) == baseline


@given(frames=st.lists(hostile_frames(), min_size=1, max_size=6))
@FUZZ
async def test_hostile_frames_on_the_sockets_are_refused_and_change_nothing(
        client: TestClient, tokens: dict[str, dict[str, str]], baseline: dict[str, str],
        frames: list[str]) -> None:
    ann = tokens["ann"]["Authorization"].split()[1]
    async with client.ws_connect(f"/ws/expert?access_token={ann}") as desk:
        assert (await desk.receive_json(timeout=5))["type"] == "hello"
        for frame in frames:
            await desk.send_str(frame)
            assert (await desk.receive_json(timeout=5))["type"] == "error"
    async with client.ws_connect("/ws/chat") as chat:
        for frame in frames:
            await chat.send_str(frame)
            assert (await chat.receive_json(timeout=5))["type"] == "error"
    assert await digest(client) == baseline
