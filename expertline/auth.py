"""API tokens: issued once, stored only as a SHA-256 hash, resolved into a ``Principal``.

Tokens are 256-bit random strings, so a fast hash is enough (no password stretching needed): the
database never holds anything that could be replayed.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from base.access import Principal, Role
from base.clock import now_utc
from base.errors import InvalidInput, Unauthorized

TOKEN_PREFIX = "xl_"


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


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_scope(role: Role, orgs: frozenset[str], expert_id: str | None) -> None:
    if role is Role.SUPERVISOR and not orgs:
        raise InvalidInput("a supervisor token needs at least one --org")
    if role is Role.EXPERT and not expert_id:
        raise InvalidInput("an expert token needs --expert")
    if role is Role.ADMIN and (orgs or expert_id):
        raise InvalidInput("an admin token is not scoped: drop --org/--expert")


async def issue_token(
    session: AsyncSession, *, role: Role, orgs: frozenset[str] = frozenset(),
    expert_id: str | None = None, label: str = "",
) -> tuple[str, ApiToken]:
    """Create a token; the plain text is returned once and never stored."""
    _check_scope(role, orgs, expert_id)
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(token_hash=hash_token(plain), role=role.value, orgs=",".join(sorted(orgs)),
                   expert_id=expert_id, label=label)
    session.add(row)
    await session.flush()
    return plain, row


async def resolve_token(session: AsyncSession, plain: str) -> Principal:
    """The principal behind a bearer token, or ``Unauthorized``."""
    row = (await session.exec(
        select(ApiToken).where(ApiToken.token_hash == hash_token(plain))
    )).first()
    if row is None or row.revoked_at is not None:
        raise Unauthorized("unknown or revoked token")
    orgs = frozenset(o for o in row.orgs.split(",") if o)
    return Principal(role=Role(row.role), token_id=row.id, orgs=orgs, expert_id=row.expert_id,
                     name=row.label)


def bearer(header: str | None) -> str:
    """The token from an ``Authorization: Bearer …`` header, or ``Unauthorized``."""
    if not header:
        raise Unauthorized("missing Authorization: Bearer token")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("expected Authorization: Bearer <token>")
    return token.strip()
