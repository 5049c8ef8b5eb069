"""A follower relays what it is sent to the routing leader: HTTP requests and WebSockets.

On PostgreSQL one process leads routing (``router.lease``); the routing core and everything
that touches it live there. Every other process is a *follower*: it accepts any request a load
balancer sends it (Twilio webhooks, the API, the pages, desk and chat WebSockets) and relays it
to the leader at the address the lease row names, so any process can take any request. The
leader's answer, its status, headers and cookies included, goes back unchanged; a WebSocket
is joined end to end, message by message, and closed on one side when the other closes.

A relayed request carries the leader's relay secret (from the lease row) and the client the
follower saw, so the leader's per-client limits still key on the real client. Without a leader
(between two, or when it cannot be reached) a follower answers 503 ``not_leader`` with
``Retry-After``, and a WebSocket it relays is closed with 1012 (service restart): desks and chats
reconnect, to any process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass

import aiohttp
from aiohttp import WSCloseCode, WSMsgType, web
from multidict import CIMultiDict
from yarl import URL

from base.http import error_middleware, json_response
from base.limits import CLIENT_HEADER, RELAY_HEADER, client_of

log = logging.getLogger("expertline.relay")
RETRY_AFTER_S = 1
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "trailers", "transfer-encoding", "upgrade", "content-length", "host",
    RELAY_HEADER.lower(), CLIENT_HEADER.lower()})
HANDSHAKE = frozenset({"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions",
                       "sec-websocket-accept", "sec-websocket-protocol"})
TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=2, sock_read=60)


@dataclass(frozen=True, slots=True)
class Leader:
    epoch: int
    address: str  # base URL, e.g. http://10.0.0.1:8080
    secret: str


class LeaderView:
    """Who leads, as last read from the lease (None: nobody, or the lease has lapsed).
    ``refresh`` reads the lease again into it (set by whoever keeps the view)."""

    def __init__(self) -> None:
        self.leader: Leader | None = None
        self.epoch: int | None = None  # the last epoch seen, even a lapsed one
        self.refresh: Callable[[], Awaitable[None]] | None = None

    async def newer(self, than: Leader) -> Leader | None:
        """After ``than`` could not be reached: the leader the lease names now, if another."""
        if self.refresh is not None:
            await self.refresh()
        found = self.leader
        return found if found is not None and found != than else None


NOT_REACHED = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
"""The request never reached the leader: it may be sent to another (any method)."""


SESSION = web.AppKey("expertline.relay_session", aiohttp.ClientSession)
SOCKETS = web.AppKey("expertline.relay_sockets", aiohttp.ClientSession)
HTTP_CONNECTIONS = 256  # to the leader at once; relayed WebSockets have their own, unbounded
VIEW = web.AppKey("expertline.leader_view", LeaderView)


def follower_app(view: LeaderView, *, max_body_bytes: int,
                 http_connections: int = HTTP_CONNECTIONS) -> web.Application:
    """Relays everything but ``/healthz`` to ``view.leader``, over at most
    ``http_connections`` connections at once for requests (WebSockets aside)."""
    app = web.Application(middlewares=[error_middleware], client_max_size=max_body_bytes)
    app[VIEW] = view
    app.cleanup_ctx.append(_sessions_ctx(http_connections))
    app.router.add_get("/healthz", healthz)
    app.router.add_route("*", "/{tail:.*}", relay)
    return app


def _sessions_ctx(http_connections: int) -> Callable[[web.Application], AsyncIterator[None]]:
    async def sessions(app: web.Application) -> AsyncIterator[None]:
        async with _session(http_connections) as requests, _session(0) as sockets:
            app[SESSION], app[SOCKETS] = requests, sockets
            yield

    return sessions


def _session(limit: int) -> aiohttp.ClientSession:
    """A client session to the leader. There are two: one for requests (a bounded pool)
    and one for WebSockets, each of which holds its connection while its desk or chat is
    open (so a thousand open desks cannot starve the requests). The leader's bytes pass
    through as they are: no decompression, no cookie jar."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit),
                                 auto_decompress=False, timeout=TIMEOUT,
                                 cookie_jar=aiohttp.DummyCookieJar())


async def healthz(request: web.Request) -> web.Response:
    view = request.app[VIEW]
    if view.leader is None:
        return unavailable({"status": "standby", "role": "follower", "epoch": view.epoch})
    return json_response({"status": "ok", "role": "follower", "epoch": view.leader.epoch})


def unavailable(body: Mapping[str, object]) -> web.Response:
    response = json_response(body, status=503)
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def _no_leader(why: str) -> web.Response:
    return unavailable({"error": {"code": "not_leader", "message": why}})


async def relay(request: web.Request) -> web.StreamResponse:
    view = request.app[VIEW]
    leader = view.leader
    if leader is None:
        return _no_leader("no process leads routing just now (one is taking over): try again")
    websocket = request.headers.get("Upgrade", "").lower() == "websocket"
    body = b"" if websocket else await request.read()
    try:
        return await _send(request, leader, body, websocket)
    except NOT_REACHED:
        # this follower may not have seen a failover yet: look at the lease, try the new one
        newer = await view.newer(than=leader)
        if newer is not None:
            return await _send_or_503(request, newer, body, websocket)
        return _unreached(request, "not reachable")
    except (aiohttp.ClientError, TimeoutError) as exc:
        return _unreached(request, type(exc).__name__)


async def _send_or_503(request: web.Request, leader: Leader, body: bytes,
                       websocket: bool) -> web.StreamResponse:
    try:
        return await _send(request, leader, body, websocket)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return _unreached(request, type(exc).__name__)


def _unreached(request: web.Request, why: str) -> web.Response:
    log.warning("could not relay %s %s to the routing leader (%s)", request.method,
                request.path, why)
    return _no_leader("the process that leads routing did not answer: try again")


async def _send(request: web.Request, leader: Leader, body: bytes,
                websocket: bool) -> web.StreamResponse:
    url = URL(leader.address.rstrip("/") + request.raw_path, encoded=True)
    headers = _forwarded(request, leader)
    if websocket:
        return await _relay_socket(request, url, headers)
    async with request.app[SESSION].request(request.method, url, headers=headers,
                                             data=body, allow_redirects=False) as answer:
        payload = await answer.read()
        response = web.Response(status=answer.status, body=payload)
        for name, value in answer.headers.items():
            if name.lower() not in HOP_BY_HOP:
                response.headers.add(name, value)
        return response


def _forwarded(request: web.Request, leader: Leader) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in request.headers.items():
        if name.lower() not in HOP_BY_HOP:
            headers.add(name, value)
    headers["Host"] = request.host  # the leader checks origins against the host asked for
    headers[RELAY_HEADER] = leader.secret
    headers[CLIENT_HEADER] = client_of(request)
    return headers


async def _relay_socket(request: web.Request, url: URL,
                        headers: CIMultiDict[str]) -> web.StreamResponse:
    for name in list(headers):
        if name.lower() in HANDSHAKE:
            del headers[name]
    protocols = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
                 if p.strip()]
    try:
        upstream = await request.app[SOCKETS].ws_connect(url, headers=headers,
                                                         protocols=protocols, autoping=True)
    except aiohttp.WSServerHandshakeError as exc:
        # the leader refused the socket (a bad token, too many chats): say the same
        body = {"error": {"code": "refused", "message": exc.message or "refused"}}
        return json_response(body, status=exc.status if exc.status >= 400 else 502)
    downstream = web.WebSocketResponse(protocols=protocols, autoping=True)
    await downstream.prepare(request)
    await _join(downstream, upstream)
    return downstream


async def _join(downstream: web.WebSocketResponse,
                upstream: aiohttp.ClientWebSocketResponse) -> None:
    """Pass messages both ways until one side closes, then close the other with its code (a
    leader that went away: 1012, reconnect). aiohttp cancels this handler when the desk's
    connection goes: the ``finally`` still closes the leader's side."""
    down = asyncio.ensure_future(_pump(downstream, upstream))
    up = asyncio.ensure_future(_pump(upstream, downstream))
    try:
        done, _pending = await asyncio.wait([down, up], return_when=asyncio.FIRST_COMPLETED)
        if up in done:  # the leader closed (or vanished)
            code = upstream.close_code
            if code is None or code == WSCloseCode.ABNORMAL_CLOSURE:
                await downstream.close(code=WSCloseCode.SERVICE_RESTART,
                                       message=b"the routing leader went away")
            else:
                await downstream.close(code=code)
    finally:
        for task in (down, up):
            task.cancel()
        if not upstream.closed:
            await upstream.close(code=downstream.close_code or WSCloseCode.GOING_AWAY)
        await asyncio.gather(down, up, return_exceptions=True)


async def _pump(source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
                sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse) -> None:
    async for message in source:
        if sink.closed:
            return
        if message.type is WSMsgType.TEXT:
            await sink.send_str(message.data)
        elif message.type is WSMsgType.BINARY:
            await sink.send_bytes(message.data)
