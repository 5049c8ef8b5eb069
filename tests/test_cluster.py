"""Several real ``expertline serve`` processes on one fresh PostgreSQL database (issue 15, items
2, 4 and 6): one leads routing, the others stand by; killing the leader (SIGKILL) under load
hands routing to another within the lease, with every contact kept in its place and no offer
made twice; a leader paused past its lease (SIGSTOP) cannot write when it wakes, and steps down.

The test plays the load balancer: it sends each request to the processes in turn and moves on
when one answers 503 (standby) or does not answer, as a balancer checking ``/healthz`` would.
It waits for readiness and for the new leader by polling, never for time to pass."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.conftest import PG_HOST, PG_PORT, PG_USER, postgres_reachable
from tests.test_restart import ROOT, call_json, free_port

pytestmark = pytest.mark.postgres
READY_TIMEOUT_S = 60
FAILOVER_TARGET_S = 5.0


def _admin_sql(sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="test")
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def _query(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    async def run() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(dsn)
        try:
            return [tuple(r) for r in await conn.fetch(sql)]
        finally:
            await conn.close()

    return asyncio.run(run())


class Member:
    """One ``expertline serve`` process."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.env = {**env, "EXPERTLINE_PORT": str(self.port)}
        self.log = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "expertline", "serve"],
                                         env=self.env, cwd=ROOT, stdout=log, stderr=log)

    def health(self) -> tuple[int, Any] | None:
        try:
            return self.call("GET", "/healthz", timeout=2)
        except OSError:
            return None

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def call(self, method: str, path: str, token: str | None = None, body: Any = None,
             timeout: float = 10) -> tuple[int, Any]:
        return call_json(self.port, method, path, token, body, timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)


class Cluster:
    def __init__(self, tmp_path: Path, size: int) -> None:
        self.db_name = f"xl_cluster_{uuid.uuid4().hex[:10]}"
        self.dsn = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.db_name}"
        env = {**os.environ, "EXPERTLINE_DATA_DIR": str(tmp_path), "EXPERTLINE_HOST": "127.0.0.1",
               "EXPERTLINE_DATABASE_URL": self.dsn.replace("postgresql://",
                                                           "postgresql+asyncpg://")}
        self.env = env
        self.members = [Member(f"m{n}", env, tmp_path) for n in range(size)]
        self._next = 0

    def cli(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "expertline", *args], env=self.env,
                              cwd=ROOT, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    def roles(self, members: list[Member] | None = None) -> dict[str, tuple[int, Any] | None]:
        return {m.name: m.health() for m in members or self.members}

    def leader(self, among: list[Member], timeout_s: float = READY_TIMEOUT_S) -> Member:
        """The one member that answers 200 on /healthz, once all of ``among`` answer."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            seen = {m.name: m.health() for m in among}
            leaders = [m for m in among if (seen[m.name] or (0,))[0] == 200]
            if len(leaders) == 1 and all(seen.values()):
                return leaders[0]
            assert len(leaders) <= 1, f"two leaders at once: {seen}"
            time.sleep(0.05)  # polling for readiness
        raise AssertionError(f"no single leader among {[m.name for m in among]}: {seen}")

    def call(self, method: str, path: str, token: str | None = None, body: Any = None,
             *, among: list[Member] | None = None) -> tuple[int, Any]:
        """As a load balancer: the next member in turn; on 503 or no answer, the one after
        it; gives up after a few rounds."""
        candidates = among or self.members
        last: tuple[int, Any] = (0, None)
        for _ in range(len(candidates) * 40):
            member = candidates[self._next % len(candidates)]
            self._next += 1
            try:
                last = member.call(method, path, token, body, timeout=5)
            except OSError:
                continue
            if last[0] != 503:
                return last
            time.sleep(0.05)  # polling: the next member may lead by now
        return last


@pytest.fixture
def cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    if not postgres_reachable():
        pytest.skip(f"PostgreSQL is not reachable on {PG_HOST}:{PG_PORT}")
    made = Cluster(tmp_path, getattr(request, "param", 3))
    _admin_sql(f'CREATE DATABASE "{made.db_name}"')
    try:
        yield made
    finally:
        for member in made.members:
            member.stop()
        _admin_sql(f'DROP DATABASE IF EXISTS "{made.db_name}" WITH (FORCE)')


def pool(cluster: Cluster, admin: str, experts: list[str]) -> dict[str, str]:
    """An organisation, the dementia skill and ``experts`` who hold it; their tokens."""
    for path, body in (("/api/v1/organisations", {"id": "nhs-a", "name": "NHS A"}),
                       ("/api/v1/skills", {"id": "dementia", "name": "Dementia"})):
        status, made = cluster.call("POST", path, admin, body)
        assert status == 201, made
    for expert in experts:
        status, made = cluster.call("POST", "/api/v1/experts", admin, {
            "id": expert, "name": expert.title(), "organisation": "nhs-a",
            "skills": {"dementia": 5}, "languages": ["en"]})
        assert status == 201, made
    return {e: cluster.cli("token", "create", "--role", "expert", "--expert", e)
            for e in experts}


class Load(threading.Thread):
    """Contacts created one after another through the balancer until stopped; a contact
    that got no answer is sent again with the same reference (which makes it idempotent)."""

    def __init__(self, cluster: Cluster, admin: str) -> None:
        super().__init__(daemon=True)
        self.cluster, self.admin = cluster, admin
        self.made: dict[str, str] = {}  # external ref -> contact id, once acknowledged
        self.refused = 0
        self.halt = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.halt.is_set():
            ref = f"load-{n}"
            status, body = self.cluster.call("POST", "/api/v1/contacts", self.admin,
                                             {"skill": "dementia", "external_ref": ref})
            if status in (200, 201):
                self.made[ref] = body["id"]
                n += 1
            else:
                self.refused += 1


def test_killing_the_leader_under_load_hands_routing_over_within_the_lease(
        cluster: Cluster) -> None:
    admin = cluster.cli("token", "create", "--role", "admin")
    for member in cluster.members:
        member.start()
    first = cluster.leader(cluster.members)
    epoch = first.health()[1]["epoch"]  # type: ignore[index]
    standby = [m.health() for m in cluster.members if m is not first]
    assert all(h is not None and h[0] == 503 and h[1]["role"] == "follower" and
               h[1]["epoch"] == epoch for h in standby), standby
    standby_one = next(m for m in cluster.members if m is not first)
    request = urllib.request.Request(f"http://127.0.0.1:{standby_one.port}/api/v1/contacts")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 503 and refused.value.headers["Retry-After"] == "1"
    assert json.loads(refused.value.read())["error"]["code"] == "not_leader"
    tokens = pool(cluster, admin, ["desk-a", "desk-b"])

    load = Load(cluster, admin)
    load.start()
    while len(load.made) < 20:  # under load: contacts are arriving
        time.sleep(0.01)
    offered = {}
    for expert, token in tokens.items():
        status, desk = cluster.call("PUT", "/api/v1/me/status", token, {"status": "available"})
        assert status == 200 and len(desk["offers"]) == 1, desk
        offered[expert] = desk["offers"][0]["id"]
    while len(load.made) < 40:
        time.sleep(0.01)

    first.signal(signal.SIGKILL)
    killed_at = time.monotonic()
    first.proc.wait(10)  # type: ignore[union-attr]
    survivors = [m for m in cluster.members if m is not first]
    before = _query(cluster.dsn, "SELECT id, seq, state FROM contact ORDER BY seq")
    second = cluster.leader(survivors, timeout_s=30)
    failover_s = time.monotonic() - killed_at
    assert second.health()[1]["epoch"] == epoch + 1  # type: ignore[index]
    assert failover_s < FAILOVER_TARGET_S, f"new leader after {failover_s:.1f} s"

    while len(load.made) < len(before) + 20:  # routing goes on through the new leader
        time.sleep(0.01)
    load.halt.set()
    load.join(30)

    after = _query(cluster.dsn, "SELECT id, seq, state FROM contact ORDER BY seq")
    assert [(i, s) for i, s, _ in after[:len(before)]] == [(i, s) for i, s, _ in before]
    assert all(state in ("queued", "offered") for _i, _s, state in after)
    stored = {ref: cid for ref, cid in _query(cluster.dsn,
                                              "SELECT external_ref, id FROM contact")}
    assert len(stored) == len(after)  # every reference once, though some were sent twice
    assert all(stored[ref] == cid for ref, cid in load.made.items())  # none acknowledged lost

    # the desks reconnect to whichever process serves them, and get the same offers back
    for expert, token in tokens.items():
        status, desk = cluster.call("PUT", "/api/v1/me/status", token, {"status": "available"},
                                    among=survivors)
        assert status == 200 and [o["id"] for o in desk["offers"]] == [offered[expert]], desk
    # and new offers come from the new leader: a declined contact goes to the next desk free
    status, declined = cluster.call("POST", f"/api/v1/me/offers/{offered['desk-a']}/decline",
                                    tokens["desk-a"], among=survivors)
    assert status == 200, declined
    status, desk = cluster.call("GET", "/api/v1/me", tokens["desk-a"], among=survivors)
    assert status == 200 and len(desk["offers"]) == 1, desk
    assert desk["offers"][0]["id"] != offered["desk-a"]
    pending = _query(cluster.dsn, "SELECT contact_id, count(*) FROM offer "
                     "WHERE status = 'pending' GROUP BY contact_id HAVING count(*) > 1")
    assert pending == []  # no contact offered to two desks at once
    twice = _query(cluster.dsn, "SELECT contact_id, expert_id, count(*) FROM offer "
                   "GROUP BY contact_id, expert_id HAVING count(*) > 1")
    assert twice == []  # nor to the same desk twice
    sessions = _query(cluster.dsn, "SELECT contact_id, count(*) FROM contact_session "
                      "GROUP BY contact_id HAVING count(*) > 1")
    assert sessions == []
    print(f"\nfailover: new leader {failover_s:.2f} s after SIGKILL; "
          f"{len(load.made)} contacts, {load.refused} requests refused and retried")


@pytest.mark.parametrize("cluster", [2], indirect=True)
def test_a_leader_paused_past_its_lease_cannot_write_when_it_wakes(cluster: Cluster) -> None:
    admin = cluster.cli("token", "create", "--role", "admin")
    for member in cluster.members:
        member.start()
    old = cluster.leader(cluster.members)
    pool(cluster, admin, ["desk-a"])
    [other] = [m for m in cluster.members if m is not old]
    epoch = old.health()[1]["epoch"]  # type: ignore[index]

    old.signal(signal.SIGSTOP)
    assert cluster.leader([other], timeout_s=30) is other
    assert other.health()[1]["epoch"] == epoch + 1  # type: ignore[index]
    status, made = other.call("POST", "/api/v1/contacts", admin,
                              {"skill": "dementia", "external_ref": "while-paused"})
    assert status == 201, made

    old.signal(signal.SIGCONT)  # it wakes believing it leads, its connections open
    status, refused = old.call("POST", "/api/v1/contacts", admin,
                               {"skill": "dementia", "external_ref": "from-the-past"})
    assert status == 503, refused
    assert refused["error"]["code"] in ("unavailable", "not_leader"), refused
    assert _query(cluster.dsn, "SELECT id FROM contact WHERE external_ref = 'from-the-past'") == []
    deadline = time.monotonic() + 30
    while (old.health() or (0,))[0] != 503:  # it steps down to standby
        assert time.monotonic() < deadline, old.log.read_text()[-2000:]
        time.sleep(0.05)
    health = old.health()
    assert health is not None and health[1] == {"status": "standby", "role": "follower",
                                                "epoch": epoch + 1}
    assert "stepped down" in old.log.read_text()
    assert cluster.leader(cluster.members) is other
