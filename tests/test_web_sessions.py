"""Web sessions' lifetimes and rotation (``pages.sessions``) on a real database: ended after
``sessions.idle_minutes`` without a request and ``sessions.absolute_hours`` after sign-in,
whatever their use; every sign-in a new cookie that ends the one presented; sign-out at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from base.access import Role
from base.config import SessionsConfig
from base.db import Database
from expertline.schema import database
from pages import sessions
from pages.tables import WebSessionRow

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
SHIFT = SessionsConfig(idle_minutes=480, absolute_hours=12)


LONG = SessionsConfig(idle_minutes=480, absolute_hours=48)  # to watch the idle clock alone


async def _start(db: Database, now: datetime, replaces: str | None = None,
                 lifetime: SessionsConfig = SHIFT) -> str:
    async with db.transaction() as session:
        cookie, _ = await sessions.start(session, role=Role.EXPERT, orgs=frozenset(),
                                         expert_id=None, label="", now=now, lifetime=lifetime,
                                         replaces=replaces, how={"test": "yes"})
    return cookie


async def _alive(db: Database, cookie: str, now: datetime,
                 lifetime: SessionsConfig = SHIFT) -> bool:
    async with db.session() as session:
        return await sessions.resolve(session, cookie, now=now, lifetime=lifetime) is not None


def test_the_defaults_are_eight_hours_idle_and_twelve_in_all() -> None:
    assert sessions.LIFETIME == SHIFT


async def test_a_session_ends_after_eight_idle_hours(sqlite_url: str) -> None:
    async with database(sqlite_url) as db:
        cookie = await _start(db, T0, lifetime=LONG)
        seen = T0 + timedelta(hours=7, minutes=59)  # a request: the idle clock starts again
        assert await _alive(db, cookie, seen, LONG)
        assert await _alive(db, cookie, seen + timedelta(hours=7, minutes=59), LONG)
        last = seen + timedelta(hours=7, minutes=59)
        assert not await _alive(db, cookie, last + timedelta(hours=8), LONG)
        other = await _start(db, T0, lifetime=LONG)
        assert not await _alive(db, other, T0 + timedelta(hours=8), LONG)


async def test_a_session_in_use_still_ends_twelve_hours_after_sign_in(sqlite_url: str) -> None:
    async with database(sqlite_url) as db:
        cookie = await _start(db, T0)
        for hours in range(1, 12):
            assert await _alive(db, cookie, T0 + timedelta(hours=hours))
        assert not await _alive(db, cookie, T0 + timedelta(hours=12))


async def test_signing_in_again_ends_the_session_presented_and_sign_out_ends_at_once(
        sqlite_url: str) -> None:
    async with database(sqlite_url) as db:
        first = await _start(db, T0)
        second = await _start(db, T0 + timedelta(minutes=1), replaces=first)
        assert first != second
        assert not await _alive(db, first, T0 + timedelta(minutes=2))
        assert await _alive(db, second, T0 + timedelta(minutes=2))
        async with db.transaction() as session:
            assert await sessions.end(session, second, now=T0 + timedelta(minutes=3))
        assert not await _alive(db, second, T0 + timedelta(minutes=4))
        async with db.session() as session:
            rows = list((await session.exec(select(WebSessionRow))).all())
        assert all(r.revoked_at is not None for r in rows)
