"""Web chat resume tokens: how a citizen whose page reloaded, or whose connection dropped, takes
their chat back on a new socket.

``hello`` issues a token (``secrets.token_urlsafe``) and the page keeps it; only its SHA-256 is
stored (``telephony.tables.ChatResumeRow``, with the contact id and ``expires_at`` in epoch
seconds), so the database holds nothing that could be replayed. While a socket carries the
chat the expiry is kept about one ``chat.resume_window_s`` ahead (refreshed every half window),
so after a crash the chat is kept for the rest of its window and no longer. When the socket
drops the expiry is set one window ahead; when the window passes unresumed, or the chat is
closed on start, it is expired at once. An expired token is kept a day, so a citizen coming
back late is told their chat closed rather than that it never existed; an explicit ``end``
deletes it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from sqlmodel import col, select

from base.db import Sessions, writing
from telephony.tables import ChatResumeRow

TOKEN_BYTES = 32  # 43 URL-safe characters
KEEP_EXPIRED_S = 86_400.0
PURGE_EVERY_S = 3_600.0
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


class ResumeTokens:
    """The resume tokens' table. ``clock`` is epoch seconds (the expiry outlives the process)."""

    def __init__(self, sessions: Sessions, *, clock: Callable[[], float],
                 window_s: float) -> None:
        self._sessions = sessions
        self.clock = clock
        self.window_s = window_s
        self._purged_at: float | None = None

    async def issue(self, contact_id: str) -> tuple[str, float]:
        """A new token for the contact, and when it expires if the socket is not seen again."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        expires_at = self.clock() + self.window_s
        async with writing(self._sessions) as session:
            session.add(ChatResumeRow(token_hash=token_hash(token), contact_id=contact_id,
                                      expires_at=expires_at))
        return token, expires_at

    async def find(self, token: object) -> ChatResumeRow | None:
        """The token's row (expired or not); None for an unknown or malformed token."""
        if not isinstance(token, str) or not _TOKEN.fullmatch(token):
            return None
        async with self._sessions() as session:
            return await session.get(ChatResumeRow, token_hash(token))

    async def extend(self, contact_ids: Sequence[str]) -> float:
        """The chats' tokens expire one window from now; returns that time."""
        until = self.clock() + self.window_s
        if contact_ids:
            async with writing(self._sessions) as session:
                await session.exec(sa.update(ChatResumeRow).where(
                    col(ChatResumeRow.contact_id).in_(list(contact_ids))).values(
                    expires_at=until))
        return until

    async def expire(self, contact_id: str) -> None:
        """The chat was closed for want of its citizen: its token is expired from now."""
        now = self.clock()
        async with writing(self._sessions) as session:
            await session.exec(sa.update(ChatResumeRow).where(
                col(ChatResumeRow.contact_id) == contact_id,
                col(ChatResumeRow.expires_at) > now).values(expires_at=now))

    async def forget(self, contact_id: str) -> None:
        """The citizen ended the chat: its token is gone."""
        async with writing(self._sessions) as session:
            await session.exec(sa.delete(ChatResumeRow).where(
                col(ChatResumeRow.contact_id) == contact_id))

    async def live(self) -> dict[str, float]:
        """Contact id -> expiry of every token not yet expired (what a restart keeps)."""
        async with self._sessions() as session:
            rows = (await session.exec(select(ChatResumeRow).where(
                col(ChatResumeRow.expires_at) > self.clock()))).all()
        found: dict[str, float] = {}
        for row in rows:
            found[row.contact_id] = max(row.expires_at, found.get(row.contact_id, 0.0))
        return found

    async def purge(self, *, unless_recent: bool = False) -> None:
        """Forget tokens that expired more than a day ago (``unless_recent``: only if that was
        not done within the hour)."""
        now = self.clock()
        if unless_recent and self._purged_at is not None \
                and now - self._purged_at < PURGE_EVERY_S:
            return
        self._purged_at = now
        async with writing(self._sessions) as session:
            await session.exec(sa.delete(ChatResumeRow).where(
                col(ChatResumeRow.expires_at) < self.clock() - KEEP_EXPIRED_S))

    def __repr__(self) -> str:
        return f"<ResumeTokens window={self.window_s:g}s>"
