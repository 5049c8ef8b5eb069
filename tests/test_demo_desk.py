"""The demo's stand-in experts sign in, accept offers and complete sessions."""

from __future__ import annotations

import asyncio
from pathlib import Path

from expertline.demo_desk import DemoDesks
from expertline.schema import database
from router.engine import Engine
from router.ports import Channel, ContactState
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


async def test_demo_desks_take_calls_and_leave_chats_and_three_experts_to_people(
        sqlite_url: str, tmp_path: Path) -> None:
    """In the demo a person plays the expert: the experts kept for people are not signed in,
    and the automatic experts take calls only, so a chat waits for that person."""
    config = make_config(sqlite_url, tmp_path)
    experts = {"exp-0332": ("nhs-a", {"dementia": 5}, ("en",), "+447700900011"),
               "e-bob": ("nhs-a", {"dementia": 4}, ("en",), "+447700900012")}
    async with database(config.database_url) as db:
        await seed_pool(db, experts)
        engine = Engine(db, config, clock=Clock(), autotimers=False)
        await engine.start()
        desks = DemoDesks(engine, accept_after_s=0, talk_s=0)
        assert await desks.start() == 1
        assert engine.desk_state("exp-0332")["presence"] == "offline"
        assert engine.desk_state("e-bob")["takes"] == ["voice"]
        chat = await engine.submit(call("WEB1", channel=Channel.CHAT))
        assert engine.offers("e-bob") == []
        await engine.set_status("exp-0332", "available")
        [offer] = engine.offers("exp-0332")
        assert offer["contact"]["id"] == chat.contact_id
        await desks.close()
        await engine.close()
