"""API tokens: issued once, stored only as a SHA-256 hash, resolved into a ``Principal``.

Tokens are 256-bit random strings, so a fast hash is enough (no password stretching needed): the
database never holds anything that could be replayed. A token may expire (``expires_at``) and is
revoked by setting ``revoked_at``; either refuses it at its next request. Its last use is
recorded at most once a minute (``LAST_USED_EVERY``), so a busy desk costs a read per request,
not a write. A WebSocket opened with a token is closed at the first check after the token stops
working (``token_credential``, ``base.socket_auth``).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from base.access import Principal, Role, check_scope
from base.clock import now_utc, utc
from base.db import Sessions
from base.errors import Conflict, NotFound, Unauthorized
from base.socket_auth import Credential

log = logging.getLogger(__name__)

TOKEN_PREFIX = "xl_"
LAST_USED_EVERY = timedelta(minutes=1)
"""``last_used_at`` is rewritten at most this often per token."""


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    role: str = Field(max_length=16)
    orgs: str = Field(default="", max_length=2000)  # comma-separated organisation ids
    expert_id: str | None = Field(default=None, max_length=64)
    label: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True))
    expires_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    last_used_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))

    @property
    def org_ids(self) -> list[str]:
        return [o for o in self.orgs.split(",") if o]

    def to_json(self) -> dict[str, object]:
        """What ``token list --json`` shows: everything but the hash."""

        def iso(value: datetime | None) -> str | None:
            at = utc(value)
            return at.isoformat() if at else None

        return {"id": self.id, "label": self.label, "role": self.role,
                "org": self.orgs or None, "expert": self.expert_id,
                "created_at": iso(self.created_at), "expires_at": iso(self.expires_at),
                "last_used_at": iso(self.last_used_at), "revoked_at": iso(self.revoked_at)}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(
    session: AsyncSession, *, role: Role, orgs: frozenset[str] = frozenset(),
    expert_id: str | None = None, label: str = "", expires_at: datetime | None = None,
) -> tuple[str, ApiToken]:
    """Create a token; the plain text is returned once and never stored."""
    check_scope(role, orgs, expert_id)
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(token_hash=hash_token(plain), role=role.value, orgs=",".join(sorted(orgs)),
                   expert_id=expert_id, label=label, expires_at=expires_at)
    session.add(row)
    await session.flush()
    return plain, row


async def list_tokens(session: AsyncSession) -> list[ApiToken]:
    """Every token, revoked and expired ones too, oldest first."""
    return list((await session.exec(select(ApiToken).order_by(col(ApiToken.id)))).all())


async def revoke_token(session: AsyncSession, token_id: int,
                       now: datetime | None = None) -> ApiToken:
    """Set ``revoked_at``: the token is refused from its next request on. ``NotFound`` for an
    unknown id, ``Conflict`` for one already revoked (its first revocation stands)."""
    row = await session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token {token_id}")
    if row.revoked_at is not None:
        raise Conflict(f"token {token_id} was already revoked at "
                           f"{utc(row.revoked_at):%Y-%m-%d %H:%M} UTC")
    row.revoked_at = now or now_utc()
    session.add(row)
    await session.flush()
    return row


async def resolve_token(session: AsyncSession, plain: str,
                        now: datetime | None = None) -> Principal:
    """The principal behind a bearer token, or ``Unauthorized``.

    Records the token's use (``last_used_at``) when the last record is ``LAST_USED_EVERY`` old
    or more, and commits ``session`` to do so: give it a session of its own. A database that
    will not take that write (locked, unreachable) costs the record, not the request."""
    now = now or now_utc()
    row = (await session.exec(
        select(ApiToken).where(ApiToken.token_hash == hash_token(plain))
    )).first()
    if row is None or row.revoked_at is not None:
        raise Unauthorized("unknown or revoked token")
    expires_at = utc(row.expires_at)
    if expires_at is not None and expires_at <= now:
        raise Unauthorized("expired token")
    principal = Principal(role=Role(row.role), token_id=row.id, orgs=frozenset(row.org_ids),
                          expert_id=row.expert_id, name=row.label)
    last_used = utc(row.last_used_at)
    if last_used is None or now - last_used >= LAST_USED_EVERY:
        await _record_use(session, row.id, now)
    return principal


def token_key(token_hash: str) -> str:
    """What the sockets opened with the token whose SHA-256 is ``token_hash`` are held under."""
    return "token:" + token_hash


async def token_ended(session: AsyncSession, token_hash: str, *, now: datetime,
                      used: bool = False) -> str | None:
    """Why the token no longer works ("token revoked", "token expired"), or None while it
    does; its use is recorded, as ``resolve_token`` does, only when ``used``."""
    row = (await session.exec(
        select(ApiToken).where(ApiToken.token_hash == token_hash))).first()
    if row is None or row.revoked_at is not None:
        return "token revoked"
    expires_at = utc(row.expires_at)
    if expires_at is not None and expires_at <= now:
        return "token expired"
    last_used = utc(row.last_used_at)
    if used and (last_used is None or now - last_used >= LAST_USED_EVERY):
        await _record_use(session, row.id, now)
    return None


def token_credential(sessions: Sessions, plain: str,
                     clock: Callable[[], datetime] = now_utc) -> Credential:
    """A bearer token as a ``base.socket_auth.Credential`` (held by its hash alone)."""
    token_hash = hash_token(plain)

    async def check(used: bool) -> str | None:
        async with sessions() as session:
            return await token_ended(session, token_hash, now=clock(), used=used)

    return Credential(token_key(token_hash), check)


async def _record_use(session: AsyncSession, token_id: int | None, now: datetime) -> None:
    # Conditional, so that of several requests racing past the check above one writes. Not
    # synchronised into the session's objects: SQLite hands their times back naive.
    stale = sa.or_(col(ApiToken.last_used_at).is_(None),
                   col(ApiToken.last_used_at) <= now - LAST_USED_EVERY)
    try:
        await session.exec(sa.update(ApiToken).where(col(ApiToken.id) == token_id, stale)
                           .values(last_used_at=now)
                           .execution_options(synchronize_session=False))
        await session.commit()
    except sa.exc.DBAPIError as exc:
        log.debug("token %s: last use not recorded (%s)", token_id, type(exc.orig).__name__)
        await session.rollback()


def bearer(header: str | None) -> str:
    """The token from an ``Authorization: Bearer …`` header, or ``Unauthorized``."""
    if not header:
        raise Unauthorized("missing Authorization: Bearer token")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("expected Authorization: Bearer <token>")
    return token.strip()
