"""The demo's stand-in experts sign in, accept offers and complete sessions."""

from __future__ import annotations

import asyncio
from pathlib import Path

from expertline.demo_desk import DemoDesks
from expertline.schema import database
from router.engine import Engine
from router.ports import ContactState
from tests.conftest import make_config
from tests.engine_support import Clock, call, seed_pool


async def test_demo_desks_take_a_call_through_to_wrap_up(sqlite_url: str, tmp_path: Path) -> None:
    config = make_config(sqlite_url, tmp_path)
    async with database(config.database_url) as db:
        await seed_pool(db)
        engine = Engine(db, config, clock=Clock(), autotimers=False)
        await engine.start()
        desks = DemoDesks(engine, accept_after_s=0, talk_s=0)
        assert await desks.start() == 3
        ticket = await engine.submit(call("CA1"))
        while desks._tasks:  # the accept, then the completion it leads to
            await asyncio.gather(*desks._tasks)
        assert (await engine.get(ticket.contact_id)).state is ContactState.WRAPUP
        await desks.close()
        await engine.close()
