"""Contact persistence: routing transitions committed per second, against the database's floor.

Drives the real engine (``router.engine.Engine``) on a real database, with ``--in-flight``
contacts moving at once (64 by default, as a busy service's webhooks would): each contact
arrives (the contact row, its first event and the routing decision) and is then abandoned
(its state change and event). A caller hears back only once its step is committed, exactly
as in production; the engine saves many steps per transaction (group commit). On PostgreSQL
it leads as ``expertline serve`` does: each transaction first checks the routing lease's epoch.

In the same run, on the same database, it measures the database's own floor: single-row
``INSERT`` + ``COMMIT`` in a loop on one connection. ``ratio`` is transitions/s over that
floor: above 1.0, the engine saves routing steps faster than the database can commit rows one
at a time.

    python -m bench.persistence [--contacts 2000] [--in-flight 64] [--url postgresql+asyncpg://…]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from base.config import load_config
from base.db import Database
from bench.schema import migrated
from router.engine import Engine
from router.lease import Fence, Lease
from router.ports import Channel, ContactRequest, Medium
from skills.models import Organisation, Skill

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
FLOOR_ROWS = 2000


async def _seed(db: Database) -> None:
    async with db.transaction() as session:
        session.add(Organisation(id="org", name="Org"))
        session.add(Skill(id="dementia", name="Dementia"))


async def commit_floor(db: Database, rows: int = FLOOR_ROWS) -> float:
    """Single-row commits per second on one connection: the database's own floor."""
    async with db.engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE bench_floor (id INTEGER PRIMARY KEY, "
                                   "note VARCHAR(16))"))
    insert = sa.text("INSERT INTO bench_floor (id, note) VALUES (:id, 'floor')")
    async with db.engine.connect() as conn:
        started = time.perf_counter()
        for n in range(rows):
            await conn.execute(insert, {"id": n})
            await conn.commit()
        elapsed = time.perf_counter() - started
    async with db.engine.begin() as conn:
        await conn.execute(sa.text("DROP TABLE bench_floor"))
    return rows / elapsed


async def _contact(engine: Engine, n: int, latencies: list[float]) -> None:
    started = time.perf_counter()
    ticket = await engine.submit(ContactRequest(
        channel=Channel.VOICE, medium=Medium.PHONE, skill="dementia", language="en",
        external_ref=f"bench-{n}"))
    latencies.append(time.perf_counter() - started)
    started = time.perf_counter()
    await engine.abandon(ticket.contact_id, reason="bench")
    latencies.append(time.perf_counter() - started)


async def _drive(engine: Engine, contacts: int, in_flight: int) -> tuple[float, list[float]]:
    """``contacts`` through the engine, ``in_flight`` at a time: (seconds, step latencies)."""
    latencies: list[float] = []
    numbers = iter(range(contacts))

    async def worker() -> None:
        for n in numbers:
            await _contact(engine, n, latencies)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return time.perf_counter() - started, latencies


async def measure(url: str, contacts: int, in_flight: int = 64) -> dict[str, Any]:
    config = load_config(None, {}).replace(database={"url": url},
                                           scheduler={"enabled": False})
    async with migrated(url) as db:
        await _seed(db)
        floor = await commit_floor(db)
        engine = Engine(db, config, autotimers=False, fence=await _fence(db))
        await engine.start()
        elapsed, latencies = await _drive(engine, contacts, in_flight)
        groups, steps = engine._pipeline.groups, engine._pipeline.steps
        await engine.close()
    latencies.sort()
    per_s = 2 * contacts / elapsed
    return {"backend": url.split(":", 1)[0], "in_flight": in_flight,
            "transitions": 2 * contacts, "per_s": round(per_s, 1),
            "floor_per_s": round(floor, 1), "ratio": round(per_s / floor, 2),
            "p50_ms": round(statistics.median(latencies) * 1000, 3),
            "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 3),
            "steps_per_commit": round(steps / groups, 1) if groups else None}


async def _fence(db: Database) -> Fence | None:
    """On PostgreSQL, lead as ``expertline serve`` does: every group commit checks the
    routing lease's epoch (``router.lease``). SQLite runs one process, with no lease."""
    if db.dialect != "postgresql":
        return None
    epoch = await Lease(db, holder="bench", ttl_s=3600).acquire()
    assert epoch is not None, "a fresh database has no leader"
    return Fence(epoch)


async def _postgres(contacts: int, in_flight: int) -> dict[str, Any] | None:
    try:
        import asyncpg

        admin = await asyncpg.connect(PG_ADMIN, timeout=2)
    except (TimeoutError, OSError, ImportError):
        return None
    name = f"xl_bench_{uuid.uuid4().hex[:10]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        return await measure(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}",
                             contacts, in_flight)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def run(contacts: int = 2000, url: str | None = None, in_flight: int = 64
        ) -> list[dict[str, Any]]:
    """SQLite (a temporary file) and, when reachable on loopback, PostgreSQL."""
    if url is not None:
        return [asyncio.run(measure(url, contacts, in_flight))]
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        found = [asyncio.run(measure(sqlite, contacts, in_flight))]
    pg = asyncio.run(_postgres(contacts, in_flight))
    found.append(pg if pg is not None else {"backend": "postgresql",
                                            "skipped": "not reachable on 127.0.0.1:5432"})
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.persistence")
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=64,
                        help="contacts moving at once (default 64)")
    parser.add_argument("--url", help="one database URL instead of SQLite + PostgreSQL")
    args = parser.parse_args(argv)
    if args.contacts < 1 or args.in_flight < 1:
        parser.error("--contacts and --in-flight must be at least 1")
    for figures in run(args.contacts, args.url, args.in_flight):
        print(json.dumps({"bench": "persistence", **figures}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
