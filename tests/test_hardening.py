"""Hardening (issue 18, item 5): the security headers on every page and API answer, and
sign-in links that keep failing from one address are throttled (429 with Retry-After), on an
injected clock."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from base.access import Role
from base.config import Config
from base.limits import RateLimit
from expertline.app import DATABASE, create_app
from pages.throttle import SIGN_IN_FAILURES
from tests.conftest import make_config
from tests.engine_support import seed_pool
from tests.test_pages import link, pool, sign_in

__all__ = ["pool"]  # the fixture, used by name
IDS = {"/console/experts/{id}": "e-ann", "/console/skills/{id}": "dementia"}
EVERY_ANSWER = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                "X-Frame-Options": "DENY"}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def config(sqlite_url: str, tmp_path: Path) -> Config:
    return make_config(sqlite_url, tmp_path)


def page_paths(client: TestClient) -> list[str]:
    """Every GET route that is not the API, a socket, a webhook or a static file, with its
    path parameters filled in."""
    found = set()
    for route in client.app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method != "GET" or path.startswith(("/api/", "/ws/", "/twilio/", "/static")):
            continue
        found.add(re.sub(r"\{[^}]+\}", lambda _m, p=path: IDS.get(p, "x"), path))
    return sorted(found)


def assert_hardened(resp: Any, *, https: bool = False) -> None:
    where = f"{resp.method} {resp.url.path} ({resp.status})"
    for name, value in EVERY_ANSWER.items():
        assert resp.headers.get(name) == value, where
    assert "camera=()" in resp.headers.get("Permissions-Policy", ""), where
    csp = resp.headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, where
    assert "default-src 'self'" in csp and "script-src 'self'" in csp, where
    assert ("Strict-Transport-Security" in resp.headers) is https, where


async def test_every_page_and_api_answer_carries_the_security_headers(
        client: TestClient, pool: None) -> None:
    paths = page_paths(client)
    assert {"/", "/chat", "/desk", "/console", "/console/experts/e-ann"} <= set(paths)
    for path in paths:  # signed out: the pages that ask for a sign-in
        assert_hardened(await client.get(path, allow_redirects=False))
    assert (await sign_in(client, await link(client, Role.ADMIN, expert=None))).status == 303
    for path in paths:  # signed in as an admin: the console's real pages
        resp = await client.get(path, allow_redirects=False)
        assert_hardened(resp)
        if path.startswith("/console") and path not in ("/console/contacts/x",):
            assert resp.status == 200 and resp.content_type == "text/html", path
    for path in ("/api/v1/skills", "/api/v1/openapi.json", "/api/v1/nothing", "/healthz",
                 "/static/desk.js"):
        assert_hardened(await client.get(path))


async def test_hsts_only_when_the_public_url_is_https(aiohttp_client: Any, sqlite_url: str,
                                                      tmp_path: Path) -> None:
    config = make_config(sqlite_url, tmp_path, server={"public_url": "https://x.example"})
    client = await aiohttp_client(create_app(config))
    for path in ("/", "/console", "/api/v1/openapi.json", "/api/v1/skills"):
        resp = await client.get(path)
        assert_hardened(resp, https=True)
        assert "max-age=31536000" in resp.headers["Strict-Transport-Security"]


async def test_failed_sign_ins_from_one_address_are_throttled(
        aiohttp_client: Any, config: Config) -> None:
    clock = Clock()
    app = create_app(config)
    app[SIGN_IN_FAILURES] = RateLimit(3, clock=clock)  # 3 at once, then one every 20 s
    client = await aiohttp_client(app)
    await seed_pool(app[DATABASE])
    good = await link(client)
    for _ in range(3):
        assert (await sign_in(client, "no-such-link")).status == 410
    refused = await sign_in(client, good)  # blocked before the link is looked at
    assert refused.status == 429 and refused.headers["Retry-After"] == "20"
    assert "Too many attempts" in await refused.text()
    assert_hardened(refused)
    clock.now += 19
    still = await sign_in(client, good)  # about a second left (Retry-After rounds up)
    assert still.status == 429 and int(still.headers["Retry-After"]) in (1, 2)
    clock.now += 1
    assert (await sign_in(client, good)).status == 303  # the link was never spent
    assert (await sign_in(client, "no-such-link")).status == 410
    assert (await sign_in(client, "no-such-link")).status == 429


async def test_a_working_link_spends_nothing(aiohttp_client: Any, config: Config) -> None:
    clock = Clock()
    app = create_app(config)
    app[SIGN_IN_FAILURES] = RateLimit(1, clock=clock)
    client = await aiohttp_client(app)
    await seed_pool(app[DATABASE])
    for _ in range(3):
        assert (await sign_in(client, await link(client))).status == 303
    assert (await sign_in(client, "no-such-link")).status == 410
    assert (await sign_in(client, await link(client))).status == 429
