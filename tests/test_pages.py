"""The pages' foundation through the real app: the landing page, sign-in links, the session
cookie, CSRF on everything that changes something, the desk socket's origin check, sign-out,
and the headers every response carries."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from base.access import Role
from base.audit import AuditEntry
from base.clock import now_utc
from expertline.app import DATABASE
from pages import sessions
from router.context import engine_of
from skills.watch import EVERYTHING
from tests.engine_support import seed_pool


@pytest.fixture
async def pool(client: TestClient) -> None:
    await seed_pool(client.app[DATABASE])
    await engine_of(client.app)._reload_pool(EVERYTHING)


async def link(client: TestClient, role: Role = Role.EXPERT, *, expert: str | None = "e-ann",
               orgs: frozenset[str] = frozenset(), minutes: int = 10,
               ago: timedelta = timedelta()) -> str:
    async with client.app[DATABASE].transaction() as session:
        return sessions.make_link(session, role=role, expert_id=expert, orgs=orgs,
                                  minutes=minutes, now=now_utc() - ago)


async def sign_in(client: TestClient, token: str) -> Any:
    return await client.post(f"/sign-in/{token}", allow_redirects=False)


def csrf_of(html: str) -> str:
    marker = '<meta name="csrf-token" content="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


async def test_the_landing_page_links_to_the_three_pages_and_says_999(client: TestClient) -> None:
    resp = await client.get("/")
    html = await resp.text()
    assert resp.status == 200 and resp.content_type == "text/html"
    for href in ('href="/chat"', 'href="/desk"', 'href="/console"'):
        assert href in html
    assert "call 999" in html and "<script>" not in html  # no inline script anywhere
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["X-Frame-Options"] == "DENY"


async def test_the_desk_asks_a_stranger_to_sign_in(client: TestClient) -> None:
    resp = await client.get("/desk")
    html = await resp.text()
    assert resp.status == 401 and "expertline sign-in-link --expert" in html


async def test_a_sign_in_link_works_once_and_starts_a_guarded_session(
        client: TestClient, pool: None) -> None:
    token = await link(client)
    page = await client.get(f"/sign-in/{token}")  # a mail scanner's GET spends nothing
    assert page.status == 200 and "Sign in" in await page.text()
    resp = await sign_in(client, token)
    assert resp.status == 303 and resp.headers["Location"] == "/desk"
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    again = await sign_in(client, token)
    assert again.status == 410 and "used already" in await again.text()

    desk = await client.get("/desk")
    assert desk.status == 200
    csrf = csrf_of(await desk.text())
    assert (await client.get("/api/v1/me")).status == 200  # the cookie reads the desk
    body = {"status": "away"}
    refused = await client.put("/api/v1/me/status", json=body)
    assert refused.status == 403 and (await refused.json())["error"]["code"] == "csrf"
    done = await client.put("/api/v1/me/status", json=body, headers={"X-CSRF-Token": csrf})
    assert done.status == 200 and (await done.json())["presence"] == "away"


async def test_an_expired_link_is_refused(client: TestClient, pool: None) -> None:
    token = await link(client, minutes=10, ago=timedelta(minutes=11))
    assert (await sign_in(client, token)).status == 410


async def test_the_desk_socket_takes_the_cookie_only_from_our_own_pages(
        client: TestClient, pool: None) -> None:
    await sign_in(client, await link(client))
    own = str(client.make_url("/")).rstrip("/")
    async with client.ws_connect("/ws/expert", origin=own) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
    resp = await client.get("/ws/expert", headers={"Origin": "https://evil.example",
                                                   "Upgrade": "websocket",
                                                   "Connection": "Upgrade",
                                                   "Sec-WebSocket-Version": "13",
                                                   "Sec-WebSocket-Key": "dGhlIHNhbXBsZQ=="})
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "bad_origin"


async def test_sign_out_ends_the_session_at_once_and_both_are_audited(
        client: TestClient, pool: None) -> None:
    await sign_in(client, await link(client, Role.SUPERVISOR, expert=None,
                                     orgs=frozenset({"nhs-a"})))
    console = await client.get("/console")
    assert console.status == 200 and "a supervisor for nhs-a" in await console.text()
    csrf = csrf_of(await console.text())
    assert (await client.post("/sign-out", data={"csrf_token": "wrong"})).status == 403
    out = await client.post("/sign-out", data={"csrf_token": csrf})
    assert out.status == 200 and "signed out" in await out.text()
    assert (await client.get("/console")).status == 401
    assert (await client.get("/api/v1/stats")).status == 401
    async with client.app[DATABASE].transaction() as session:
        query = select(AuditEntry).where(col(AuditEntry.entity) == "web_session")
        trail = (await session.exec(query.order_by(col(AuditEntry.id)))).all()
    assert [(e.action, e.actor) for e in trail] == [("sign_in", "supervisor:session"),
                                                    ("sign_out", "supervisor:session")]
    assert trail[0].entity_id == trail[1].entity_id and trail[0].after is not None
    assert trail[0].after["orgs"] == "nhs-a"


async def test_an_expert_session_cannot_open_the_console(client: TestClient, pool: None) -> None:
    await sign_in(client, await link(client))
    assert (await client.get("/console")).status == 401
    assert (await client.get("/api/v1/stats")).status == 403


async def test_the_sign_in_link_command_prints_a_link_that_signs_in_once(
        client: TestClient, pool: None, config: Any, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from expertline.cli import main

    monkeypatch.setenv("EXPERTLINE_DATABASE_URL", config.database_url)
    monkeypatch.setenv("EXPERTLINE_PUBLIC_URL", "https://expertline.example.nhs.uk")
    run = asyncio.to_thread  # the command runs its own event loop, as from a shell
    assert await run(main, ["sign-in-link", "--expert", "e-ann", "--minutes", "5"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("https://expertline.example.nhs.uk/sign-in/")
    token = printed.rsplit("/", 1)[1]
    assert (await sign_in(client, token)).status == 303
    assert (await sign_in(client, token)).status == 410
    for argv in (["sign-in-link", "--expert", "nobody"], ["sign-in-link"],
                 ["sign-in-link", "--role", "supervisor", "--org", "no-such-org"],
                 ["sign-in-link", "--role", "admin", "--org", "nhs-a"],
                 ["sign-in-link", "--expert", "e-ann", "--minutes", "0"]):
        assert await run(main, argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("expertline: error:")


async def test_the_welsh_chat_page_has_no_english_left(client: TestClient) -> None:
    """Even what only a screen reader or a browser without JavaScript shows is Welsh."""
    welsh = await (await client.get("/chat?lang=cy")).text()
    assert "Gwall:" in welsh and "Mae angen JavaScript" in welsh
    assert "Error:" not in welsh and "needs JavaScript" not in welsh
    english = await (await client.get("/chat")).text()
    assert "Error:" in english and "This chat needs JavaScript" in english


async def test_the_chat_keeps_its_organisations_line_when_the_language_changes(
        client: TestClient) -> None:
    """/chat?org=ID opens a chat on that organisation's line (its local rules); switching to
    Welsh, or starting again, must not drop it. A malformed org is not echoed."""
    page = await (await client.get("/chat?org=kingsmere-council")).text()
    assert 'href="/chat?lang=cy&amp;org=kingsmere-council"' in page
    assert 'href="/chat?lang=en&amp;org=kingsmere-council"' in page
    hostile = await (await client.get('/chat?org="><script>x</script>')).text()
    assert "<script>x" not in hostile and 'href="/chat?lang=cy"' in hostile
