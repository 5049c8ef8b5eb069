"""Real database faults for the fault tests: nothing here fakes the database.

On PostgreSQL the backend serving the engine terminates itself (``pg_terminate_backend``) just
as it is about to write the named table, in the middle of the engine's transaction: what an
operator's ``pg_terminate_backend``, a failover or a dropped network does. On SQLite another
connection holds the write lock, so the engine's write gives up after ``busy_timeout_ms`` with
"database is locked": what a stuck writer or a full disk does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import make_url

from base.db import Database
from router.engine import Engine


class DatabaseFault:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.fired = 0

    @asynccontextmanager
    async def writing(self, table: str) -> AsyncIterator[None]:
        """While this is open, the engine's next write fails for real, once: on PostgreSQL its
        write to ``table`` (the backend is terminated), on SQLite its next write of any table
        (the lock is let go as soon as the engine's statement has failed on it)."""
        if self.db.dialect == "postgresql":
            async with self._terminate_on(table):
                yield
        else:
            with self.outage(until_first_failure=True):
                yield

    @asynccontextmanager
    async def _terminate_on(self, table: str) -> AsyncIterator[None]:
        def before(_conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            words = statement.split()
            if not self.fired and len(words) > 2 and words[2].strip('"') == table and words[0] in (
                    "INSERT", "UPDATE"):
                self.fired += 1
                cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")

        engine = self.db.engine.sync_engine
        event.listen(engine, "before_cursor_execute", before)
        try:
            yield
        finally:
            event.remove(engine, "before_cursor_execute", before)

    @contextmanager
    def outage(self, *, until_first_failure: bool = False) -> Iterator[None]:
        """SQLite: another connection holds the write lock until the block ends (or until the
        engine's first failed statement), so every write of the engine fails meanwhile."""
        lock = sqlite3.connect(str(make_url(self.db.url).database), isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")

        def release(_context: Any) -> None:
            self.fired += 1
            if until_first_failure and lock.in_transaction:
                lock.execute("ROLLBACK")

        engine = self.db.engine.sync_engine
        event.listen(engine, "handle_error", release)
        try:
            yield
        finally:
            event.remove(engine, "handle_error", release)
            if lock.in_transaction:
                lock.execute("ROLLBACK")
            lock.close()


async def disagreements(engine: Engine) -> list[str]:
    """Every way the router and the database differ about live work, contact by contact."""
    return await engine.disagreements()


@asynccontextmanager
async def unreachable(db: Database) -> AsyncIterator[None]:
    """The database cannot be reached at all for a while: on PostgreSQL it refuses new
    connections and its sessions are terminated; on SQLite its file is replaced by a
    directory, which no connection can open."""
    await db.engine.dispose()
    url = make_url(db.url)
    if db.dialect == "postgresql":
        admin = await asyncpg.connect(host=url.host, port=url.port, user=url.username,
                                      database="test")
        name = url.database
        try:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = $1 AND pid <> pg_backend_pid()", name)
            yield
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            await admin.close()
    else:
        with _file_replaced_by_a_directory(Path(str(url.database))):
            yield
    await db.engine.dispose()


@contextmanager
def _file_replaced_by_a_directory(path: Path) -> Iterator[None]:
    aside = path.with_name(path.name + ".aside")
    path.rename(aside)
    path.mkdir()
    try:
        yield
    finally:
        path.rmdir()
        aside.rename(path)
