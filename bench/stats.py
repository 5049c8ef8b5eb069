"""What one reading of the live figures costs (``GET /api/v1/stats``, the console's wallboard)
as the day's contacts grow.

Writes ``--contacts`` contacts that arrived today (spread from midnight, London, to noon, over
20 skills, one in seven abandoned) into a fresh SQLite file, starts the routing engine on it
with its clock stopped at noon (so the last 30 minutes hold the same share of the day whenever
the benchmark runs) and times ``router.stats.live_stats`` ``--rounds`` times. Prints the median
and the slowest.

    python -m bench.stats [--contacts 10000] [--rounds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from base.config import load_config
from base.db import Database
from bench.schema import migrated
from router.desk import local_midnight
from router.engine import Engine
from router.stats import live_stats
from router.tables import ContactRow

SKILLS = 20


def _rows(contacts: int, now: float) -> list[dict[str, Any]]:
    start = local_midnight(now)
    return [{"id": f"ct-{n:08x}", "seq": n + 1, "state": "abandoned" if n % 7 == 0 else
             "completed", "reason": "", "channel": "voice", "medium": "phone",
             "skill": f"skill-{n % SKILLS}", "language": "en", "priority": 0,
             "external_ref": f"CA{n}", "address": "", "callback_number": "",
             "arrived_at": start + (now - start) * n / contacts, "waited_s": float(n % 40)}
            for n in range(contacts)]


def _noon() -> float:
    """Noon today in London, as epoch seconds."""
    midnight = local_midnight(time.time())
    return midnight + 12 * 3600


async def _seed(db: Database, contacts: int, now: float) -> None:
    table = ContactRow.metadata.tables[ContactRow.__tablename__]
    rows = _rows(contacts, now)
    async with db.engine.begin() as connection:
        for first in range(0, len(rows), 10_000):
            await connection.execute(sa.insert(table), rows[first:first + 10_000])


async def measure(url: str, contacts: int, rounds: int) -> dict[str, Any]:
    async with migrated(url) as db:
        now = _noon()
        await _seed(db, contacts, now)
        engine = Engine(db, load_config(None, {}).replace(database={"url": url}),
                        clock=lambda: now)
        await engine.start()
        try:
            times = []
            for _ in range(rounds):
                started = time.perf_counter()
                await live_stats(engine)
                times.append(time.perf_counter() - started)
        finally:
            await engine.close()
    return {"backend": "sqlite", "contacts_today": contacts, "rounds": rounds,
            "median_ms": round(statistics.median(times) * 1000, 1),
            "max_ms": round(max(times) * 1000, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stats")
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    if args.contacts < 1 or args.rounds < 1:
        parser.error("--contacts and --rounds must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'stats.db'}"
        figures = asyncio.run(measure(url, args.contacts, args.rounds))
    print(json.dumps({"bench": "stats", **figures}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
