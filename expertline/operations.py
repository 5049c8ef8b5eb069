"""Operations: Prometheus metrics at ``GET /metrics`` and a request id on every request.

``setup(app, config)`` gives the application its own ``base.metrics.Metrics`` (the routing
engine counts its decisions and commits into it), the signals that stamp each answer with its
``X-Request-Id`` and count open WebSockets, and the ``/metrics`` route. ``MIDDLEWARES`` go first
in the application's list: the request id outermost, so every other middleware's log lines
carry it, then the counting, so it sees the status the error middleware answered with.

``/metrics`` shows operational figures only (no numbers, no names), yet is not for everyone:
it needs an admin (a bearer token, or an admin's signed-in browser), except from loopback when
``metrics.allow_loopback`` is true, for a Prometheus on the same host. The auth middleware asks
``may_scrape_unauthenticated`` before it asks for a token, so a wrong token here counts against
the address as anywhere else.
"""

from __future__ import annotations

from aiohttp import web

from base.access import Role, require_role
from base.config import Config
from base.http import principal
from base.metrics import (
    ALLOW_LOOPBACK,
    CONTENT_TYPE,
    METRICS,
    Metrics,
    count_socket,
    may_scrape_unauthenticated,
    metrics_middleware,
)
from base.request_id import echo_request_id, request_id_middleware
from router.context import engine_of
from router.metrics import live_families

METRICS_PATH = "/metrics"
SOCKET_KINDS = {"/ws/expert": "desk", "/ws/chat": "chat", "/ws/console": "console"}
MIDDLEWARES = (request_id_middleware, metrics_middleware)


def setup(app: web.Application, config: Config) -> None:
    app[METRICS] = Metrics(SOCKET_KINDS)
    app[ALLOW_LOOPBACK] = config.metrics.allow_loopback
    app.on_response_prepare.append(echo_request_id)
    app.on_response_prepare.append(count_socket)
    app.router.add_get(METRICS_PATH, scrape)


async def scrape(request: web.Request) -> web.Response:
    if not may_scrape_unauthenticated(request):
        require_role(principal(request), Role.ADMIN)
    live = await live_families(engine_of(request.app))
    body = request.app[METRICS].scrape(live)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE,
                                            "Cache-Control": "no-store"})
