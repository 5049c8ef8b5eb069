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

from base.config import Config
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


async def engine_on(db: Database, config: Config, clock: Clock) -> Engine:
    engine = Engine(db, config, clock=clock, autotimers=False)
    await engine.start()
    return engine


async def test_an_available_expert_is_available_again_when_their_desk_reconnects(
        db: Database, tmp_path: Path) -> None:
    config = make_config(db.url, tmp_path, routing={"desk_grace_s": 30})
    clock = Clock()
    before = await engine_on(db, config, clock)
    await before.set_status("e-ann", "available")
    await before.set_status("e-bob", "away", reason="break")
    await before.submit(call("CA1"))
    [offer] = before.offers("e-ann")
    await before.close()  # the process goes away (a restart, or the leader died)

    clock.advance(5)
    after = await engine_on(db, config, clock)
    try:
        assert after.desk_state("e-ann")["state"] == "offered"  # the offer is kept...
        assert after.effective("e-ann")[0].value == "offline"  # ...but nobody is there yet
        heard: list[dict[str, Any]] = []
        await after.open_desk("e-ann", heard.append)
        assert heard[0]["type"] == "hello" and heard[0]["presence"] == "available"
        assert [o["id"] for o in heard[0]["offers"]] == [offer["id"]]  # the same offer
        bob: list[dict[str, Any]] = []
        await after.open_desk("e-bob", bob.append)
        assert bob[0]["presence"] == "offline"  # away before: they choose again
        await after.submit(call("CA2"))  # and routing goes on
        assert after.desk_state("e-ann")["state"] == "offered"
    finally:
        await after.close()


async def test_a_desk_that_comes_back_too_late_or_chose_meanwhile_is_not_overridden(
        db: Database, tmp_path: Path) -> None:
    config = make_config(db.url, tmp_path, routing={"desk_grace_s": 30})
    clock = Clock()
    before = await engine_on(db, config, clock)
    await before.set_status("e-ann", "available")
    await before.set_status("e-bob", "available")
    await before.close()

    after = await engine_on(db, config, clock)
    try:
        await after.set_status("e-bob", "away", reason="break")  # chose since the restart
        bob: list[dict[str, Any]] = []
        await after.open_desk("e-bob", bob.append)
        assert bob[0]["presence"] == "away"
        clock.advance(31)  # past the grace: whoever was there has had time to come back
        ann: list[dict[str, Any]] = []
        await after.open_desk("e-ann", ann.append)
        assert ann[0]["presence"] == "offline"
    finally:
        await after.close()
