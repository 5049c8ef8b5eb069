"""The pages: landing, citizen chat, expert desk, supervisor console, sign-in and sign-out.

Each page is rendered on the server (Jinja2, autoescaped) and works before its script loads;
the desk and the chat then come alive through their WebSockets (``/static/desk.js``,
``/static/chat.js``). No page carries inline script, so a strict content security policy holds.
"""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from base.access import Principal, Role
from base.errors import Forbidden
from base.socket_auth import OPEN_SOCKETS
from pages import chat_words, sessions, throttle
from pages.access import WEB, session_key, signed_in
from pages.sessions import COOKIE, SignedIn

log = logging.getLogger("pages.views")
TEMPLATES = web.AppKey("pages.templates", jinja2.Environment)
NAV = (("/chat", "Chat with an expert"), ("/desk", "Expert desk"), ("/console", "Console"))
ORG_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}", re.ASCII)  # an organisation id, as the pool's
SIGN_IN_HINT = ("Ask your supervisor for a sign-in link. On the server they make one with:")


def render(request: web.Request, template: str, *, status: int = 200,
           **context: Any) -> web.Response:
    page = request.app[TEMPLATES].get_template(template)
    html = page.render(**{"nav": NAV, "here": request.path, **context})
    return web.Response(text=html, content_type="text/html", status=status)


async def landing(request: web.Request) -> web.Response:
    return render(request, "landing.html", title="Home")


async def chat(request: web.Request) -> web.Response:
    """The citizen's web chat, in English or Welsh (``?lang=cy``), on an organisation's line
    with ``?org=ID`` (its local rules), which the language switch and "start again" keep."""
    lang, w = chat_words.words(request.query.get("lang"))
    nav = (("/chat", w["nav_chat"]), ("/desk", w["nav_desk"]), ("/console", w["nav_console"]))
    org = request.query.get("org", "")
    line = {"org": org} if ORG_ID.fullmatch(org) else {}
    return render(request, "chat.html", title=w["title"], lang=lang, w=w,
                  switch_href="/chat?" + urlencode({"lang": w["switch_lang"], **line}),
                  again_href="/chat?" + urlencode({"lang": lang, **line}),
                  words_json=json.dumps(w, ensure_ascii=False), skip_label=w["skip"],
                  service_label=w["service_label"], nav_label=w["nav_label"],
                  footer_text=w["footer"], nav=nav)


async def desk(request: web.Request) -> web.Response:
    who = await signed_in(request)
    if who is None or who.principal.role is not Role.EXPERT:
        return sign_in_first(request, "the expert desk", "--expert exp-0001")
    return render(request, "desk.html", title="Expert desk", csrf_token=who.csrf_token,
                  expert_id=who.principal.expert_id)


def sign_in_first(request: web.Request, what: str, example: str) -> web.Response:
    federated = {"link": ("/sign-in", "Sign in with your organisation")} \
        if request.app[WEB].providers else {}
    return render(request, "message.html", status=401, title="Sign in first",
                  paragraphs=[f"You need to sign in to use {what}.", SIGN_IN_HINT],
                  example=f"expertline sign-in-link {example}", **federated)


async def sign_in_page(request: web.Request) -> web.Response:
    """The link's landing page: a button, so a mail scanner that fetches links cannot spend
    it."""
    return render(request, "sign_in.html", title="Sign in", token=request.match_info["token"],
                  who="the person it was sent to")


async def sign_in(request: web.Request) -> web.StreamResponse:
    wait = throttle.wait_before_sign_in(request)
    if wait > 0:
        return too_many_sign_ins(request, wait)
    context = request.app[WEB]
    async with context.sessions() as session, session.begin():
        started = await sessions.redeem(session, request.match_info["token"],
                                        now=context.clock(), lifetime=context.lifetime,
                                        replaces=request.cookies.get(COOKIE))
    if started is None:
        throttle.sign_in_failed(request)
        return render(request, "message.html", status=410, title="This link cannot be used",
                      paragraphs=["It has been used already, or it has expired. Sign-in "
                                  "links work once, for a few minutes.", SIGN_IN_HINT],
                      example="expertline sign-in-link --expert YOUR-ID")
    cookie, who = started
    target = "/desk" if who.principal.role is Role.EXPERT else "/console"
    response = web.Response(status=303, headers={"Location": target})
    set_session_cookie(response, cookie, who, secure=context.secure)
    return response


def too_many_sign_ins(request: web.Request, wait: float) -> web.Response:
    """429 with Retry-After: too many links that did not work came from this address."""
    seconds = max(1, math.ceil(wait))
    response = render(request, "message.html", status=429, title="Too many attempts",
                      paragraphs=[f"Too many sign-in links that do not work came from your "
                                  f"address. Try again in {seconds} seconds.", SIGN_IN_HINT],
                      example="expertline sign-in-link --expert YOUR-ID")
    response.headers["Retry-After"] = str(seconds)
    return response


def set_session_cookie(response: web.StreamResponse, cookie: str, who: SignedIn, *,
                       secure: bool) -> None:
    """The session cookie of a new sign-in, however it was made (link or provider)."""
    response.set_cookie(COOKIE, cookie, httponly=True, samesite="Lax", path="/",
                        secure=secure, expires=_cookie_expiry(who))


async def sign_out(request: web.Request) -> web.StreamResponse:
    who = await signed_in(request)
    cookie = request.cookies.get(COOKIE)
    if who is not None and cookie:
        form = await request.post()
        offered = form.get("csrf_token")
        if not who.csrf_ok(offered if isinstance(offered, str) else None):
            raise Forbidden("sign-out needs the page's CSRF token", code="csrf")
        context = request.app[WEB]
        async with context.sessions() as session, session.begin():
            await sessions.end(session, cookie, now=context.clock())
        await _after_sign_out(request, cookie, who)
    response = render(request, "message.html", title="You have signed out",
                      paragraphs=["Your session has ended on this browser."])
    response.del_cookie(COOKIE, path="/")
    return response


async def _after_sign_out(request: web.Request, cookie: str, who: SignedIn) -> None:
    """What ends with the session: every WebSocket it opened in this process, at once (a
    server on the same database closes its own at its next check, ``base.socket_auth``),
    and, through the composition root's ``signed_out``, an expert's availability."""
    open_sockets = request.app.get(OPEN_SOCKETS)
    if open_sockets is not None:
        open_sockets.end(session_key(cookie), "signed out")
    then = request.app[WEB].signed_out
    if then is not None:
        try:
            await then(who.principal)
        except Exception:  # the sign-out stands; the desk's grace sets them offline anyway
            log.warning("after %s signed out, routing was not told", describe(who.principal),
                        exc_info=True)


def describe(principal: Principal) -> str:
    if principal.role is Role.SUPERVISOR:
        return f"a supervisor for {', '.join(sorted(principal.orgs))}"
    if principal.role is Role.EXPERT:
        return f"expert {principal.expert_id}"
    return "an administrator"


def _cookie_expiry(who: SignedIn) -> str:
    return who.expires_at.strftime("%a, %d %b %Y %H:%M:%S GMT")
