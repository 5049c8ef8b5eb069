"""A chat message the database cannot store (issue 14): the sender gets a 503 to retry, nobody
is told of a message that was not kept, and the retry is stored once. Real faults on a real
database (``tests/db_faults.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from base.db import Database
from base.errors import Unavailable
from expertline.schema import database
from router.engine import Engine
from router.ports import Announcement, Channel, ExpertMessage, TriageInfo
from router.tables import MessageRow
from tests.conftest import make_config
from tests.db_faults import DatabaseFault, disagreements
from tests.engine_support import Clock, call, seed_pool


@pytest.fixture
async def rig(db_url: str, tmp_path: Path) -> AsyncIterator[tuple[Database, Any]]:
    config = make_config(db_url, tmp_path, database={"busy_timeout_ms": 50})
    async with database(config.database_url, busy_timeout_ms=50) as db:
        await seed_pool(db)
        yield db, config


async def _messages(db: Database) -> list[tuple[str, str]]:
    async with db.session() as session:
        rows = (await session.exec(select(MessageRow).order_by(MessageRow.id))).all()
        return [(r.sender, r.text) for r in rows]


async def test_a_message_the_database_loses_is_refused_and_kept_once_on_retry(
        rig: tuple[Database, Any]) -> None:
    db, config = rig
    engine = Engine(db, config, clock=Clock(), autotimers=False)
    await engine.start()
    heard: list[Announcement] = []

    async def listen(announcement: Announcement) -> None:
        heard.append(announcement)

    engine.subscribe(listen)
    desk: list[dict[str, Any]] = []
    engine.connect_desk("e-ann", desk.append)
    request = replace(call("WEB1", channel=Channel.CHAT, address=""),
                      triage=TriageInfo("text", 0.9, ("dementia",), "my mum has dementia"))
    contact_id = (await engine.submit(request)).contact_id
    await engine.set_status("e-ann", "available")
    [offer] = engine.offers("e-ann")
    session_id = (await engine.accept("e-ann", offer["id"]))["session_id"]
    fault = DatabaseFault(db)

    async with fault.writing("contact_message"):
        with pytest.raises(Unavailable):
            await engine.relay_to_expert(contact_id, "she is lost", ref="WEB1:1")
    assert fault.fired == 1 and not [e for e in desk if e["type"] == "message"]
    await engine.relay_to_expert(contact_id, "she is lost", ref="WEB1:1")  # the retry
    await engine.relay_to_expert(contact_id, "she is lost", ref="WEB1:1")
    assert [e["text"] for e in desk if e["type"] == "message"] == ["she is lost"]

    async with DatabaseFault(db).writing("contact_message"):
        with pytest.raises(Unavailable):
            await engine.send_message("e-ann", session_id, "Where are you both?")
    assert not [a for a in heard if isinstance(a, ExpertMessage)]  # nothing unsaved is sent
    await engine.send_message("e-ann", session_id, "Where are you both?")
    assert [a.text for a in heard if isinstance(a, ExpertMessage)] == ["Where are you both?"]
    assert await _messages(db) == [("citizen", "she is lost"), ("expert", "Where are you both?")]
    assert await disagreements(engine) == []
