"""The routing lease and its fence (issue 15, item 2), on a real PostgreSQL database: one
process leads at a time, a lapsed lease passes to another with a new epoch, and a deposed
leader's routing engine can write nothing more, even though its connections still work.

The lease's expiry is on the database's clock; tests make a lease lapse by moving its expiry
into the past (no waiting)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiohttp import web

from base.db import Database
from base.errors import Unavailable
from expertline.schema import database
from expertline.serving import Member
from router.engine import Engine
from router.lease import Deposed, Fence, Lease
from router.tables import ContactRow
from tests.conftest import _pg_database, make_config
from tests.db_faults import unreachable
from tests.engine_support import Clock, call, seed_pool

pytestmark = pytest.mark.postgres


@pytest.fixture
async def db(tmp_path: Path, pg_ok: bool) -> AsyncIterator[Database]:
    async for url in _pg_database(pg_ok):
        async with database(url) as opened:
            yield opened


async def lapse(db: Database) -> None:
    """The current lease runs out now, as if its holder had stopped renewing it."""
    async with db.engine.begin() as connection:
        await connection.execute(sa.text(
            "UPDATE routing_lease SET expires_at = clock_timestamp() - interval '1 second'"))


async def contacts(db: Database) -> int:
    async with db.engine.connect() as connection:
        return int((await connection.execute(
            sa.select(sa.func.count()).select_from(ContactRow))).scalar_one())


async def test_one_process_leads_until_its_lease_lapses_then_the_next_with_a_new_epoch(
        db: Database) -> None:
    a = Lease(db, holder="a", ttl_s=30)
    b = Lease(db, holder="b", ttl_s=30)
    assert await a.acquire() == 1
    assert await b.acquire() is None  # a's lease is live
    assert await a.renew(1)
    holder = await b.current()
    assert holder is not None and (holder.epoch, holder.holder, holder.live) == (1, "a", True)

    await lapse(db)
    assert await b.acquire() == 2
    assert not await a.renew(1)  # a finds out at its next renewal and steps down
    assert await a.acquire() is None
    assert await b.renew(2)


async def test_a_clean_stop_hands_the_lease_over_at_once(db: Database) -> None:
    a = Lease(db, holder="a", ttl_s=30)
    b = Lease(db, holder="b", ttl_s=30)
    assert await a.acquire() == 1
    await b.release(1)  # only the holder can release it
    assert await b.acquire() is None
    await a.release(1)
    assert await b.acquire() == 2


async def test_a_deposed_leader_cannot_route_even_with_its_connections_open(
        db: Database, tmp_path: Path) -> None:
    await seed_pool(db)
    config = make_config(db.url, tmp_path)
    old, new = Lease(db, holder="old", ttl_s=30), Lease(db, holder="new", ttl_s=30)
    epoch = await old.acquire()
    assert epoch == 1
    deposed: list[bool] = []
    engine = Engine(db, config, clock=Clock(), autotimers=False, fence=Fence(epoch),
                    on_deposed=lambda: deposed.append(True))
    await engine.start()
    try:
        await engine.submit(call("CA-before"))
        assert await contacts(db) == 1

        await lapse(db)  # the old leader was paused past its lease...
        assert await new.acquire() == 2  # ...and another process took over
        with pytest.raises(Unavailable) as refused:
            await engine.submit(call("CA-after"))  # the paused one wakes and tries to route
        assert refused.value.code == "unavailable"
        assert deposed == [True]
        assert await contacts(db) == 1  # nothing it decided reached the database
        with pytest.raises(Unavailable) as again:
            await engine.submit(call("CA-later"))
        assert again.value.code == "not_leader"  # and it does not try again
        assert deposed == [True]  # told once
        assert await contacts(db) == 1
    finally:
        await engine.close()


async def test_the_fence_admits_only_the_current_epoch(db: Database) -> None:
    lease = Lease(db, holder="a", ttl_s=30)
    assert await lease.acquire() == 1
    async with db.engine.begin() as connection:
        await Fence(1).check(connection)
        with pytest.raises(Deposed):
            await Fence(0).check(connection)


async def test_sqlite_has_no_lease(tmp_path: Path) -> None:
    async with database(f"sqlite+aiosqlite:///{tmp_path / 'one.db'}") as one:
        with pytest.raises(ValueError, match="PostgreSQL"):
            Lease(one, holder="a", ttl_s=3)


async def test_a_follower_says_once_that_the_database_is_gone_and_once_that_it_is_back(
        db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = make_config(db.url, tmp_path)
    member = Member(config, Lease(db, holder="a", ttl_s=30), [], lambda _lead: web.Application(),
                    lambda: None)
    caplog.set_level(logging.INFO, logger="expertline.serving")
    async with unreachable(db):
        assert [await member._try_acquire() for _ in range(3)] == [None, None, None]
    assert await member._try_acquire() == 1  # back, and nobody leads: it takes the lease
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 2, said
    assert said[0].startswith("cannot reach the database")
    assert said[1] == "the database answers again"
