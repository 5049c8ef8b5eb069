"""``GET /metrics``: Prometheus figures an operator scrapes, read back with prometheus_client's
own parser. Who may read them (an admin; loopback only when configured), the live queues and
experts, today's service level, routing decisions and commits, HTTP requests by route, open
WebSockets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from base.metrics import Metrics
from expertline.app import DATABASE, create_app
from router.context import engine_of
from skills.watch import EVERYTHING
from tests.conftest import TokenFactory, make_config
from tests.engine_support import arrive, seed_pool

NOON = datetime(2026, 12, 4, 12, 0, tzinfo=ZoneInfo("Europe/London")).timestamp()
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


async def scrape(client: TestClient, headers: dict[str, str] | None = None) -> Samples:
    resp = await client.get("/metrics", headers=headers or {})
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/plain")
    return parse(await resp.text())


@pytest.fixture
async def admin(auth: TokenFactory) -> dict[str, str]:
    return await auth("admin")


@pytest.fixture
async def pool(client: TestClient) -> None:
    """The small test pool, loaded by the engine, on a clock held at noon."""
    await seed_pool(client.app[DATABASE])
    engine = engine_of(client.app)
    await engine._reload_pool(EVERYTHING)
    engine.clock = lambda: NOON


async def test_metrics_need_an_admin_by_default(client: TestClient, auth: TokenFactory) -> None:
    resp = await client.get("/metrics")
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "unauthorized"
    assert (await client.get("/metrics", headers={"Authorization": "Bearer xl_nope"})
            ).status == 401
    supervisor = await auth("supervisor", orgs={"nhs-a"})
    assert (await client.get("/metrics", headers=supervisor)).status == 403
    found = await scrape(client, await auth("admin"))
    assert value(found, "expertline_experts", state="available") == 0


async def test_loopback_may_scrape_without_a_token_when_configured(
        aiohttp_client: Callable[..., Awaitable[TestClient]], sqlite_url: str,
        tmp_path: Path) -> None:
    config = make_config(sqlite_url, tmp_path, metrics={"allow_loopback": True},
                         server={"data_dir": str(tmp_path), "trust_forwarded_for": True})
    client = await aiohttp_client(create_app(config))
    found = await scrape(client)  # the test client connects from 127.0.0.1
    assert value(found, "expertline_experts", state="offline") == 0
    # a proxy the operator trusts says the client is elsewhere: a token is needed again
    resp = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
    assert resp.status == 401


async def test_a_queued_contact_shows_in_the_waiting_gauge_of_its_skill(
        client: TestClient, pool: None, admin: dict[str, str]) -> None:
    before = await scrape(client, admin)
    assert value(before, "expertline_queue_waiting", channel="voice", skill="dementia") == 0
    await arrive(client.app, "CA-metrics")
    found = await scrape(client, admin)
    assert value(found, "expertline_queue_waiting", channel="voice", skill="dementia") == 1
    assert value(found, "expertline_queue_waiting", channel="voice", skill="housing") == 0
    assert value(found, "expertline_queue_waiting", channel="chat", skill="dementia") == 0
    assert value(found, "expertline_queue_longest_wait_seconds", channel="voice",
                 skill="dementia") == 0  # it arrived now, on the engine's held clock
    assert value(found, "expertline_experts", state="offline") == 3
    # nobody is available, so the engine decided that nobody was eligible, and saved it
    assert value(found, "expertline_routing_decisions_total", outcome="nobody_eligible") == 1
    assert value(found, "expertline_routing_decisions_total", outcome="offered") is None
    assert (value(found, "expertline_routing_commit_seconds_count") or 0) >= 1


async def test_an_offer_is_counted_and_the_expert_shows_as_offered(
        client: TestClient, pool: None, admin: dict[str, str]) -> None:
    engine = engine_of(client.app)
    await engine.set_status("e-ann", "available")
    await arrive(client.app, "CA-offered")
    found = await scrape(client, admin)
    assert value(found, "expertline_routing_decisions_total", outcome="offered") == 1
    assert value(found, "expertline_experts", state="offered") == 1
    # offered, it no longer waits in the queue (as GET /api/v1/stats counts it)
    assert value(found, "expertline_queue_waiting", channel="voice", skill="dementia") == 0


async def test_todays_service_level_per_skill_is_the_stats_apis(
        client: TestClient, pool: None, admin: dict[str, str]) -> None:
    engine = engine_of(client.app)
    await engine.abandon(await arrive(client.app, "CA-gone"), reason="hung up")
    found = await scrape(client, admin)
    assert value(found, "expertline_service_level_today", skill="dementia") == 0.0
    assert value(found, "expertline_service_level_goal", skill="dementia") == 0.8
    assert value(found, "expertline_service_level_today", skill="housing") is None
    stats = await (await client.get("/api/v1/stats", headers=admin)).json()
    assert stats["by_skill"]["dementia"]["today"]["service_level"] == 0.0


async def test_requests_are_counted_by_their_route_never_their_path(
        client: TestClient, admin: dict[str, str]) -> None:
    assert (await client.get("/api/v1/contacts/918273", headers=admin)).status == 404
    assert (await client.get("/no/such/page/4455")).status == 404
    assert (await client.get("/healthz")).status == 200
    resp = await client.get("/metrics", headers=admin)
    text = await resp.text()
    found = parse(text)
    assert value(found, "expertline_http_requests_total", route="/api/v1/contacts/{id}",
                 method="GET", status="404") == 1
    assert value(found, "expertline_http_requests_total", route="unmatched", method="GET",
                 status="404") == 1
    assert value(found, "expertline_http_requests_total", route="/healthz", method="GET",
                 status="200") == 1
    assert value(found, "expertline_http_request_duration_seconds_count",
                 route="/healthz", method="GET") == 1
    assert "918273" not in text and "4455" not in text


async def test_open_websockets_are_counted_by_kind(
        client: TestClient, pool: None, admin: dict[str, str], auth: TokenFactory) -> None:
    desk = await auth("expert", expert="e-ann")
    async with client.ws_connect("/ws/console", headers=admin) as console, \
            client.ws_connect("/ws/expert", headers=desk) as expert:
        assert (await console.receive_json(timeout=5))["type"] == "wallboard"
        assert (await expert.receive_json(timeout=5))["type"] == "hello"
        found = await scrape(client, admin)
        assert value(found, "expertline_websocket_connections", kind="console") == 1
        assert value(found, "expertline_websocket_connections", kind="desk") == 1
    for _ in range(100):  # the server's handlers end just after the client sees the close
        found = await scrape(client, admin)
        if value(found, "expertline_websocket_connections", kind="console") == 0 and value(
                found, "expertline_websocket_connections", kind="desk") == 0:
            break
    else:
        pytest.fail("the closed sockets are still counted as open")
    assert value(found, "expertline_http_requests_total", route="/ws/console", method="GET",
                 status="101") == 1
    assert value(found, "expertline_http_request_duration_seconds_count",
                 route="/ws/console", method="GET") is None  # a socket's life is no latency


async def test_each_app_counts_on_a_registry_of_its_own(
        aiohttp_client: Callable[..., Awaitable[TestClient]], sqlite_url: str,
        tmp_path: Path) -> None:
    config = make_config(sqlite_url, tmp_path, metrics={"allow_loopback": True})
    one = await aiohttp_client(create_app(config))
    two = await aiohttp_client(create_app(config))
    await one.get("/healthz")
    assert value(await scrape(one), "expertline_http_requests_total", route="/healthz",
                 method="GET", status="200") == 1
    assert value(await scrape(two), "expertline_http_requests_total", route="/healthz",
                 method="GET", status="200") is None
    assert Metrics().registry is not Metrics().registry
