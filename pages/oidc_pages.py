"""Federated sign-in pages: ``/sign-in`` lists the identity providers, ``/sign-in/oidc/{id}``
sends the browser to one, ``/sign-in/oidc/{id}/callback`` brings it back signed in.

Leaving, the service keeps the attempt (``OidcLoginRow``: the hash of ``state``, the nonce,
the PKCE verifier, ten minutes) and sets a cookie on the browser (``xl_oidc``, only under
``/sign-in/oidc/``) whose hash the row holds. Coming back, the attempt is spent once, with
a conditional UPDATE, and must belong to that browser and that provider: a callback
replayed, forged or carried to another browser is refused. The verified claims
(``pages.oidc``) go through the claims mapping (``pages.federation``); a grant starts the
same session a sign-in link does (``pages.sessions.start``), anyone else is told they have
no account here and whom to ask, and nothing is stored for them.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import sqlalchemy as sa
from aiohttp import web
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from base.access import Role
from base.config import OidcProviderConfig
from base.errors import NotFound
from pages import federation, sessions, throttle
from pages.access import WEB
from pages.federation import ExpertFound, Grant, NoAccount
from pages.oidc import HTTP_TIMEOUT_S, Attempt, RelyingParty, SignInRefused
from pages.sessions import COOKIE, digest
from pages.tables import OidcLoginRow
from pages.views import render, set_session_cookie, too_many_sign_ins
from skills.models import Expert, Organisation

log = logging.getLogger("expertline.oidc")

BROWSER_COOKIE = "xl_oidc"
BROWSER_PATH = "/sign-in/oidc/"
LOGIN_MINUTES = 10
RELYING_PARTY = web.AppKey("pages.oidc", RelyingParty)


def setup(app: web.Application) -> None:
    app.router.add_get("/sign-in", choose)
    app.router.add_get("/sign-in/oidc/{provider}", leave)
    app.router.add_get("/sign-in/oidc/{provider}/callback", come_back)
    app.cleanup_ctx.append(_relying_party_ctx)


async def _relying_party_ctx(app: web.Application) -> AsyncIterator[None]:
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        app[RELYING_PARTY] = RelyingParty(http, app[WEB].public_url)
        yield


async def choose(request: web.Request) -> web.Response:
    """The sign-in page: a button per identity provider, and what a sign-in link is."""
    return render(request, "sign_in_choice.html", title="Sign in",
                  providers=request.app[WEB].providers)


async def leave(request: web.Request) -> web.StreamResponse:
    provider = _provider(request)
    context, attempt, browser = request.app[WEB], Attempt.new(), Attempt.new().state
    try:
        target = await request.app[RELYING_PARTY].authorization_url(provider, attempt)
    except SignInRefused as exc:
        return _refused(request, provider, str(exc), status=502)
    now = context.clock()
    async with context.sessions() as session, session.begin():
        await session.exec(sa.delete(OidcLoginRow).where(  # the attempts nobody finished
            col(OidcLoginRow.expires_at) < now - timedelta(hours=1)))
        session.add(OidcLoginRow(state_hash=digest(attempt.state), browser_hash=digest(browser),
                                 provider=provider.id, nonce=attempt.nonce,
                                 code_verifier=attempt.verifier, created_at=now,
                                 expires_at=now + timedelta(minutes=LOGIN_MINUTES)))
    response = web.Response(status=303, headers={"Location": target})
    response.set_cookie(BROWSER_COOKIE, browser, httponly=True, samesite="Lax",
                        path=BROWSER_PATH, secure=context.secure, max_age=LOGIN_MINUTES * 60)
    return response


async def come_back(request: web.Request) -> web.StreamResponse:
    """The provider's redirect back. Each callback that does not sign anyone in spends one
    from the address's sign-in budget, as a refused link does (``pages.throttle``)."""
    provider = _provider(request)
    wait = throttle.wait_before_sign_in(request)
    if wait > 0:
        return too_many_sign_ins(request, wait)
    response = await _come_back(request, provider)
    if response.status >= 400:
        throttle.sign_in_failed(request)
    return response


async def _come_back(request: web.Request, provider: OidcProviderConfig
                     ) -> web.StreamResponse:
    query = request.query
    if "error" in query:
        why = query.get("error_description") or query["error"]
        return _refused(request, provider, f"the identity provider said: {why[:200]}")
    attempt = await _spend(request, provider, query.get("state", ""))
    if attempt is None:
        return render(request, "message.html", status=400, title="This sign-in cannot be "
                      "finished", paragraphs=[
                          "It has expired, was finished already, or was started in another "
                          "browser. Start again from the sign-in page."],
                      link=("/sign-in", "Sign in again"))
    try:
        claims = await request.app[RELYING_PARTY].finish(provider, query.get("code", ""),
                                                         attempt)
    except SignInRefused as exc:
        return _refused(request, provider, str(exc))
    return await _sign_in(request, provider, claims)


async def _sign_in(request: web.Request, provider: OidcProviderConfig,
                   claims: dict[str, object]) -> web.StreamResponse:
    context = request.app[WEB]
    async with context.sessions() as session, session.begin():
        decided = federation.decide(provider, claims, await _experts(session, provider, claims),
                                    await _known_orgs(session, provider))
        if isinstance(decided, NoAccount):
            log.info("oidc %s: sub %s has no account here: %s", provider.id,
                     claims.get("sub"), decided.why)
            return _no_account(request, provider, claims)
        cookie, who = await _start(session, request, decided, provider, claims)
    target = "/desk" if who.principal.role is Role.EXPERT else "/console"
    response = web.Response(status=303, headers={"Location": target})
    set_session_cookie(response, cookie, who, secure=context.secure)
    response.del_cookie(BROWSER_COOKIE, path=BROWSER_PATH)
    return response


async def _start(session: AsyncSession, request: web.Request, grant: Grant,
                 provider: OidcProviderConfig,
                 claims: dict[str, object]) -> tuple[str, sessions.SignedIn]:
    context = request.app[WEB]
    return await sessions.start(session, role=grant.role, orgs=grant.orgs,
                                expert_id=grant.expert_id, label=grant.label,
                                now=context.clock(), lifetime=context.lifetime,
                                replaces=request.cookies.get(COOKIE),
                                how={"oidc": provider.id, "sub": str(claims.get("sub"))[:64]})


async def _spend(request: web.Request, provider: OidcProviderConfig,
                 state: str) -> Attempt | None:
    """The attempt behind ``state``, spent, if it is live, this provider's and this
    browser's; else None."""
    browser = request.cookies.get(BROWSER_COOKIE, "")
    if not state or not browser:
        return None
    context = request.app[WEB]
    now, key = context.clock(), digest(state)
    async with context.sessions() as session, session.begin():
        spent = await session.exec(sa.update(OidcLoginRow).where(
            col(OidcLoginRow.state_hash) == key, col(OidcLoginRow.used_at).is_(None),
            col(OidcLoginRow.expires_at) > now,
            col(OidcLoginRow.provider) == provider.id).values(used_at=now))
        row = await session.get(OidcLoginRow, key) if spent.rowcount == 1 else None
        if row is None or row.browser_hash != digest(browser):
            return None
        return Attempt(state, row.nonce, row.code_verifier)


async def _experts(session: AsyncSession, provider: OidcProviderConfig,
                   claims: dict[str, object]) -> list[ExpertFound]:
    lookup = federation.lookup_of(provider, claims)
    if lookup is None:
        return []
    query = select(Expert)
    if lookup.by == "id":
        query = query.where(col(Expert.id) == lookup.value)
    else:
        query = query.where(func.lower(col(Expert.email)) == lookup.value)
    found = (await session.exec(query.limit(2))).all()
    return [ExpertFound(e.id, e.org_id, e.active) for e in found]


async def _known_orgs(session: AsyncSession, provider: OidcProviderConfig) -> list[str]:
    query = select(Organisation.id)
    if not provider.every_org:
        query = query.where(col(Organisation.id).in_(provider.orgs))
    return list((await session.exec(query)).all())


def _provider(request: web.Request) -> OidcProviderConfig:
    wanted = request.match_info["provider"]
    for provider in request.app[WEB].providers:
        if provider.id == wanted:
            return provider
    raise NotFound(f"no identity provider {wanted!r} here")


def _refused(request: web.Request, provider: OidcProviderConfig, why: str, *,
             status: int = 401) -> web.Response:
    return render(request, "message.html", status=status, title="You have not been signed in",
                  paragraphs=[f"Signing in with {provider.name} did not work: {why}.",
                              "Nothing was changed. Try again, and if it happens again tell "
                              f"{provider.contact}."],
                  link=("/sign-in", "Back to sign in"))


def _no_account(request: web.Request, provider: OidcProviderConfig,
                claims: dict[str, object]) -> web.Response:
    email = claims.get("email")
    who = f" as {email}" if isinstance(email, str) and email else ""
    return render(request, "message.html", status=403, title="You have no account here",
                  paragraphs=[f"{provider.name} signed you in{who}, but nobody by that name "
                              "may use Expertline's desk or console.",
                              f"If you should have access, ask {provider.contact} to add you "
                              "(an expert's email address must match the one your "
                              "organisation signs you in with)."])
