"""The web pages' tables: browser sessions and the one-time links that start them.

Only SHA-256 hashes of the secrets (the session cookie, the link token) are stored, as for API
tokens: the database holds nothing that could be replayed. A session carries the principal it
was started for (role, organisations, expert) and its own CSRF token.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from base.clock import now_utc


class SignInLinkRow(SQLModel, table=True):
    """``expertline sign-in-link``: usable once, until ``expires_at``."""

    __tablename__ = "sign_in_link"
    token_hash: str = Field(primary_key=True, max_length=64)
    role: str = Field(max_length=16)
    orgs: str = Field(default="", max_length=2000)  # comma-separated organisation ids
    expert_id: str | None = Field(default=None, max_length=64)
    label: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True))
    expires_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    used_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class WebSessionRow(SQLModel, table=True):
    """A signed-in browser: short-lived, ended by sign-out or revocation."""

    __tablename__ = "web_session"
    id_hash: str = Field(primary_key=True, max_length=64)
    role: str = Field(max_length=16)
    orgs: str = Field(default="", max_length=2000)
    expert_id: str | None = Field(default=None, max_length=64, index=True)
    label: str = Field(default="", max_length=200)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True))
    expires_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    last_seen_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class OidcLoginRow(SQLModel, table=True):
    """A federated sign-in under way: sent to the identity provider, not yet back.

    Keyed by the hash of ``state``; ``browser_hash`` is the hash of a cookie set on the
    browser that left, so a callback carried to another browser (login CSRF) is refused.
    The PKCE verifier and the nonce are kept for the few minutes the round trip may take
    and are spent with the row."""

    __tablename__ = "oidc_login"
    state_hash: str = Field(primary_key=True, max_length=64)
    browser_hash: str = Field(max_length=64)
    provider: str = Field(max_length=32)
    nonce: str = Field(max_length=64)
    code_verifier: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True))
    expires_at: datetime = Field(sa_type=sa.DateTime(timezone=True), index=True)
    used_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
