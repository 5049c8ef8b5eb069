"""Browser sessions, started by one-time sign-in links or federated sign-in (``pages.oidc``).

``expertline sign-in-link`` makes a link (``make_link``); opening it (``redeem``) spends the link
and starts a session: a random cookie value (only its SHA-256 is stored) and a CSRF token. The
cookie is HttpOnly and SameSite=Lax (Secure behind https); the CSRF token goes in every form
(``csrf_token``) and in the desk's requests (``X-CSRF-Token``), and is checked on every
request that changes something. A session ends after ``sessions.idle_minutes`` without a
request and ``sessions.absolute_hours`` after sign-in (``base.config.SessionsConfig``), and on
sign-out; every sign-in (``start``) makes a new cookie value and ends the session whose cookie
the browser still presented, so a cookie planted before sign-in is worthless after it. A
session carries the same ``Principal`` an API token would, so one set of role and scope rules
serves both. Only the SHA-256 of each secret is kept. Signing in and out are audited, the
session named by the start of its hash. A WebSocket opened with the cookie asks ``ended`` now
and then, and is closed once the session is over (``base.socket_auth``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from base import audit
from base.access import Principal, Role, check_scope
from base.clock import utc
from base.config import SessionsConfig
from base.errors import InvalidInput
from pages.tables import SignInLinkRow, WebSessionRow

COOKIE = "xl_session"
LIFETIME = SessionsConfig()
SEEN_EVERY = timedelta(minutes=1)
"""``last_seen_at`` (the idle clock) is rewritten at most this often per session."""
MAX_LINK_MINUTES = 24 * 60


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The caller behind a session cookie, with the session's CSRF token."""

    principal: Principal
    csrf_token: str
    expires_at: datetime

    def csrf_ok(self, offered: str | None) -> bool:
        return offered is not None and hmac.compare_digest(offered, self.csrf_token)


def make_link(session: AsyncSession, *, role: Role, orgs: frozenset[str] = frozenset(),
              expert_id: str | None = None, label: str = "", minutes: int,
              now: datetime) -> str:
    """A new one-time link token (returned once, stored hashed)."""
    check_scope(role, orgs, expert_id, what="sign-in link")
    if not 1 <= minutes <= MAX_LINK_MINUTES:
        raise InvalidInput(f"--minutes must be 1..{MAX_LINK_MINUTES}")
    token = secrets.token_urlsafe(32)
    session.add(SignInLinkRow(token_hash=digest(token), role=role.value,
                              orgs=",".join(sorted(orgs)), expert_id=expert_id, label=label,
                              created_at=now, expires_at=now + timedelta(minutes=minutes)))
    return token


async def redeem(session: AsyncSession, token: str, *, now: datetime,
                 lifetime: SessionsConfig = LIFETIME,
                 replaces: str | None = None) -> tuple[str, SignedIn] | None:
    """Spend the link and start a session: ``(cookie value, who)``, or None when the link is
    unknown, used or expired. Spending is one conditional UPDATE, so two tabs opening the same
    link cannot both sign in."""
    key = digest(token)
    spent = await session.exec(sa.update(SignInLinkRow).where(
        col(SignInLinkRow.token_hash) == key, col(SignInLinkRow.used_at).is_(None),
        col(SignInLinkRow.expires_at) > now).values(used_at=now))
    if spent.rowcount != 1:
        return None
    link = await session.get(SignInLinkRow, key)
    if link is None:
        return None
    orgs = frozenset(o for o in link.orgs.split(",") if o)
    return await start(session, role=Role(link.role), orgs=orgs, expert_id=link.expert_id,
                       label=link.label, now=now, lifetime=lifetime, replaces=replaces,
                       how={"link": key[:12]})


async def start(session: AsyncSession, *, role: Role, orgs: frozenset[str],
                expert_id: str | None, label: str, now: datetime,
                lifetime: SessionsConfig = LIFETIME, replaces: str | None = None,
                how: dict[str, str]) -> tuple[str, SignedIn]:
    """A new session, however the person proved who they are (``how``, audited): a fresh
    cookie value and CSRF token. The session behind ``replaces`` (the cookie the browser
    presented while signing in) is ended first, so no value known before sign-in survives
    it."""
    if replaces:
        await end(session, replaces, now=now, why="replaced by a new sign-in")
    cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    row = WebSessionRow(id_hash=digest(cookie), role=role.value, orgs=",".join(sorted(orgs)),
                        expert_id=expert_id, label=label, csrf_token=csrf, created_at=now,
                        last_seen_at=now,
                        expires_at=now + timedelta(hours=lifetime.absolute_hours))
    session.add(row)
    who = _signed_in(row)
    audit.record(session, actor=who.principal, action="sign_in", entity="web_session",
                 entity_id=row.id_hash[:12],
                 after={**how, "role": row.role, "orgs": row.orgs,
                        "expert_id": row.expert_id, "expires_at": row.expires_at.isoformat()})
    return cookie, who


async def resolve(session: AsyncSession, cookie: str, *, now: datetime,
                  lifetime: SessionsConfig = LIFETIME) -> SignedIn | None:
    """The live session behind a cookie value, or None (unknown, ended, expired, or idle for
    longer than ``lifetime.idle_minutes``). Records the request on the idle clock at most
    once a minute, committing ``session`` to do so: give it a session of its own."""
    row = await session.get(WebSessionRow, digest(cookie))
    if row is None or _over(row, now, lifetime) is not None:
        return None
    who = _signed_in(row)
    await _seen_if_due(session, row, now)
    return who


async def ended(session: AsyncSession, id_hash: str, *, now: datetime,
                lifetime: SessionsConfig = LIFETIME, used: bool = False) -> str | None:
    """Why the session whose cookie has the SHA-256 ``id_hash`` no longer works ("signed
    out", "session expired", "session idle"), or None while it does: what an open WebSocket
    asks now and then (``base.socket_auth``). Only when ``used`` (the socket carried its
    user's actions) is that recorded on the idle clock, as ``resolve`` records a request."""
    row = await session.get(WebSessionRow, id_hash)
    if row is None:
        return "signed out"
    why = _over(row, now, lifetime)
    if why is None and used:
        await _seen_if_due(session, row, now)
    return why


def _over(row: WebSessionRow, now: datetime, lifetime: SessionsConfig) -> str | None:
    if row.revoked_at is not None:
        return "signed out"
    expires = utc(row.expires_at)
    if expires is None or expires <= now:
        return "session expired"
    if now - _last_seen(row, now) >= timedelta(minutes=lifetime.idle_minutes):
        return "session idle"
    return None


def _last_seen(row: WebSessionRow, now: datetime) -> datetime:
    return utc(row.last_seen_at) or utc(row.created_at) or now


async def _seen_if_due(session: AsyncSession, row: WebSessionRow, now: datetime) -> None:
    if now - _last_seen(row, now) >= SEEN_EVERY:
        await _seen(session, row.id_hash, now)


async def _seen(session: AsyncSession, id_hash: str, now: datetime) -> None:
    # Conditional, so that of several requests racing past the check one writes; a database
    # that will not take the write costs the record, not the request.
    stale = sa.or_(col(WebSessionRow.last_seen_at).is_(None),
                   col(WebSessionRow.last_seen_at) <= now - SEEN_EVERY)
    try:
        await session.exec(sa.update(WebSessionRow).where(
            col(WebSessionRow.id_hash) == id_hash, stale).values(last_seen_at=now)
            .execution_options(synchronize_session=False))
        await session.commit()
    except sa.exc.DBAPIError:
        await session.rollback()


async def end(session: AsyncSession, cookie: str, *, now: datetime,
              why: str = "signed out") -> bool:
    """Sign out: the session is revoked at once (the cookie is worthless from now on)."""
    row = await session.get(WebSessionRow, digest(cookie))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = now
    session.add(row)
    audit.record(session, actor=_signed_in(row).principal, action="sign_out",
                 entity="web_session", entity_id=row.id_hash[:12], after={"why": why})
    return True


def _signed_in(row: WebSessionRow) -> SignedIn:
    orgs = frozenset(o for o in row.orgs.split(",") if o)
    principal = Principal(role=Role(row.role), orgs=orgs, expert_id=row.expert_id,
                          name=row.label or f"{row.role}:session")
    return SignedIn(principal, row.csrf_token, utc(row.expires_at) or row.expires_at)
