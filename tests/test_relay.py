"""A follower relays requests and WebSockets to the routing leader (``expertline.relay``).

In-process, over real loopback sockets: a small "leader" app stands in for the whole service
(it echoes what it was sent), and the real follower app relays to it. The whole service behind
a relay, across processes, is in ``tests/test_cluster.py``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSCloseCode, web
from aiohttp.test_utils import TestClient, TestServer

from base.http import json_response
from base.limits import CLIENT_HEADER, RELAY_HEADER, RELAY_SECRET, client_of
from expertline.relay import Leader, LeaderView, follower_app

SECRET = "s3cret"
Clients = Callable[..., Awaitable[TestClient]]


ENDED = web.AppKey("ended", asyncio.Event)


def echo_leader() -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        response = json_response({
            "method": request.method, "path": request.raw_path,
            "body": (await request.read()).decode(), "client": client_of(request),
            "host": request.host, "cookie": request.headers.get("Cookie")}, status=202)
        response.set_cookie("a", "1")
        response.set_cookie("b", "2")
        return response

    async def socket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"hello": client_of(request)})
        async for message in ws:
            if message.data == "die":  # the process vanishes: no close frame
                assert request.transport is not None
                request.transport.abort()
                break
            if message.data == "bye":
                await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"fell behind")
            else:
                await ws.send_str("echo:" + message.data)
        request.app[ENDED].set()
        return ws

    async def refuse(_request: web.Request) -> web.Response:
        return json_response({"error": {"code": "unauthorized", "message": "no"}}, status=401)

    app = web.Application()
    app[RELAY_SECRET] = SECRET
    app[ENDED] = asyncio.Event()
    app.router.add_get("/ws/expert", socket)
    app.router.add_get("/ws/refused", refuse)
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


async def relayed(aiohttp_client: Clients, leader: TestServer | None,
                  http_connections: int = 8) -> tuple[TestClient, LeaderView]:
    view = LeaderView()
    if leader is not None:
        view.leader = Leader(7, str(leader.make_url("")).rstrip("/"), SECRET)
        view.epoch = 7
    app = follower_app(view, max_body_bytes=1000, http_connections=http_connections)
    return await aiohttp_client(app), view


async def test_a_request_goes_to_the_leader_and_its_answer_comes_back_whole(
        aiohttp_client: Clients, aiohttp_server: Callable[..., Awaitable[TestServer]]) -> None:
    leader = await aiohttp_server(echo_leader())
    follower, _view = await relayed(aiohttp_client, leader)
    resp = await follower.post("/api/v1/contacts?q=a%20b", data=b"{\"a\": 1}",
                               headers={"Cookie": "session=abc", RELAY_HEADER: "forged",
                                        CLIENT_HEADER: "6.6.6.6"})
    assert resp.status == 202
    body = await resp.json()
    assert body["method"] == "POST" and body["path"] == "/api/v1/contacts?q=a%20b"
    assert body["body"] == '{"a": 1}' and body["cookie"] == "session=abc"
    assert body["client"] == "127.0.0.1"  # the client the follower saw, not a forged one
    assert body["host"] == follower.server.host + ":" + str(follower.server.port)
    assert sorted(resp.cookies) == ["a", "b"]  # every Set-Cookie header passes


async def test_the_leader_trusts_the_client_header_only_with_its_secret(
        aiohttp_client: Clients) -> None:
    leader = await aiohttp_client(echo_leader())
    forged = await leader.get("/x", headers={RELAY_HEADER: "wrong", CLIENT_HEADER: "6.6.6.6"})
    assert (await forged.json())["client"] == "127.0.0.1"
    relayed_by_us = await leader.get("/x", headers={RELAY_HEADER: SECRET,
                                                    CLIENT_HEADER: "203.0.113.9"})
    assert (await relayed_by_us.json())["client"] == "203.0.113.9"


async def test_with_no_leader_a_follower_says_so_and_to_retry(
        aiohttp_client: Clients, aiohttp_server: Callable[..., Awaitable[TestServer]]) -> None:
    follower, view = await relayed(aiohttp_client, None)
    health = await follower.get("/healthz")
    assert health.status == 503
    assert await health.json() == {"status": "standby", "role": "follower", "epoch": None}
    resp = await follower.get("/api/v1/me")
    assert resp.status == 503 and resp.headers["Retry-After"] == "1"
    assert (await resp.json())["error"]["code"] == "not_leader"

    gone = await aiohttp_server(echo_leader())
    view.leader = Leader(8, str(gone.make_url("")).rstrip("/"), SECRET)
    assert (await follower.get("/healthz")).status == 200
    await gone.close()  # the leader died; the lease still names it
    resp = await follower.post("/api/v1/contacts", json={})
    assert resp.status == 503 and (await resp.json())["error"]["code"] == "not_leader"


async def test_an_oversized_body_is_refused_by_the_follower(
        aiohttp_client: Clients, aiohttp_server: Callable[..., Awaitable[TestServer]]) -> None:
    leader = await aiohttp_server(echo_leader())
    follower, _view = await relayed(aiohttp_client, leader)
    resp = await follower.post("/api/v1/contacts", data=b"x" * 5000)
    assert resp.status == 413 and (await resp.json())["error"]["code"] == "too_large"


async def test_a_websocket_is_joined_end_to_end_and_closes_as_the_leader_closes_it(
        aiohttp_client: Clients, aiohttp_server: Callable[..., Awaitable[TestServer]]) -> None:
    leader = await aiohttp_server(echo_leader())
    follower, _view = await relayed(aiohttp_client, leader)
    async with follower.ws_connect("/ws/expert") as ws:
        assert await ws.receive_json() == {"hello": "127.0.0.1"}
        await ws.send_str("ping")
        assert (await ws.receive()).data == "echo:ping"
        await ws.send_str("bye")
        closing = await ws.receive()
        assert closing.data == WSCloseCode.TRY_AGAIN_LATER  # the leader's own code
    refused = await follower.get("/ws/refused", headers={
        "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert refused.status == 401  # the leader refused the socket: the desk hears why


async def test_a_websocket_whose_leader_dies_is_closed_so_the_desk_reconnects(
        aiohttp_client: Clients, aiohttp_server: Callable[..., Awaitable[TestServer]]) -> None:
    leader = await aiohttp_server(echo_leader())
    follower, _view = await relayed(aiohttp_client, leader)
    async with follower.ws_connect("/ws/expert") as ws:
        hello: dict[str, Any] = await ws.receive_json()
        assert hello == {"hello": "127.0.0.1"}
        await ws.send_str("die")
        closing = await ws.receive()
        assert closing.data == WSCloseCode.SERVICE_RESTART


async def test_open_websockets_do_not_starve_the_requests(
        aiohttp_client: Clients, aiohttp_server: Callable[..., Awaitable[TestServer]]) -> None:
    leader = await aiohttp_server(echo_leader())
    follower, _view = await relayed(aiohttp_client, leader, http_connections=2)
    desks = [await follower.ws_connect("/ws/expert") for _ in range(3)]  # more than the pool
    try:
        for desk in desks:
            assert await desk.receive_json() == {"hello": "127.0.0.1"}
        resp = await follower.get("/api/v1/me")
        assert resp.status == 202  # answered while every desk holds its connection
    finally:
        for desk in desks:
            await desk.close()


async def test_a_desk_that_closes_closes_its_socket_on_the_leader(
        aiohttp_client: Clients, aiohttp_server: Callable[..., Awaitable[TestServer]]) -> None:
    leader = await aiohttp_server(echo_leader())
    follower, _view = await relayed(aiohttp_client, leader)
    desk = await follower.ws_connect("/ws/expert")
    assert await desk.receive_json() == {"hello": "127.0.0.1"}
    await desk.close()
    # the leader hears it at once (its desk grace starts), and holds no socket for nobody
    await asyncio.wait_for(leader.app[ENDED].wait(), timeout=5)


async def test_a_follower_that_missed_a_failover_looks_again_and_reaches_the_new_leader(
        aiohttp_client: Clients, aiohttp_server: Callable[..., Awaitable[TestServer]]) -> None:
    old = await aiohttp_server(echo_leader())
    new = await aiohttp_server(echo_leader())
    follower, view = await relayed(aiohttp_client, old)
    await old.close()  # the leader died; this follower has not looked at the lease since
    looked: list[bool] = []

    async def refresh() -> None:  # what the lease says now
        looked.append(True)
        view.leader = Leader(8, str(new.make_url("")).rstrip("/"), SECRET)

    view.refresh = refresh
    resp = await follower.post("/twilio/voice/wait?c=ct-1", data=b"QueueTime=20")
    assert resp.status == 202 and (await resp.json())["path"] == "/twilio/voice/wait?c=ct-1"
    assert looked == [True]
    async with follower.ws_connect("/ws/expert") as desk:  # a desk reconnecting, too
        assert await desk.receive_json() == {"hello": "127.0.0.1"}


async def test_a_leader_that_cannot_be_reached_is_tried_once_more_only_if_another_leads(
        aiohttp_client: Clients, aiohttp_server: Callable[..., Awaitable[TestServer]]) -> None:
    gone = await aiohttp_server(echo_leader())
    follower, view = await relayed(aiohttp_client, gone)
    await gone.close()

    async def refresh() -> None:  # the lease still names the dead leader (not yet lapsed)
        pass

    view.refresh = refresh
    resp = await follower.get("/api/v1/me")
    assert resp.status == 503 and (await resp.json())["error"]["code"] == "not_leader"
