"""Operational metrics in the Prometheus text format, one registry per application.

``Metrics`` holds the figures counted as things happen: HTTP requests by route, method and
status, with their latency; open WebSockets by kind; routing decisions by outcome and the
latency of each routing commit (``router.engine`` counts those). Figures computed from live
state (queues, experts, service level) are handed to ``scrape`` at scrape time, so they are
never out of date and never kept twice. A registry of its own, never prometheus_client's
global one, lets several applications live in one process (the tests start many).

``metrics_middleware`` counts requests under their route's canonical path
(``/api/v1/contacts/{id}``), never the raw path, so ids and scanners probing random paths
cannot multiply the label values; an unmatched path is ``unmatched``. A WebSocket counts as one
request (status 101) when it closes, and as open (``websocket_connections``) from its
handshake on; its lifetime is kept out of the latency histogram.

Who may scrape: ``may_scrape_unauthenticated`` says whether a request comes from loopback when
the configuration allows that (``metrics.allow_loopback``); otherwise the caller needs an admin
token, which the composition root checks.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Iterable, Iterator, Mapping

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from base.http import Handler
from base.limits import client_of

UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
CLIENT_CLOSED = 499  # the client went away before the answer (nginx's convention)
COMMIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class _Latest(Collector):
    """Yields the families the last scrape computed from live state."""

    def __init__(self) -> None:
        self.families: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


class Metrics:
    """One application's metrics on a registry of its own. ``socket_kinds`` names the kind of
    each WebSocket route (``{"/ws/expert": "desk"}``); another route's socket is its path."""

    def __init__(self, socket_kinds: Mapping[str, str] | None = None) -> None:
        self.registry = CollectorRegistry()
        self.socket_kinds = dict(socket_kinds or {})
        self._live = _Latest()
        self.registry.register(self._live)
        self.http_requests = Counter(
            "expertline_http_requests", "HTTP requests answered, by route (its canonical "
            "path), method and status.", ("route", "method", "status"), registry=self.registry)
        self.http_seconds = Histogram(
            "expertline_http_request_duration_seconds", "Time to answer an HTTP request "
            "(WebSockets excluded), by route and method.", ("route", "method"),
            registry=self.registry)
        self.websockets = Gauge(
            "expertline_websocket_connections", "Open WebSocket connections, by kind.",
            ("kind",), registry=self.registry)
        self.routing_decisions = Counter(
            "expertline_routing_decisions", "Routing decisions committed, by outcome "
            "(offered, nobody_eligible).", ("outcome",), registry=self.registry)
        self.commit_seconds = Histogram(
            "expertline_routing_commit_seconds", "Time to write one group of routing steps "
            "in one transaction (committed groups).", buckets=COMMIT_BUCKETS,
            registry=self.registry)

    def decided(self, offered: int, nobody_eligible: int) -> None:
        if offered:
            self.routing_decisions.labels("offered").inc(offered)
        if nobody_eligible:
            self.routing_decisions.labels("nobody_eligible").inc(nobody_eligible)

    def scrape(self, live: Iterable[Metric]) -> bytes:
        """The exposition, with ``live`` (computed from live state just now) among it."""
        self._live.families = list(live)
        return generate_latest(self.registry)


METRICS = web.AppKey("base.metrics", Metrics)
ALLOW_LOOPBACK = web.AppKey("base.metrics_allow_loopback", bool)
_SOCKET_KIND = web.RequestKey("base.socket_kind", str)


def route_of(request: web.Request) -> str:
    """The request's route as registered (``/api/v1/contacts/{id}``), or ``unmatched``."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


def may_scrape_unauthenticated(request: web.Request) -> bool:
    """Whether this request may read ``/metrics`` without a token: loopback scrapes are
    allowed (``metrics.allow_loopback``) and its client is loopback, by the address
    ``base.limits.client_of`` names (behind a proxy on the same host that needs
    ``server.trust_forwarded_for``, else every proxied request would look local)."""
    if not request.app.get(ALLOW_LOOPBACK, False):
        return False
    try:
        return ipaddress.ip_address(client_of(request)).is_loopback
    except ValueError:
        return False


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = CLIENT_CLOSED
        raise
    finally:
        _count(request, status, time.perf_counter() - started)


def _count(request: web.Request, status: int, seconds: float) -> None:
    metrics = request.app[METRICS]
    route = route_of(request)
    method = request.method if request.method in METHODS else "other"
    metrics.http_requests.labels(route, method, str(status)).inc()
    kind = request.get(_SOCKET_KIND)
    if kind is None:
        metrics.http_seconds.labels(route, method).observe(seconds)
    else:
        metrics.websockets.labels(kind).dec()


async def count_socket(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: a WebSocket's handshake is going out, so it is open until
    its handler returns (``metrics_middleware`` counts it closed)."""
    if not isinstance(response, web.WebSocketResponse) or _SOCKET_KIND in request:
        return
    metrics = request.app[METRICS]
    route = route_of(request)
    kind = metrics.socket_kinds.get(route, route)
    metrics.websockets.labels(kind).inc()
    request[_SOCKET_KIND] = kind
