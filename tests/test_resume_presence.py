"""After a restart or a failover, an expert who was available is available again as soon as
their desk reconnects (within ``routing.desk_grace_s`` of the new engine's start), so routing
resumes without every expert having to notice and click. Nobody is offered work before their
desk is back: an expert whose desk does not reconnect stays offline, as does one who was away.

Real engine on a real database (SQLite and PostgreSQL), two engines one after the other as two
processes would be; the clock is injected."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from base.db import Database
from expertline.schema import database
from router.engine import Engine
from tests.conftest import make_config
from tests.engine_support import Clock, call, seed_pool


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    async with database(db_url) as opened:
        await seed_pool(opened)
        yield opened


class Process:
    """Engines on one database, one after another, as restarted processes would be, with a
    desk grace of 30 s and one clock."""

    def __init__(self, db: Database, tmp_path: Path) -> None:
        self.db = db
        self.config = make_config(db.url, tmp_path, routing={"desk_grace_s": 30})
        self.clock = Clock()

    async def start(self) -> Engine:
        engine = Engine(self.db, self.config, clock=self.clock, autotimers=False)
        await engine.start()
        return engine


@pytest.fixture
def process(db: Database, tmp_path: Path) -> Process:
    return Process(db, tmp_path)


async def hello(engine: Engine, expert_id: str) -> dict[str, Any]:
    """What the expert's desk is told first when it connects."""
    heard: list[dict[str, Any]] = []
    await engine.open_desk(expert_id, heard.append)
    assert heard[0]["type"] == "hello"
    return heard[0]


async def test_an_available_expert_is_available_again_when_their_desk_reconnects(
        process: Process) -> None:
    before = await process.start()
    await before.set_status("e-ann", "available")
    await before.set_status("e-bob", "away", reason="break")
    await before.submit(call("CA1"))
    [offer] = before.offers("e-ann")
    await before.close()  # the process goes away (a restart, or the leader died)

    process.clock.advance(5)
    after = await process.start()
    try:
        assert after.desk_state("e-ann")["state"] == "offered"  # the offer is kept...
        assert after.effective("e-ann")[0].value == "offline"  # ...but nobody is there yet
        ann = await hello(after, "e-ann")
        assert ann["presence"] == "available"
        assert [o["id"] for o in ann["offers"]] == [offer["id"]]  # the same offer
        # bob was away before: he chooses again
        assert (await hello(after, "e-bob"))["presence"] == "offline"
        await after.submit(call("CA2"))  # and routing goes on
        assert after.desk_state("e-ann")["state"] == "offered"
    finally:
        await after.close()


async def test_a_desk_that_comes_back_too_late_or_chose_meanwhile_is_not_overridden(
        process: Process) -> None:
    before = await process.start()
    await before.set_status("e-ann", "available")
    await before.set_status("e-bob", "available")
    await before.close()

    after = await process.start()
    try:
        await after.set_status("e-bob", "away", reason="break")  # chose since the restart
        assert (await hello(after, "e-bob"))["presence"] == "away"
        process.clock.advance(31)  # past the grace: whoever was there has had time to come back
        assert (await hello(after, "e-ann"))["presence"] == "offline"
    finally:
        await after.close()
