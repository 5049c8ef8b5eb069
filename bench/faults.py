"""Database faults under load: how many contacts are stuck afterwards (the answer must be 0).

Starts the real service (``expertline serve --demo``: loopback telephony, the demo pool, demo
experts who accept offers after 3 s and talk for 45 s) on a fresh PostgreSQL database, then for
``--rounds`` rounds queues ``--contacts`` contacts through the API while terminating every one of
the service's PostgreSQL connections (``pg_terminate_backend``) ``--kills`` times. Then it waits
for the queue to settle and asks the service whether its router and the database agree
(``GET /api/v1/router/consistency``), and counts, from the database itself, offers still pending
past the offer lease and a watchdog run. ``stuck`` is those plus every router/database
difference. Prints one JSON line.

    python -m bench.faults [--rounds 3] [--contacts 200] [--kills 5] [--settle 180]

Needs PostgreSQL on 127.0.0.1:5432 (prints ``"skipped"`` otherwise).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from bench.webhook import ROOT, _port, _ready

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
SKILLS = ("dementia", "carers-support", "mental-health-crisis", "housing-homelessness",
          "benefits-advice")
OFFER_LEASE_S = 60.0


async def _terminate_all(admin: asyncpg.Connection, name: str) -> int:
    rows = await admin.fetch("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = $1 AND pid <> pg_backend_pid()", name)
    return len(rows)


async def _queue(http: aiohttp.ClientSession, base: str, token: str, n: int,
                 tag: str) -> dict[int, int]:
    statuses: dict[int, int] = {}

    async def one(k: int) -> None:
        body = {"skill": random.choice(SKILLS), "external_ref": f"{tag}-{k}"}
        headers = {"Authorization": f"Bearer {token}"}
        for _attempt in range(5):  # a 503 during a fault is retried, as a client would
            async with http.post(base + "/api/v1/contacts", json=body, headers=headers) as r:
                statuses[r.status] = statuses.get(r.status, 0) + 1
                if r.status != 503:
                    return
            await asyncio.sleep(0.5)

    await asyncio.gather(*(one(k) for k in range(n)))
    return statuses


async def _round(http: aiohttp.ClientSession, base: str, token: str, admin: asyncpg.Connection,
                 name: str, *, contacts: int, kills: int, tag: str) -> tuple[dict[int, int], int]:
    load = asyncio.ensure_future(_queue(http, base, token, contacts, tag))
    terminated = 0
    for _ in range(kills):
        await asyncio.sleep(random.uniform(0.2, 1.0))  # faults land at random moments
        terminated += await _terminate_all(admin, name)
    return await load, terminated


async def _stuck(admin_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(admin_url)
    try:
        now = time.time()
        old_offers = await conn.fetchval(
            "SELECT count(*) FROM offer WHERE status = 'pending' AND made_at < $1",
            now - OFFER_LEASE_S - 30)
        live = await conn.fetch("SELECT state, count(*) FROM contact GROUP BY state")
    finally:
        await conn.close()
    return {"offers_past_lease": int(old_offers), **{f"db_{r[0]}": int(r[1]) for r in live}}


async def _settled(http: aiohttp.ClientSession, base: str, token: str, limit_s: float) -> float:
    """Wait until nothing is waiting or offered (the demo experts drain the queue)."""
    started = time.monotonic()
    headers = {"Authorization": f"Bearer {token}"}
    while time.monotonic() - started < limit_s:
        async with http.get(base + "/api/v1/contacts?state=queued,offered,callback&limit=1",
                            headers=headers) as r:
            if r.status == 200 and (await r.json())["total"] == 0:
                break
        await asyncio.sleep(1.0)  # polling a live service, not waiting for time to pass
    return time.monotonic() - started


def measure(rounds: int, contacts: int, kills: int, settle_s: float) -> dict[str, Any]:
    name = f"xl_faults_{uuid.uuid4().hex[:8]}"
    if not asyncio.run(_database("CREATE", name)):
        return {"bench": "faults", "skipped": "PostgreSQL is not reachable on 127.0.0.1:5432"}
    try:
        with tempfile.TemporaryDirectory(prefix="faults-") as data_dir:
            port = _port()
            env = _env(name, data_dir, port)
            token = _prepare(env)
            with (Path(data_dir) / "serve.log").open("wb") as out:
                proc = subprocess.Popen([*CLI, "serve", "--demo"], env=env, cwd=ROOT,
                                        stdout=out, stderr=out)
            try:
                return asyncio.run(_drive(proc, port, token, name, rounds=rounds,
                                          contacts=contacts, kills=kills, settle_s=settle_s))
            finally:
                proc.terminate()
                proc.wait(30)
    finally:
        asyncio.run(_database("DROP", name))


CLI = [sys.executable, "-m", "expertline"]


def _env(name: str, data_dir: str, port: int) -> dict[str, str]:
    env = {**os.environ, "EXPERTLINE_DATA_DIR": data_dir, "EXPERTLINE_HOST": "127.0.0.1",
           "EXPERTLINE_PORT": str(port),
           "EXPERTLINE_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"}
    for key in ("EXPERTLINE_TWILIO_AUTH_TOKEN", "EXPERTLINE_TWILIO_ACCOUNT_SID"):
        env.pop(key, None)  # loopback telephony, so the demo desks run
    return env


def _prepare(env: dict[str, str]) -> str:
    """Seed the demo pool and make an admin token, with the product's own commands."""
    subprocess.run([*CLI, "seed", "--demo"], env=env, cwd=ROOT, check=True, capture_output=True)
    return subprocess.run([*CLI, "token", "create", "--role", "admin"], env=env, cwd=ROOT,
                          check=True, capture_output=True, text=True).stdout.strip()


async def _database(verb: str, name: str) -> bool:
    try:
        admin = await asyncpg.connect(**PG, database="test", timeout=2)
    except (OSError, asyncpg.PostgresError):
        return False
    try:
        await admin.execute(f'CREATE DATABASE "{name}"' if verb == "CREATE"
                            else f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
    return True


async def _drive(proc: subprocess.Popen[bytes], port: int, token: str, name: str, *,
                 rounds: int, contacts: int, kills: int, settle_s: float) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}"
    statuses: dict[int, int] = {}
    terminated = 0
    started = time.monotonic()
    admin = await asyncpg.connect(**PG, database="test")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        await _ready(http, base, proc)
        for n in range(rounds):
            got, killed = await _round(http, base, token, admin, name, contacts=contacts,
                                       kills=kills, tag=f"r{n}")
            terminated += killed
            for status, count in got.items():
                statuses[status] = statuses.get(status, 0) + count
        settled_s = await _settled(http, base, token, settle_s)
        async with http.get(base + "/api/v1/router/consistency",
                            headers={"Authorization": f"Bearer {token}"}) as r:
            check = await r.json()
    await admin.close()
    stuck = await _stuck(f"postgresql://postgres@127.0.0.1:5432/{name}")
    return {"bench": "faults", "rounds": rounds, "contacts": rounds * contacts,
            "connections_terminated": terminated,
            "responses": {str(k): v for k, v in sorted(statuses.items())},
            "settled_s": round(settled_s, 1), "router_database_differences": check["count"],
            "stuck": stuck["offers_past_lease"] + check["count"], **stuck,
            "wall_s": round(time.monotonic() - started, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--contacts", type=int, default=200, help="contacts queued per round")
    parser.add_argument("--kills", type=int, default=5, help="terminations per round")
    parser.add_argument("--settle", type=float, default=180.0,
                        help="seconds to wait for the queue to drain afterwards")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    random.seed(args.seed)
    print(json.dumps(measure(args.rounds, args.contacts, args.kills, args.settle)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
