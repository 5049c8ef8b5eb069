"""Contacts end to end through one and through three ``expertline serve`` processes on one
PostgreSQL database, and the failover time when the routing leader is killed.

For each size it makes a fresh database, starts the processes (real ``expertline serve``), and
plays a load balancer that health-checks ``/healthz`` every ``--check-every`` seconds and sends
each request to the process answering 200. ``--concurrency`` clients post contacts
(``POST /api/v1/contacts``: authentication, triage-free routing, the group commit) for
``--seconds``; contacts/s counts those acknowledged (201). Then, with three processes, it kills
the leader with SIGKILL while the clients keep posting, and reports the time until a standby
says it leads on ``/healthz`` (``leader_after_s``) and until the first contact is acknowledged again
(``routing_after_s``). The balancer sends to every healthy process in turn; a follower relays
to the leader, which does all the routing, so three processes buy failover, not throughput.

    python -m bench.cluster [--seconds 10] [--concurrency 32] [--sizes 1,3]

Needs PostgreSQL on 127.0.0.1:5432 (trust auth, database ``test``); prints one JSON line per size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parent.parent
PG = {"host": "127.0.0.1", "port": 5432, "user": os.environ.get("EXPERTLINE_TEST_PG_USER",
                                                                 "postgres")}
READY_S = 90


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Process:
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Balancer:
    """Sends requests in turn to the processes whose ``/healthz`` last answered 200."""

    processes: list[Process]
    check_every_s: float
    healthy: list[Process] = field(default_factory=list)
    turn: int = 0
    acknowledged: list[float] = field(default_factory=list)  # monotonic times of 201s

    def next_target(self) -> Process | None:
        """The next healthy process in turn (None while none is)."""
        if not self.healthy:
            return None
        self.turn += 1
        return self.healthy[self.turn % len(self.healthy)]

    async def watch(self, session: aiohttp.ClientSession) -> None:
        while True:
            self.healthy = [p for p in self.processes if await _healthy(session, p)]
            await asyncio.sleep(self.check_every_s)

    async def leader(self, session: aiohttp.ClientSession) -> Process | None:
        for process in self.processes:
            try:
                async with session.get(process.base + "/healthz") as resp:
                    if resp.status == 200 and (await resp.json())["role"] == "leader":
                        return process
            except aiohttp.ClientError:
                continue
        return None

    async def post(self, session: aiohttp.ClientSession, token: str, ref: str) -> bool:
        target = self.next_target()
        if target is None:
            await asyncio.sleep(self.check_every_s / 4)
            return False
        body = {"skill": "dementia", "external_ref": ref}
        try:
            async with session.post(target.base + "/api/v1/contacts", json=body,
                                    headers={"Authorization": f"Bearer {token}"}) as resp:
                await resp.read()
                ok = resp.status in (200, 201)
        except aiohttp.ClientError:
            ok = False
        if ok:
            self.acknowledged.append(time.monotonic())
        else:
            await asyncio.sleep(self.check_every_s / 4)
        return ok


async def _healthy(session: aiohttp.ClientSession, process: Process) -> bool:
    try:
        async with session.get(process.base + "/healthz",
                               timeout=aiohttp.ClientTimeout(total=1)) as resp:
            return resp.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(database="test", **PG)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "expertline", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


async def _pool(session: aiohttp.ClientSession, base: str, admin: str) -> None:
    headers = {"Authorization": f"Bearer {admin}"}
    for path, body in (("/api/v1/organisations", {"id": "nhs-a", "name": "NHS A"}),
                       ("/api/v1/skills", {"id": "dementia", "name": "Dementia"}),
                       ("/api/v1/experts", {"id": "desk", "name": "Desk", "organisation": "nhs-a",
                                            "skills": {"dementia": 5}, "languages": ["en"]})):
        async with session.post(base + path, json=body, headers=headers) as resp:
            if resp.status != 201:
                raise SystemExit(f"{path}: {resp.status} {await resp.text()}")


async def _clients(balancer: Balancer, session: aiohttp.ClientSession, token: str,
                   concurrency: int, stop: asyncio.Event) -> None:
    async def client(k: int) -> None:
        n = 0
        while not stop.is_set():
            if await balancer.post(session, token, f"bench-{k}-{n}"):
                n += 1

    await asyncio.gather(*(client(k) for k in range(concurrency)))


def measure(size: int, seconds: float, concurrency: int, check_every_s: float
            ) -> dict[str, Any]:
    name = f"xl_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    data = tempfile.mkdtemp(prefix="xl-cluster-")
    env = {**os.environ, "EXPERTLINE_DATA_DIR": data, "EXPERTLINE_HOST": "127.0.0.1",
           "EXPERTLINE_DATABASE_URL": f"postgresql+asyncpg://{PG['user']}@{PG['host']}:"
                                      f"{PG['port']}/{name}"}
    processes: list[Process] = []
    try:
        admin = _cli(env, "token", "create", "--role", "admin")
        with (Path(data) / "serve.log").open("ab") as out:
            for _ in range(size):
                port = _port()
                proc = subprocess.Popen([sys.executable, "-m", "expertline", "serve"],
                                        env={**env, "EXPERTLINE_PORT": str(port)}, cwd=ROOT,
                                        stdout=out, stderr=out)
                processes.append(Process(port, proc))
        return asyncio.run(_run(processes, admin, seconds, concurrency, check_every_s))
    finally:
        for process in processes:
            if process.proc.poll() is None:
                process.proc.kill()
                process.proc.wait(10)
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _run(processes: list[Process], admin: str, seconds: float, concurrency: int,
               check_every_s: float) -> dict[str, Any]:
    balancer = Balancer(processes, check_every_s)
    connector = aiohttp.TCPConnector(limit=concurrency * 2)
    async with aiohttp.ClientSession(connector=connector) as session:
        watcher = asyncio.ensure_future(balancer.watch(session))
        deadline = time.monotonic() + READY_S
        while len(balancer.healthy) < len(processes):
            if time.monotonic() > deadline:
                raise SystemExit("the processes did not all become ready")
            await asyncio.sleep(0.05)
        first = await balancer.leader(session)
        assert first is not None
        await _pool(session, first.base, admin)
        stop = asyncio.Event()
        load = asyncio.ensure_future(_clients(balancer, session, admin, concurrency, stop))
        started = time.monotonic()
        await asyncio.sleep(seconds)
        steady = len(balancer.acknowledged) / (time.monotonic() - started)
        figures: dict[str, Any] = {"processes": len(processes), "seconds": seconds,
                                   "concurrency": concurrency,
                                   "contacts_per_s": round(steady, 1)}
        if len(processes) > 1:
            figures.update(await _failover(balancer, session))
        stop.set()
        await load
        watcher.cancel()
    return figures


async def _failover(balancer: Balancer, session: aiohttp.ClientSession) -> dict[str, Any]:
    leader = await balancer.leader(session)
    assert leader is not None
    leader.proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    survivors = [p for p in balancer.processes if p is not leader]
    leader_after = None
    while leader_after is None or not [t for t in balancer.acknowledged if t > killed]:
        if leader_after is None and await balancer.leader(session) in survivors:
            leader_after = time.monotonic() - killed
        if time.monotonic() - killed > 60:
            raise SystemExit("no new leader within 60 s")
        await asyncio.sleep(0.02)
    routing_after = min(t for t in balancer.acknowledged if t > killed) - killed
    return {"leader_after_s": round(leader_after, 2), "routing_after_s": round(routing_after, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--sizes", default="1,3", help="process counts, comma-separated")
    parser.add_argument("--check-every", type=float, default=0.25,
                        help="the balancer's health-check interval (s)")
    args = parser.parse_args(argv)
    for size in (int(s) for s in args.sizes.split(",")):
        figures = measure(size, args.seconds, args.concurrency, args.check_every)
        print(json.dumps({"bench": "cluster", **figures}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
