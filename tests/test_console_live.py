"""The console's live figures: ``GET /api/v1/stats`` split per skill, today and over the last
30 minutes, and the wallboard's socket ``/ws/console``, which pushes exactly those figures (and
the contacts not yet finished) when routing changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient

from base.access import Role
from expertline.app import DATABASE
from router.context import engine_of
from router.stats import SharedStats
from skills.watch import EVERYTHING
from tests.conftest import TokenFactory
from tests.engine_support import arrive, seed_pool
from tests.test_pages import link, sign_in

NOON = datetime(2026, 12, 4, 12, 0, tzinfo=ZoneInfo("Europe/London")).timestamp()


class Frozen:
    """The engine's clock, moved only by the test."""

    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


@pytest.fixture
async def live(client: TestClient) -> Frozen:
    await seed_pool(client.app[DATABASE])
    engine = engine_of(client.app)
    await engine._reload_pool(EVERYTHING)
    engine.clock = clock = Frozen(NOON - 3600)
    return clock



async def stats(client: TestClient, headers: dict[str, str]) -> Any:
    resp = await client.get("/api/v1/stats", headers=headers)
    assert resp.status == 200
    return await resp.json()


async def test_stats_say_each_skills_figures_for_today_and_the_last_half_hour(
        client: TestClient, live: Frozen, auth: TokenFactory) -> None:
    engine = engine_of(client.app)
    early = await arrive(client.app, "CA-early")
    await engine.abandon(early, reason="hung up")  # an hour ago: today, not the last 30 min
    live.at = NOON
    late = await arrive(client.app, "CA-late")
    await engine.abandon(late, reason="hung up")
    await arrive(client.app, "CA-waiting")
    await arrive(client.app, "CA-other", skill="housing")
    found = await stats(client, await auth("supervisor", orgs={"nhs-a"}))
    dementia = found["by_skill"]["dementia"]
    assert (dementia["today"]["offered"], dementia["today"]["abandoned"]) == (3, 2)
    assert (dementia["last_30_min"]["offered"], dementia["last_30_min"]["abandoned"]) == (2, 1)
    assert dementia["today"]["abandon_rate"] == 1.0  # both settled contacts were abandoned
    assert found["by_skill"]["housing"]["today"]["offered"] == 1
    assert found["last_30_min"]["offered"] == 3 and found["today"]["offered"] == 4
    assert found["waiting"] == 2


async def test_the_wallboard_socket_pushes_what_the_stats_api_answers(
        client: TestClient, live: Frozen, auth: TokenFactory) -> None:
    headers = await auth("supervisor", orgs={"nhs-a"})
    async with client.ws_connect("/ws/console", headers=headers) as ws:
        first = await ws.receive_json(timeout=5)
        assert first["type"] == "wallboard" and first["contacts"] == []
        assert first["stats"] == await stats(client, headers)
        contact = await arrive(client.app, "CA-1")
        pushed = await ws.receive_json(timeout=5)  # the change is pushed, not polled for
        assert pushed["stats"] == await stats(client, headers)
        assert pushed["stats"]["waiting"] == 1
        assert [c["id"] for c in pushed["contacts"]] == [contact]
        shown = pushed["contacts"][0]
        assert shown["skill"] == "dementia" and shown["state"] == "queued"
        assert "address" not in shown and "first_words" not in shown


async def test_consoles_share_one_reading_of_the_figures_for_half_a_second(
        client: TestClient, live: Frozen) -> None:
    """Each reading scans today's contacts, so wallboards share one: a second reading within
    the half-second returns the first; after it, the figures are read again."""
    monotonic = Frozen(0.0)
    shared = SharedStats(engine_of(client.app), 0.5, clock=monotonic)
    first = await shared.read()
    await arrive(client.app, "CA-shared")
    monotonic.at = 0.4
    assert await shared.read() is first and first["waiting"] == 0
    monotonic.at = 0.5
    assert (await shared.read())["waiting"] == 1


async def test_only_supervisors_and_admins_watch_the_wallboard(
        client: TestClient, live: Frozen, auth: TokenFactory) -> None:
    expert = await auth("expert", expert="e-ann")
    assert (await client.get("/ws/console", headers=expert)).status == 403
    assert (await client.get("/ws/console")).status == 401
    async with client.ws_connect("/ws/console", headers=await auth("admin")) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "wallboard"


async def test_the_wallboard_page_is_for_a_signed_in_supervisor_and_its_socket_checks_origin(
        client: TestClient, live: Frozen) -> None:
    page = await client.get("/console")
    assert page.status == 401 and "Sign in first" in await page.text()
    await sign_in(client, await link(client, Role.SUPERVISOR, expert=None,
                                     orgs=frozenset({"nhs-a"})))
    page = await client.get("/console")
    html = await page.text()
    assert page.status == 200 and "Wallboard" in html and "/static/console.js" in html
    own = str(client.make_url("/")).rstrip("/")
    async with client.ws_connect("/ws/console", origin=own) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "wallboard"
    resp = await client.get("/ws/console", headers={
        "Origin": "https://evil.example", "Upgrade": "websocket", "Connection": "Upgrade",
        "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZQ=="})
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "bad_origin"
