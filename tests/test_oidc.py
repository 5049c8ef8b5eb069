"""Federated sign-in through a real OpenID Connect provider on loopback (``tests.oidc_provider``,
Authlib's server side), with the real app on a real database: a browser's cookies and
redirects followed over HTTP, the claims mapping, and every way a sign-in must be refused."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestServer, unused_port
from sqlmodel import col, select

from base.access import Role
from base.audit import AuditEntry
from base.clock import now_utc
from base.config import Config, OidcProviderConfig
from expertline.app import DATABASE, create_app
from pages import sessions
from pages.tables import WebSessionRow
from router.context import engine_of
from skills.models import Expert
from skills.watch import EVERYTHING
from tests.conftest import make_config
from tests.engine_support import seed_pool
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider

ANN = {"sub": "u-ann", "email": "Ann@NHS-A.example", "email_verified": True}


@dataclass
class Federated:
    provider: Provider
    site: TestServer
    config: Config

    def url(self, path: str) -> str:
        return str(self.site.make_url(path))

    def browser(self) -> aiohttp.ClientSession:
        """A fresh browser: its own cookie jar (cookies for 127.0.0.1 too)."""
        return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def sessions(self) -> list[WebSessionRow]:
        async with self.site.app[DATABASE].session() as session:
            return list((await session.exec(select(WebSessionRow))).all())


@pytest.fixture
async def federated(aiohttp_server: Callable[..., Awaitable[TestServer]], db_url: str,
                    tmp_path: Any) -> AsyncIterator[Federated]:
    port = unused_port()
    public = f"http://127.0.0.1:{port}"
    provider = Provider()
    await provider.start(aiohttp_server, f"{public}/sign-in/oidc/nhs-a/callback")
    nhs = OidcProviderConfig(
        id="nhs-a", name="NHS A staff account", issuer=provider.issuer, client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET, orgs=("nhs-a",), roles_claim="roles",
        supervisor_values=("expertline-supervisor",), contact="the NHS A service desk")
    config = make_config(db_url, tmp_path).replace(server={"public_url": public},
                                                   oidc={"providers": (nhs,)})
    site = await aiohttp_server(create_app(config), host="127.0.0.1", port=port)
    db = site.app[DATABASE]
    await seed_pool(db)
    async with db.transaction() as session:
        await session.exec(sa.update(Expert).where(col(Expert.id) == "e-ann")
                           .values(email="ann@nhs-a.example"))
    await engine_of(site.app)._reload_pool(EVERYTHING)
    yield Federated(provider, site, config)


async def sign_in(fed: Federated, browser: aiohttp.ClientSession) -> tuple[int, str, str]:
    """Press the provider's button and follow every redirect: (status, final path, page)."""
    async with browser.get(fed.url("/sign-in/oidc/nhs-a")) as resp:
        return resp.status, resp.url.path, await resp.text()


async def callback_of(fed: Federated, browser: aiohttp.ClientSession) -> str:
    """Leave for the provider and stop at its redirect back: the callback URL."""
    async with browser.get(fed.url("/sign-in/oidc/nhs-a"), allow_redirects=False) as leave:
        assert leave.status == 303
        target = leave.headers["Location"]
    query = parse_qs(urlsplit(target).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    async with browser.get(target, allow_redirects=False) as approve:
        assert approve.status == 302, await approve.text()
        return approve.headers["Location"]


async def test_the_sign_in_page_lists_the_providers(federated: Federated) -> None:
    async with federated.browser() as browser, browser.get(federated.url("/sign-in")) as resp:
        html = await resp.text()
    assert resp.status == 200 and 'href="/sign-in/oidc/nhs-a"' in html
    assert "NHS A staff account" in html and "expertline sign-in-link" in html
    async with federated.browser() as browser, browser.get(federated.url("/desk")) as desk:
        assert desk.status == 401 and 'href="/sign-in"' in await desk.text()


async def test_an_expert_signs_in_through_the_provider_and_reaches_the_desk(
        federated: Federated) -> None:
    federated.provider.user = ANN
    async with federated.browser() as browser:
        status, path, html = await sign_in(federated, browser)
        assert (status, path) == (200, "/desk") and "Expert desk" in html
        async with browser.get(federated.url("/api/v1/me")) as me:
            assert me.status == 200
        async with browser.get(federated.url("/console")) as console:
            assert console.status == 401  # an expert only has the desk
    (row,) = await federated.sessions()
    assert (row.role, row.expert_id, row.label) == ("expert", "e-ann",
                                                     "nhs-a:Ann@NHS-A.example")
    async with federated.site.app[DATABASE].session() as session:
        trail = (await session.exec(select(AuditEntry).where(
            col(AuditEntry.entity) == "web_session"))).all()
    assert [(e.action, e.actor) for e in trail] == [("sign_in", "expert:e-ann")]
    assert trail[0].after is not None and trail[0].after["oidc"] == "nhs-a"


async def test_a_supervisor_gets_the_console_for_the_providers_organisations_only(
        federated: Federated) -> None:
    federated.provider.user = {"sub": "u-sue", "email": "sue@nhs-a.example",
                               "roles": ["expertline-supervisor", "staff"]}
    async with federated.browser() as browser:
        status, path, html = await sign_in(federated, browser)
        assert (status, path) == (200, "/console") and "a supervisor for nhs-a" in html
        async with browser.get(federated.url("/desk")) as desk:
            assert desk.status == 401
    (row,) = await federated.sessions()
    assert (row.role, row.orgs) == ("supervisor", "nhs-a")


@pytest.mark.parametrize("user", [
    {"sub": "u-x", "email": "stranger@example.org"},  # nobody here
    {"sub": "u-ann", "email": "ann@nhs-a.example", "email_verified": False},  # unchecked
    {"sub": "u-x", "email": "x@nhs-a.example", "roles": ["expertline-admin"]},  # no such role
])
async def test_an_unmapped_person_is_told_whom_to_ask_and_gets_no_session(
        federated: Federated, user: dict[str, Any]) -> None:
    federated.provider.user = user
    async with federated.browser() as browser:
        status, _path, html = await sign_in(federated, browser)
        assert status == 403 and "You have no account here" in html
        assert "ask the NHS A service desk" in html
        assert "xl_session" not in {c.key for c in browser.cookie_jar}
    assert await federated.sessions() == []


@pytest.mark.parametrize(("knob", "value", "words"), [
    ("nonce", "not-the-one-we-sent", "answers another sign-in"),
    ("sign_with_other_key", True, "not signed by one of its keys"),
    ("audience", "another-service", "meant for another service"),
])
async def test_a_token_the_provider_should_not_have_sent_is_refused(
        federated: Federated, knob: str, value: object, words: str) -> None:
    federated.provider.user = ANN
    setattr(federated.provider, knob, value)
    async with federated.browser() as browser:
        status, _path, html = await sign_in(federated, browser)
    assert status == 401 and "You have not been signed in" in html and words in html
    assert await federated.sessions() == []


async def test_a_bad_state_or_another_browser_cannot_finish_a_sign_in(
        federated: Federated) -> None:
    federated.provider.user = ANN
    async with federated.browser() as browser:
        back = await callback_of(federated, browser)
        parts = urlsplit(back)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        forged = f"{parts.path}?{urlencode({**query, 'state': 'forged'})}"
        async with browser.get(federated.url(forged)) as resp:
            assert resp.status == 400 and "cannot be finished" in await resp.text()
        async with federated.browser() as other, other.get(back) as resp:
            assert resp.status == 400  # the callback carried to another browser (login CSRF)
        assert await federated.sessions() == []
        async with browser.get(back) as resp:
            assert (resp.status, resp.url.path) == (200, "/desk")  # its own browser may
        async with browser.get(back) as resp:
            assert resp.status == 400  # but only once
    assert len(await federated.sessions()) == 1


async def test_every_sign_in_makes_a_new_cookie_and_ends_the_one_presented(
        federated: Federated) -> None:
    federated.provider.user = ANN
    async with federated.browser() as browser:
        await sign_in(federated, browser)
        first = {c.key: c.value for c in browser.cookie_jar}["xl_session"]
        await sign_in(federated, browser)
        second = {c.key: c.value for c in browser.cookie_jar}["xl_session"]
        assert first != second
        rows = await federated.sessions()
        assert sorted(r.revoked_at is None for r in rows) == [False, True]
        async with federated.site.app[DATABASE].transaction() as session:
            link = sessions.make_link(session, role=Role.EXPERT, expert_id="e-bob",
                                      minutes=10, now=now_utc())
        async with browser.post(federated.url(f"/sign-in/{link}")) as resp:
            assert resp.url.path == "/desk"  # a sign-in link rotates the cookie too
        third = {c.key: c.value for c in browser.cookie_jar}["xl_session"]
    assert third not in (first, second)
    assert [r.revoked_at is None for r in await federated.sessions()].count(True) == 1
    async with federated.browser() as old:
        old.cookie_jar.update_cookies({"xl_session": first}, federated.site.make_url("/"))
        async with old.get(federated.url("/desk")) as desk:
            assert desk.status == 401


async def test_callbacks_that_sign_nobody_in_are_throttled_per_address(
        federated: Federated) -> None:
    """Forged callbacks spend the address's sign-in budget (limits.sign_in_failures_per_min,
    10): the next is answered 429 with Retry-After before its state is looked at."""
    federated.provider.user = ANN
    async with federated.browser() as browser:
        back = await callback_of(federated, browser)
        parts = urlsplit(back)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        for n in range(10):
            forged = f"{parts.path}?{urlencode({**query, 'state': f'forged-{n}'})}"
            async with browser.get(federated.url(forged)) as resp:
                assert resp.status == 400
        async with browser.get(back) as resp:  # even the genuine one must wait now
            assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1
    assert await federated.sessions() == []
