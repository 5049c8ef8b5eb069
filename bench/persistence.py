"""Contact persistence: routing transitions committed per second (issue 6).

Drives the real engine (``router.engine.Engine``) on a real database: each contact arrives
(one committed transaction: the contact row, its first event and the routing decision) and is
then abandoned (a second transaction). Every transition is committed before the engine would
announce it, exactly as in production, so this is the engine's durable write rate.

    python -m bench.persistence [--contacts 2000] [--url postgresql+asyncpg://…]
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

from base.config import load_config
from base.db import Database
from bench.schema import migrated
from router.engine import Engine
from router.ports import Channel, ContactRequest, Medium
from skills.models import Organisation, Skill

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


async def _seed(db: Database) -> None:
    async with db.transaction() as session:
        session.add(Organisation(id="org", name="Org"))
        session.add(Skill(id="dementia", name="Dementia"))


async def measure(url: str, contacts: int) -> dict[str, Any]:
    config = load_config(None, {}).replace(database={"url": url},
                                           scheduler={"enabled": False})
    async with migrated(url) as db:
        await _seed(db)
        engine = Engine(db, config, autotimers=False)
        await engine.start()
        latencies: list[float] = []
        started = time.perf_counter()
        ids = []
        for n in range(contacts):
            t = time.perf_counter()
            ticket = await engine.submit(ContactRequest(
                channel=Channel.VOICE, medium=Medium.PHONE, skill="dementia", language="en",
                external_ref=f"bench-{n}"))
            latencies.append(time.perf_counter() - t)
            ids.append(ticket.contact_id)
        for contact_id in ids:
            t = time.perf_counter()
            await engine.abandon(contact_id, reason="bench")
            latencies.append(time.perf_counter() - t)
        elapsed = time.perf_counter() - started
        await engine.close()
    latencies.sort()
    return {"backend": url.split(":", 1)[0], "transitions": 2 * contacts,
            "per_s": round(2 * contacts / elapsed, 1),
            "p50_ms": round(statistics.median(latencies) * 1000, 3),
            "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 3)}


async def _postgres(contacts: int) -> dict[str, Any] | None:
    try:
        import asyncpg

        admin = await asyncpg.connect(PG_ADMIN, timeout=2)
    except (TimeoutError, OSError, ImportError):
        return None
    name = f"xl_bench_{uuid.uuid4().hex[:10]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        return await measure(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", contacts)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def run(contacts: int = 2000, url: str | None = None) -> list[dict[str, Any]]:
    """SQLite (a temporary file) and, when reachable on loopback, PostgreSQL."""
    if url is not None:
        return [asyncio.run(measure(url, contacts))]
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        found = [asyncio.run(measure(sqlite, contacts))]
    pg = asyncio.run(_postgres(contacts))
    found.append(pg if pg is not None else {"backend": "postgresql",
                                            "skipped": "not reachable on 127.0.0.1:5432"})
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.persistence")
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--url", help="one database URL instead of SQLite + PostgreSQL")
    args = parser.parse_args(argv)
    for figures in run(args.contacts, args.url):
        print(json.dumps({"bench": "persistence", **figures}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
