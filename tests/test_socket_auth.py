"""Open WebSockets end with the sign-in they were opened with (``base.socket_auth``), through
the real app on a real database: sign-out closes the desk and wallboard sockets of that session
at once (4401) and sets its expert offline, so nothing more is offered to them; a session that
expired or went idle, and a revoked token, lose their sockets at the next check; nobody else's
sockets are touched."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient
from sqlmodel import col

from base.access import Role
from base.clock import now_utc
from base.config import SessionsConfig
from base.socket_auth import CLOSE_CODE, OPEN_SOCKETS, Credential, OpenSockets
from expertline.app import DATABASE
from expertline.auth import ApiToken, hash_token, revoke_token
from pages import sessions
from pages.sessions import COOKIE
from pages.tables import WebSessionRow
from router.context import engine_of
from skills.watch import EVERYTHING
from tests.conftest import TokenFactory
from tests.engine_support import arrive, seed_pool
from tests.test_pages import csrf_of, link

CLOSING = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED)


@pytest.fixture
async def pool(client: TestClient) -> None:
    await seed_pool(client.app[DATABASE])
    await engine_of(client.app)._reload_pool(EVERYTHING)


class Browser:
    """One browser: its own cookie jar, so its own session; its tabs share it."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""
        self.cookie = ""

    def url(self, path: str) -> Any:
        return self.client.make_url(path)

    async def sign_in(self, role: Role = Role.EXPERT, *, expert: str | None = "e-ann",
                      orgs: frozenset[str] = frozenset()) -> None:
        token = await link(self.client, role, expert=expert, orgs=orgs)
        async with self.http.post(self.url(f"/sign-in/{token}"),
                                  allow_redirects=False) as resp:
            assert resp.status == 303
            page = resp.headers["Location"]
        async with self.http.get(self.url(page)) as resp:
            assert resp.status == 200
            self.csrf = csrf_of(await resp.text())
        self.cookie = self.http.cookie_jar.filter_cookies(self.url("/"))[COOKIE].value

    async def socket(self, path: str) -> aiohttp.ClientWebSocketResponse:
        """A tab's socket, from our own pages (the origin check), after its first frame."""
        own = str(self.url("/")).rstrip("/")
        ws = await self.http.ws_connect(self.url(path), origin=own)
        first = await ws.receive_json(timeout=5)
        assert first["type"] in {"hello", "wallboard"}
        return ws

    async def sign_out(self) -> None:
        """The page's Sign out form."""
        async with self.http.post(self.url("/sign-out"),
                                  data={"csrf_token": self.csrf}) as resp:
            assert resp.status == 200 and "signed out" in await resp.text()

    @property
    def key(self) -> str:
        return "session:" + sessions.digest(self.cookie)


@pytest.fixture
async def browsers(client: TestClient) -> AsyncIterator[list[Browser]]:
    made = [Browser(client) for _ in range(3)]
    yield made
    for browser in made:
        await browser.http.close()


async def closed(ws: aiohttp.ClientWebSocketResponse) -> tuple[int | None, str]:
    """Read (and drop) what the server still sends until it closes the socket: the close code
    and reason. The timeout only stops a failing test from hanging."""
    while True:
        message = await ws.receive(timeout=5)
        if message.type in CLOSING:  # the code of the server's close frame, as browsers say
            return message.data, message.extra or ""


async def still_works(ws: aiohttp.ClientWebSocketResponse) -> None:
    """The desk still answers an action: its socket is open."""
    await ws.send_json({"action": "nothing"})
    while True:
        frame = await ws.receive_json(timeout=5)
        if frame["type"] == "error":
            assert frame["code"] == "bad_request"
            return


async def available(ws: aiohttp.ClientWebSocketResponse) -> None:
    await ws.send_json({"action": "status", "status": "available"})
    while True:
        frame = await ws.receive_json(timeout=5)
        if frame["type"] == "result":
            assert frame["result"]["presence"] == "available"
            return


def state_of(client: TestClient, contact_id: str) -> str:
    [contact] = [c for c in engine_of(client.app).live_contacts() if c.id == contact_id]
    return contact.state.value


async def test_sign_out_closes_every_desk_of_the_session_and_nothing_more_is_offered(
        client: TestClient, pool: None, browsers: list[Browser]) -> None:
    ann = browsers[0]
    await ann.sign_in()
    first, second = await ann.socket("/ws/expert"), await ann.socket("/ws/expert")
    await available(first)
    open_sockets = client.app[OPEN_SOCKETS]
    assert open_sockets.count(ann.key) == 2
    await ann.sign_out()  # from the first tab
    assert await closed(first) == (CLOSE_CODE, "signed out")
    assert await closed(second) == (CLOSE_CODE, "signed out")
    engine = engine_of(client.app)
    assert engine.desk_state("e-ann")["presence"] == "offline"  # at once, not after the grace
    contact = await arrive(client.app, "CA-after")
    assert state_of(client, contact) == "queued"
    assert engine.desk_state("e-ann")["offers"] == []
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:  # a reconnect, refused
        await ann.http.ws_connect(ann.url("/ws/expert"), origin=str(ann.url("/")).rstrip("/"))
    assert refused.value.status == 401
    assert open_sockets.count(ann.key) == 0


async def test_sign_out_while_an_offer_rings_puts_the_contact_back_unmissed(
        client: TestClient, pool: None, browsers: list[Browser]) -> None:
    ann = browsers[0]
    await ann.sign_in()
    desk = await ann.socket("/ws/expert")
    await available(desk)
    contact = await arrive(client.app, "CA-ringing")
    engine = engine_of(client.app)
    assert [o["contact"]["id"] for o in engine.desk_state("e-ann")["offers"]] == [contact]
    await ann.sign_out()
    assert await closed(desk) == (CLOSE_CODE, "signed out")
    state = engine.desk_state("e-ann")
    assert (state["presence"], state["offers"], state["missed_offers"]) == ("offline", [], 0)
    assert state_of(client, contact) == "queued"


async def test_sign_out_closes_the_wallboard(client: TestClient, pool: None,
                                             browsers: list[Browser]) -> None:
    supervisor = browsers[0]
    await supervisor.sign_in(Role.SUPERVISOR, expert=None, orgs=frozenset({"nhs-a"}))
    wallboard = await supervisor.socket("/ws/console")
    await supervisor.sign_out()
    assert await closed(wallboard) == (CLOSE_CODE, "signed out")


async def test_one_sign_out_leaves_every_other_sessions_sockets_open(
        client: TestClient, pool: None, browsers: list[Browser]) -> None:
    ann, ann_elsewhere, bob = browsers
    await ann.sign_in()
    await ann_elsewhere.sign_in()  # the same expert in another browser: another session
    await bob.sign_in(expert="e-bob")
    leaving = await ann.socket("/ws/expert")
    staying = await ann_elsewhere.socket("/ws/expert")
    bobs = await bob.socket("/ws/expert")
    await available(bobs)
    await ann.sign_out()
    assert await closed(leaving) == (CLOSE_CODE, "signed out")
    await still_works(staying)
    await still_works(bobs)
    assert engine_of(client.app).desk_state("e-bob")["presence"] == "available"
    open_sockets = client.app[OPEN_SOCKETS]
    assert (open_sockets.count(ann_elsewhere.key), open_sockets.count(bob.key)) == (1, 1)
    assert await open_sockets.check() == 0  # both sessions still work: nothing closed


@pytest.mark.parametrize(("column", "moved_by", "why"), [
    ("expires_at", timedelta(hours=-12), "session expired"),  # 12 h after sign-in
    ("last_seen_at", timedelta(hours=-9), "session idle"),  # 8 h without a request
])
async def test_a_session_that_ended_loses_its_sockets_at_the_next_check(
        client: TestClient, pool: None, browsers: list[Browser], column: str,
        moved_by: timedelta, why: str) -> None:
    ann, bob = browsers[0], browsers[1]
    await ann.sign_in()
    await bob.sign_in(expert="e-bob")
    desk = await ann.socket("/ws/expert")
    others = await bob.socket("/ws/expert")
    async with client.app[DATABASE].transaction() as session:
        await session.exec(sa.update(WebSessionRow).where(
            col(WebSessionRow.id_hash) == sessions.digest(ann.cookie))
            .values({column: now_utc() + moved_by}))
    await still_works(desk)  # nothing has looked yet
    assert await client.app[OPEN_SOCKETS].check() == 1
    assert await closed(desk) == (CLOSE_CODE, why)
    await still_works(others)


async def test_a_revoked_tokens_sockets_close_at_once_or_at_the_next_check(
        client: TestClient, pool: None, auth: TokenFactory) -> None:
    admin = await auth("admin")
    sockets = []
    for _ in range(2):
        token = (await auth("expert", expert="e-ann"))["Authorization"].split()[1]
        ws = await client.ws_connect(f"/ws/expert?access_token={token}")
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
        sockets.append((token, ws))
    (by_api, first), (by_command, second) = sockets
    async with client.app[DATABASE].session() as session:
        row = (await session.exec(sa.select(ApiToken).where(
            col(ApiToken.token_hash) == hash_token(by_api)))).scalar_one()
    resp = await client.post(f"/api/v1/tokens/{row.id}/revoke", headers=admin)
    assert resp.status == 200
    assert await closed(first) == (CLOSE_CODE, "token revoked")
    await still_works(second)
    async with client.app[DATABASE].transaction() as session:  # as `expertline token revoke`
        row = (await session.exec(sa.select(ApiToken).where(
            col(ApiToken.token_hash) == hash_token(by_command)))).scalar_one()
        await revoke_token(session, row.id or 0)
    assert await client.app[OPEN_SOCKETS].check() == 1
    assert await closed(second) == (CLOSE_CODE, "token revoked")


async def test_a_desk_at_work_keeps_its_session_from_going_idle(sqlite_url: str) -> None:
    """What the check records: a socket's actions count on the idle clock as a request
    would; a socket left alone does not."""
    from expertline.schema import database

    lifetime = SessionsConfig(idle_minutes=480, absolute_hours=48)
    t0 = now_utc()
    async with database(sqlite_url) as db:
        async with db.transaction() as session:
            cookie, _ = await sessions.start(session, role=Role.EXPERT, orgs=frozenset(),
                                             expert_id=None, label="", now=t0,
                                             lifetime=lifetime, how={"test": "yes"})
        key = sessions.digest(cookie)

        async def ended(at: timedelta, used: bool = False) -> str | None:
            async with db.session() as session:
                return await sessions.ended(session, key, now=t0 + at, lifetime=lifetime,
                                            used=used)

        assert await ended(timedelta(hours=7)) is None  # looked at, not used: not recorded
        assert await ended(timedelta(hours=8)) == "session idle"
        async with db.transaction() as session:
            await session.exec(sa.update(WebSessionRow).values(last_seen_at=t0))
        assert await ended(timedelta(hours=7), used=True) is None  # the desk at work
        assert await ended(timedelta(hours=14)) is None
        assert await ended(timedelta(hours=15)) == "session idle"
        async with db.transaction() as session:
            assert await sessions.end(session, cookie, now=t0 + timedelta(hours=15))
        assert await ended(timedelta(hours=15)) == "signed out"


class FakeSocket:
    def __init__(self) -> None:
        self.closed_with: tuple[int, bytes] | None = None

    async def close(self, *, code: int, message: bytes) -> bool:
        self.closed_with = (code, message)
        return True


async def test_the_checks_run_every_interval() -> None:
    slept: list[float] = []
    third = asyncio.Event()

    async def sleep(seconds: float) -> None:  # the interval, without the wait
        slept.append(seconds)
        if len(slept) == 3:
            third.set()
            await asyncio.Event().wait()

    asked: list[bool] = []

    async def check(used: bool) -> str | None:
        asked.append(used)
        return None

    open_sockets = OpenSockets(every_s=45.0, sleep=sleep)
    with open_sockets.holding(Credential("session:x", check), FakeSocket()):  # type: ignore[arg-type]
        runner = asyncio.create_task(open_sockets.run())
        await third.wait()
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
    assert (slept, asked) == ([45.0, 45.0, 45.0], [False, False])


async def test_a_check_that_fails_closes_nothing_and_forgets_no_use() -> None:
    answers: list[str | Exception] = [OSError("the database is down"), "signed out"]
    asked: list[bool] = []

    async def check(used: bool) -> str | None:
        asked.append(used)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    open_sockets, ws = OpenSockets(), FakeSocket()
    with open_sockets.holding(Credential("session:x", check), ws) as used:  # type: ignore[arg-type]
        used()
        assert await open_sockets.check() == 0 and ws.closed_with is None
        assert await open_sockets.check() == 1
        await asyncio.sleep(0)  # the close runs in its own task
    assert asked == [True, True]
    assert ws.closed_with == (CLOSE_CODE, b"signed out")
    assert open_sockets.count("session:x") == 0
