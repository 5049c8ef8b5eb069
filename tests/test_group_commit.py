"""Group commit (issue 15, item 1): steps made at the same time are saved in one transaction,
each caller hears back only once its step is committed, announcements keep their order, and
a group the database loses fails every step in it without the router running ahead.

Real engine, real database (SQLite and PostgreSQL), real faults (``tests/db_faults.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from base.audit import AuditEntry
from base.config import Config
from base.db import Database
from base.errors import Unavailable
from expertline.schema import database
from router.batch import Batch
from router.engine import Engine
from router.ports import Announcement, Assigned, Channel
from router.store import Store
from router.tables import (
    ContactEventRow,
    ContactRow,
    DecisionRow,
    OfferRow,
    PresenceRow,
    SessionRow,
)
from tests.conftest import _pg_database, make_config
from tests.db_faults import DatabaseFault
from tests.engine_support import Clock, call, seed_pool
from tests.test_faults_db import Rig

ROUTING_TABLES = (ContactRow, ContactEventRow, OfferRow, SessionRow, DecisionRow, PresenceRow,
                  AuditEntry)


class Recorder(Rig):
    """The engine with every batch it commits written down, and what it announced."""

    def __init__(self, db: Database, config: Config) -> None:
        super().__init__(db, config)
        self.batches: list[Batch] = []
        self.groups: list[list[Batch]] = []
        self.transactions = 0

    def made(self) -> Engine:
        engine = super().made()
        commit_many = engine.store.commit_many

        async def recording(batches: Sequence[Batch]) -> None:
            await commit_many(batches)
            self.batches += [b for b in batches if b]
            self.groups.append([b for b in batches if b])
            self.transactions += 1

        engine.store.commit_many = recording  # type: ignore[method-assign]
        engine._pipeline._save = recording
        return engine


@pytest.fixture
async def recorder(db_url: str, tmp_path: Path) -> AsyncIterator[Recorder]:
    config = make_config(db_url, tmp_path, database={"busy_timeout_ms": 50},
                         routing={"wrapup_s": 30, "offer_timeout_s": 20})
    async with database(config.database_url, busy_timeout_ms=50) as db:
        await seed_pool(db)
        yield Recorder(db, config)


@pytest.fixture
async def other_db_url(db_url: str, tmp_path: Path, pg_ok: bool) -> AsyncIterator[str]:
    """A second fresh database of the same kind as ``db_url``."""
    if db_url.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'replayed.db'}"
        return
    async for url in _pg_database(pg_ok):
        yield url


async def contents(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every routing table, row by row in key order (an audit entry's clock time aside)."""
    found = {}
    async with db.engine.connect() as connection:
        for model in ROUTING_TABLES:
            table = model.metadata.tables[model.__tablename__]
            rows = await connection.execute(sa.select(table).order_by(*table.primary_key))
            found[table.name] = [{k: v for k, v in row._mapping.items() if k != "at"
                                  or table.name != "audit_entry"} for row in rows]
    return found


async def a_busy_minute(engine: Engine, clock: Clock) -> None:
    """Many steps at once, of every kind the engine saves."""
    tickets = await asyncio.gather(*(engine.submit(call(f"CA{n}")) for n in range(10)),
                                   engine.submit(call("CH1", channel=Channel.CHAT)),
                                   engine.submit(call("HS1", "housing")))
    await asyncio.gather(*(engine.set_status(e, "available") for e in ("e-ann", "e-bob",
                                                                       "e-cat")))
    [ann], [bob] = engine.offers("e-ann"), engine.offers("e-bob")
    accepted, _declined = await asyncio.gather(engine.accept("e-ann", ann["id"]),
                                               engine.decline("e-bob", bob["id"]))
    waiting = [t.contact_id for t in tickets[2:6]]
    await asyncio.gather(engine.complete("e-ann", accepted["session_id"], distressing=True),
                         engine.abandon(waiting[0], reason="hung up"),
                         engine.abandon(waiting[1], reason="hung up"),
                         engine.convert_to_callback(waiting[2], number="+447700900123"),
                         engine.set_status("e-cat", "away", reason="break"))
    [again] = engine.offers("e-bob")  # two steps on one contact, in one group
    await asyncio.gather(engine.decline("e-bob", again["id"]),
                         engine.abandon(again["contact"]["id"], reason="hung up"))
    clock.advance(45)  # offers expire, wrap-up ends
    await engine.tick()
    await asyncio.gather(engine.set_status("e-cat", "available"),  # offered as they arrive
                         engine.submit(call("HS2", "housing")),
                         engine.submit(call("HS3", "housing")))


async def test_steps_made_together_are_saved_together_and_read_back_as_one_at_a_time(
        recorder: Recorder, other_db_url: str) -> None:
    engine = await recorder.engine()
    await a_busy_minute(engine, recorder.clock)
    steps = len(recorder.batches)
    assert recorder.transactions < steps  # grouped: fewer transactions than steps
    assert any(len(changed) > len(set(changed)) for changed in (  # a contact changed twice
        [c.contact_id for b in group for c in b.changes] for group in recorder.groups))
    assert engine._pipeline.steps > engine._pipeline.groups
    grouped = await contents(recorder.db)
    await engine.close()
    last_state = {c.contact_id: c.state for b in recorder.batches for c in b.changes}
    assert {row["id"]: row["state"] for row in grouped["contact"]} == last_state

    async with database(other_db_url) as replayed:  # the same steps, one transaction each
        store = Store(replayed)
        for batch in recorder.batches:
            await store.commit_many([batch])
        one_at_a_time = await contents(replayed)
    assert grouped == one_at_a_time
    assert {name: len(rows) > 0 for name, rows in grouped.items()} == dict.fromkeys(grouped, True)


async def test_a_caller_hears_back_only_once_its_step_is_saved_and_in_order(
        recorder: Recorder) -> None:
    engine = await recorder.engine()
    saved_when_heard: list[bool] = []

    async def check(announcement: Announcement) -> None:  # announced after the commit
        if isinstance(announcement, Assigned):
            async with recorder.db.session() as session:
                row = await session.get(ContactRow, announcement.contact_id)
                saved_when_heard.append(row is not None and row.state == "connected")

    engine.subscribe(check)

    async def submit_and_read(ref: str) -> bool:
        ticket = await engine.submit(call(ref))
        async with recorder.db.session() as session:
            return await session.get(ContactRow, ticket.contact_id) is not None

    assert all(await asyncio.gather(*(submit_and_read(f"CA{n}") for n in range(30))))
    await asyncio.gather(*(engine.set_status(e, "available") for e in ("e-ann", "e-bob")))
    offers = engine.offers("e-ann") + engine.offers("e-bob")
    await asyncio.gather(*(engine.accept(e, o["id"])
                           for e in ("e-ann", "e-bob") for o in engine.offers(e)))
    assert saved_when_heard == [True, True]
    # the channels heard the sessions in the order the router made them
    made = [b.connected[0].contact_id for b in recorder.batches if b.connected]
    assert [a.contact_id for a in recorder.heard if isinstance(a, Assigned)] == made
    assert {o["contact"]["id"] for o in offers} == set(made)


async def test_a_group_the_database_loses_fails_every_step_in_it_and_nothing_runs_ahead(
        recorder: Recorder) -> None:
    engine = await recorder.engine()
    first = await engine.submit(call("CA0"))
    fault = DatabaseFault(recorder.db)
    async with fault.writing("contact"):
        results = await asyncio.gather(*(engine.submit(call(f"CA{n}")) for n in range(1, 9)),
                                       return_exceptions=True)
    assert fault.fired == 1
    lost = [n for n, r in enumerate(results, start=1) if isinstance(r, Unavailable)]
    kept = [r for r in results if not isinstance(r, BaseException)]
    assert lost  # the group that met the fault, and whatever was queued behind it
    assert not [r for r in results if isinstance(r, BaseException)
                and not isinstance(r, Unavailable)]
    assert await engine.disagreements() == []
    async with recorder.db.session() as session:
        for ticket in [first, *kept]:
            assert await session.get(ContactRow, ticket.contact_id) is not None

    retried = await asyncio.gather(*(engine.submit(call(f"CA{n}")) for n in lost))
    assert all(t.created for t in retried)  # Twilio's retries queue them now
    assert engine.core.waiting == 9
    assert await engine.disagreements() == []


async def test_many_new_contacts_cost_few_lookups_of_their_refs(recorder: Recorder) -> None:
    engine = await recorder.engine()
    done = await engine.submit(call("OLD"))
    await engine.abandon(done.contact_id, reason="hung up")  # finished: only the database
    lookups: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "external_ref" in statement:
            lookups.append(statement)

    sa.event.listen(recorder.db.engine.sync_engine, "before_cursor_execute", count)
    try:
        tickets = await asyncio.gather(*(engine.submit(call(f"CA{n}")) for n in range(40)),
                                       engine.submit(call("OLD")))
    finally:
        sa.event.remove(recorder.db.engine.sync_engine, "before_cursor_execute", count)
    assert [t.created for t in tickets] == [True] * 40 + [False]
    assert tickets[-1].contact_id == done.contact_id  # a late retry of a finished contact
    assert len({t.contact_id for t in tickets}) == 41
    assert 1 <= len(lookups) <= 3  # one query answers the lookups made together


async def test_a_citizen_line_meets_its_session_event_exactly_once(recorder: Recorder) -> None:
    """Whichever comes first, the desk's session event or the citizen's message, the desk
    sees the message once: in the event's transcript or pushed after it."""
    engine = await recorder.engine()
    desk: list[dict[str, Any]] = []
    await engine.open_desk("e-ann", desk.append)
    await engine.set_status("e-ann", "available")
    for trial in range(8):
        del desk[:]
        ticket = await engine.submit(call(f"CH{trial}", channel=Channel.CHAT,
                                          address=f"web:{trial}"))
        [offer] = engine.offers("e-ann")

        async def relay(yields: int, contact_id: str = ticket.contact_id,
                        n: int = trial) -> None:
            for _ in range(yields):
                await asyncio.sleep(0)
            await engine.relay_to_expert(contact_id, f"hello {n}", ref=f"m{n}")

        accepted, _ = await asyncio.gather(engine.accept("e-ann", offer["id"]), relay(trial))
        seen = [text for e in desk if e.get("type") == "session" for text in e["messages"]]
        seen += [e["text"] for e in desk if e.get("type") == "message"]
        assert seen == [f"hello {trial}"], (trial, desk)
        await engine.complete("e-ann", accepted["session_id"])  # the session ends
        await engine.complete("e-ann", accepted["session_id"])  # and its wrap-up
