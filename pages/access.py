"""Who is signed in on this browser, and the checks that keep a cookie from being abused.

``signed_in(request)`` resolves the session cookie. ``cookie_principal(request)`` is what the
API and the desk WebSocket use when a request carries the cookie instead of a bearer token: a
request that changes something must also carry the session's CSRF token (``X-CSRF-Token``, or
``csrf_token`` in a form), and a WebSocket must come from our own pages (its ``Origin``), so
another site cannot act with a signed-in expert's cookie. ``session_credential(request)`` is
what a WebSocket opened with the cookie is held under (``base.socket_auth``): sign-out closes
it at once, and it is closed at the first check that finds the session over.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from aiohttp import web

from base.access import Principal
from base.config import OidcProviderConfig, SessionsConfig
from base.db import Sessions
from base.errors import Forbidden
from base.socket_auth import Credential
from pages import sessions
from pages.sessions import COOKIE, LIFETIME, SignedIn

SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True, slots=True)
class WebContext:
    """What the pages need from the composition root."""

    sessions: Sessions
    public_url: str
    clock: Callable[[], datetime]
    lifetime: SessionsConfig = LIFETIME
    providers: tuple[OidcProviderConfig, ...] = ()  # federated sign-in (pages.oidc_pages)
    signed_out: Callable[[Principal], Awaitable[None]] | None = None
    """What else a sign-out ends, for the person who signed out: the composition root sets
    an expert offline in routing with it (pages may not reach the router)."""

    @property
    def secure(self) -> bool:
        return urlsplit(self.public_url).scheme == "https"


WEB = web.AppKey("pages.context", WebContext)


async def signed_in(request: web.Request) -> SignedIn | None:
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return None
    context = request.app[WEB]
    async with context.sessions() as session:
        return await sessions.resolve(session, cookie, now=context.clock(),
                                      lifetime=context.lifetime)


async def cookie_principal(request: web.Request) -> Principal | None:
    """The caller behind the session cookie, with CSRF and origin checked; None without a
    live session."""
    who = await signed_in(request)
    if who is None:
        return None
    if request.headers.get("Upgrade", "").lower() == "websocket":
        _check_origin(request)
    elif request.method not in SAFE and not who.csrf_ok(await _offered_csrf(request)):
        raise Forbidden("this request needs the page's CSRF token", code="csrf")
    return who.principal


def session_key(cookie: str) -> str:
    """What the sockets opened with this session cookie are held under."""
    return "session:" + sessions.digest(cookie)


def session_credential(request: web.Request) -> Credential | None:
    """The request's session cookie as a ``base.socket_auth.Credential``: ``check`` asks the
    database whether the session still works (``sessions.ended``). None without a cookie."""
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return None
    app, id_hash = request.app, sessions.digest(cookie)

    async def check(used: bool) -> str | None:
        context = app[WEB]
        async with context.sessions() as session:
            return await sessions.ended(session, id_hash, now=context.clock(),
                                        lifetime=context.lifetime, used=used)

    return Credential(session_key(cookie), check)


async def _offered_csrf(request: web.Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header is not None:
        return header
    if request.content_type == "application/x-www-form-urlencoded":
        form = await request.post()
        value = form.get("csrf_token")
        return value if isinstance(value, str) else None
    return None


def _check_origin(request: web.Request) -> None:
    origin = request.headers.get("Origin")
    allowed = {_origin(request.app[WEB].public_url), f"{request.scheme}://{request.host}"}
    if origin is None or origin not in allowed:
        raise Forbidden("a desk connection must come from Expertline's own pages",
                        code="bad_origin")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
