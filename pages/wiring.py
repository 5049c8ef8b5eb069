"""``setup(app, sessions=…, public_url=…)``: the pages, their static files and sign-in.

Registers ``/`` (landing), ``/chat`` (the citizen's web chat), ``/desk``, ``/console``,
``/sign-in/{token}`` (GET shows a button, POST spends the link), ``/sign-in`` and
``/sign-in/oidc/…`` (federated sign-in, ``pages.oidc_pages``), ``/sign-out`` and
``/static/``, and puts security headers on every
response: a content security policy that allows only our own scripts and styles (no inline
script anywhere), no framing, no referrer (a sign-in link must not leak through one).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import jinja2
from aiohttp import web

from base.access import Principal
from base.clock import now_utc
from base.config import OidcProviderConfig, SessionsConfig
from base.db import Sessions
from pages import audit_page, console, experts_pages, oidc_pages, pool_pages, views, wallboard
from pages.access import WEB, WebContext
from pages.sessions import LIFETIME

HERE = Path(__file__).resolve().parent
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
HSTS = "max-age=31536000; includeSubDomains"

__all__ = ["setup"]


def setup(app: web.Application, *, sessions: Sessions, public_url: str,
          clock: Callable[[], datetime] = now_utc, lifetime: SessionsConfig = LIFETIME,
          providers: tuple[OidcProviderConfig, ...] = (),
          signed_out: Callable[[Principal], Awaitable[None]] | None = None) -> None:
    app[WEB] = WebContext(sessions=sessions, public_url=public_url, clock=clock,
                          lifetime=lifetime, providers=providers, signed_out=signed_out)
    templates = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                                   autoescape=True, undefined=jinja2.StrictUndefined)
    templates.filters["when"] = console.when
    app[views.TEMPLATES] = templates
    app.router.add_get("/", views.landing)
    app.router.add_get("/chat", views.chat)
    app.router.add_get("/desk", views.desk)
    app.router.add_routes(wallboard.routes())
    app.router.add_routes(audit_page.routes())
    app.router.add_routes(experts_pages.routes())
    app.router.add_routes(pool_pages.routes())
    app.router.add_get("/sign-in/{token}", views.sign_in_page)
    app.router.add_post("/sign-in/{token}", views.sign_in)
    app.router.add_post("/sign-out", views.sign_out)
    oidc_pages.setup(app)
    app.router.add_static("/static/", HERE / "static", append_version=False)
    app.on_response_prepare.append(_security_headers)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every answer, pages and API alike; HSTS only when the public URL is https (a
    browser told it over plain http ignores it, and a loopback demo must stay reachable)."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.app[WEB].secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
