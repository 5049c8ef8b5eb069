"""The database: an async engine (SQLite in WAL mode, or PostgreSQL), sessions, transactions.

``Database(url, schema=…)`` is made by the composition root and closed symmetrically. ``schema``
brings a connection's database to the current schema (the composition root passes its Alembic
migrations, which know every package's tables); opening the database runs it, so a new
deployment and an upgraded one start alike. ``writing(sessions)`` is the one transaction shape
every API shares: the change commits whole or not at all, and a refusal by the database becomes
a 4xx or 503 domain error, never a 500.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from base.errors import Busy, Conflict, InvalidInput

Schema = Callable[[Connection], None]
"""Brings the database behind a (sync) connection to the current schema."""

Sessions = Callable[[], AsyncSession]
"""A session factory (``Database.session``)."""

Guard = Callable[[AsyncSession], Awaitable[None]]
"""Run first inside a write's transaction; raises (``NotLeader``) to refuse the write."""


def _sqlite_pragmas(busy_timeout_ms: int) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return on_connect


def core_table(model: Any) -> sa.Table:
    """The Core table behind a sqlmodel table class, for set-based statements."""
    table: sa.Table = model.metadata.tables[model.__tablename__]
    return table


def make_engine(url: str, *, echo: bool = False, busy_timeout_ms: int = 5000) -> AsyncEngine:
    """An async engine. Statement parameters are never put in error messages or logs: they
    can hold a citizen's phone number."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, echo=echo, pool_pre_ping=True, hide_parameters=True)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas(busy_timeout_ms))
    return engine


class Database:
    """An engine plus a session factory. ``async with Database(url, schema=…) as db:`` opens
    the engine and brings the schema up to date."""

    def __init__(self, url: str, *, echo: bool = False, schema: Schema | None = None,
                 busy_timeout_ms: int = 5000) -> None:
        self.url = url
        self._echo = echo
        self._busy_timeout_ms = busy_timeout_ms
        self._schema = schema
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None

    def __repr__(self) -> str:
        state = "open" if self._engine is not None else "closed"
        return f"<Database {make_url(self.url).render_as_string(hide_password=True)} {state}>"

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("Database is not open: use `async with Database(url)` or open()")
        return self._engine

    @property
    def dialect(self) -> str:
        return make_url(self.url).get_backend_name()

    async def open(self, *, migrate: bool = True) -> Database:
        if self._engine is None:
            self._engine = make_engine(self.url, echo=self._echo,
                                       busy_timeout_ms=self._busy_timeout_ms)
            self._sessions = async_sessionmaker(self._engine, class_=AsyncSession,
                                                expire_on_commit=False)
            if migrate:
                await self.migrate()
        return self

    async def migrate(self) -> None:
        """Bring the schema up to date (nothing to do without a ``schema``); idempotent."""
        if self._schema is not None:
            async with self.engine.begin() as conn:
                await conn.run_sync(self._schema)

    async def close(self) -> None:
        """Dispose of the engine; safe to call twice."""
        engine, self._engine, self._sessions = self._engine, None, None
        if engine is not None:
            await engine.dispose()

    async def __aenter__(self) -> Database:
        return await self.open()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    def session(self) -> AsyncSession:
        """A new session (use as ``async with db.session() as s``)."""
        if self._sessions is None:
            raise RuntimeError("Database is not open")
        return self._sessions()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work commits on success and rolls back on any error."""
        async with self.session() as session, session.begin():
            yield session


@asynccontextmanager
async def writing(sessions: Sessions) -> AsyncIterator[AsyncSession]:
    """One transaction for an API change: integrity errors become 409, a value the database
    refuses 422, a locked or unreachable database 503. Nothing is half written."""
    try:
        async with sessions() as session, session.begin():
            yield session
    except sa.exc.IntegrityError:
        raise Conflict("the database refused the change: it clashes with stored data "
                       "(a duplicate, or something still in use)") from None
    except sa.exc.DataError as exc:
        raise InvalidInput(f"the database refused a value: {exc.orig}") from None
    except sa.exc.OperationalError:
        raise Busy("the database is busy or unavailable; retry shortly") from None
