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
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from telephony.simcall import CallScript, SimulatedCall
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


def _role(health: tuple[int, Any] | None) -> str | None:
    return None if health is None or health[0] != 200 else health[1]["role"]


class DeskSocket(threading.Thread):
    """An expert desk's WebSocket to one process, read on its own thread; what it was sent
    is kept in order, and how it was closed."""

    def __init__(self, member: Member, token: str) -> None:
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{member.port}/ws/expert?access_token={token}"
        self.events: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self.closed = threading.Event()

    def run(self) -> None:
        async def read() -> None:
            async with aiohttp.ClientSession() as session, session.ws_connect(self.url) as ws:
                async for message in ws:
                    if message.type is aiohttp.WSMsgType.TEXT:
                        self.events.append(json.loads(message.data))
                self.close_code = ws.close_code

        try:
            asyncio.run(read())
        finally:
            self.closed.set()

    def wait_for(self, kind: str, timeout_s: float = 15) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = [e for e in self.events if e.get("type") == kind]
            if found:
                return found[-1]
            time.sleep(0.02)  # polling for the desk's events
        raise AssertionError(f"no {kind!r} event; got {self.events}")


PUBLIC_URL = "http://127.0.0.1:8080"  # config.toml's: what the TwiML's URLs start with


def _play(member: Member, sid: str, url: str, **extra: str) -> ET.Element:
    """One webhook as Twilio posts it (loopback mode: unsigned) to ``member``."""
    async def post() -> ET.Element:
        async with aiohttp.ClientSession() as session:
            call = SimulatedCall(session, base_url=f"http://127.0.0.1:{member.port}",
                                 public_url=PUBLIC_URL, auth_token="",
                                 script=CallScript(say=""), report=lambda _line: None)
            call.sid = sid
            return await call.post(url, **extra)

    return asyncio.run(post())


def queue_a_call(member: Member, sid: str, words: str) -> str:
    """A caller rings through ``member``, says ``words`` and is queued: the hold URL."""
    doc = _play(member, sid, PUBLIC_URL + "/twilio/voice", CallStatus="ringing")
    for _ in range(10):
        verbs = {verb.tag: verb for verb in doc}
        if "Enqueue" in verbs:
            return verbs["Enqueue"].attrib["waitUrl"]
        if "Gather" in verbs:
            doc = _play(member, sid, verbs["Gather"].attrib["action"], SpeechResult=words,
                        Confidence="0.9")
        elif "Redirect" in verbs:
            doc = _play(member, sid, verbs["Redirect"].text or "")
        else:
            raise AssertionError(f"the call was not queued: {ET.tostring(doc)!r}")
    raise AssertionError("the call was not queued")


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

    def leader(self, among: list[Member], timeout_s: float = READY_TIMEOUT_S) -> Member:
        """The one member of ``among`` that says it leads, once every one of them serves
        (the others as followers)."""
        deadline = time.monotonic() + timeout_s
        seen: dict[str, tuple[int, Any] | None] = {}
        while time.monotonic() < deadline:
            seen = {m.name: m.health() for m in among}
            leaders = [m for m in among if _role(seen[m.name]) == "leader"]
            assert len(leaders) <= 1, f"two leaders at once: {seen}"
            if leaders and all((h or (0,))[0] == 200 for h in seen.values()):
                return leaders[0]
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
                       ("/api/v1/skills", {"id": "dementia", "name": "Dementia",
                                           "synonyms": ["memory loss"]})):
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
    followers = [m for m in cluster.members if m is not first]
    assert [m.health() for m in followers] == [
        (200, {"status": "ok", "role": "follower", "epoch": epoch})] * 2
    # a follower relays: the leader's own answers come back through it
    assert followers[0].call("GET", "/api/v1/contacts")[0] == 401
    assert followers[0].call("GET", "/api/v1/contacts", admin)[0] == 200
    tokens = pool(cluster, admin, ["desk-a", "desk-b"])
    desk_b = DeskSocket(followers[0], tokens["desk-b"])  # a desk on a follower
    desk_b.start()
    assert desk_b.wait_for("hello")["state"] == "offline"

    load = Load(cluster, admin)  # through all three processes in turn
    load.start()
    while len(load.made) < 20:  # under load: contacts are arriving
        time.sleep(0.01)
    offered = {}
    for expert, token in tokens.items():
        status, desk = cluster.call("PUT", "/api/v1/me/status", token, {"status": "available"})
        assert status == 200 and len(desk["offers"]) == 1, desk
        offered[expert] = desk["offers"][0]["id"]
    assert desk_b.wait_for("offer")["offer_id"] == offered["desk-b"]  # relayed to the desk
    caller = "CA" + uuid.uuid4().hex  # a citizen on hold, through a follower
    hold_url = queue_a_call(followers[1], caller, "my mother has dementia")
    while len(load.made) < 40:
        time.sleep(0.01)

    first.signal(signal.SIGKILL)
    killed_at = time.monotonic()
    first.proc.wait(10)  # type: ignore[union-attr]
    before = _query(cluster.dsn, "SELECT id, seq, state FROM contact ORDER BY seq")
    second = cluster.leader(followers, timeout_s=30)
    failover_s = time.monotonic() - killed_at
    # a newer epoch (one more, unless a would-be leader stalled past its own lease: fenced)
    assert second.health()[1]["epoch"] > epoch  # type: ignore[index]
    assert failover_s < FAILOVER_TARGET_S, f"new leader after {failover_s:.1f} s"
    assert desk_b.closed.wait(15)  # its relay ended with the old leader: the desk reconnects
    # Twilio keeps fetching the hold URL: the new leader knows the caller, who stays on hold
    hold = _play(next(m for m in followers if m is not second), caller, hold_url,
                 QueueTime="20")
    heard = " ".join(say.text or "" for say in hold.iter("Say"))
    assert hold.find("Hangup") is None and heard, ET.tostring(hold)
    assert "wait" in (hold.findtext("Redirect") or ""), ET.tostring(hold)  # and again later

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
    assert_no_write_after_the_next_epoch(cluster)

    # a desk reconnects to any process still there: available again, with the same offer
    again = DeskSocket(next(m for m in followers if m is not second), tokens["desk-b"])
    again.start()
    hello = again.wait_for("hello")
    assert hello["presence"] == "available"  # it was available when the old leader died
    assert [o["id"] for o in hello["offers"]] == [offered["desk-b"]]  # not a new offer
    # an expert with no desk open (the API only) sets themselves available again
    status, desk = cluster.call("PUT", "/api/v1/me/status", tokens["desk-a"],
                                {"status": "available"}, among=followers)
    assert status == 200 and [o["id"] for o in desk["offers"]] == [offered["desk-a"]], desk
    # and new offers come from the new leader: a declined contact goes to the next desk free
    status, declined = cluster.call("POST", f"/api/v1/me/offers/{offered['desk-b']}/decline",
                                    tokens["desk-b"], among=followers)
    assert status == 200, declined
    fresh = again.wait_for("offer")
    assert fresh["offer_id"] != offered["desk-b"]
    pending = _query(cluster.dsn, "SELECT contact_id, count(*) FROM offer "
                     "WHERE status = 'pending' GROUP BY contact_id HAVING count(*) > 1")
    assert pending == []  # no contact offered to two desks at once
    twice = _query(cluster.dsn, "SELECT contact_id, expert_id, count(*) FROM offer "
                   "GROUP BY contact_id, expert_id HAVING count(*) > 1")
    assert twice == []  # nor to the same desk twice
    print(f"\nfailover: new leader {failover_s:.2f} s after SIGKILL; "
          f"{len(load.made)} contacts through 3 processes")


def assert_no_write_after_the_next_epoch(cluster: Cluster) -> None:
    """Contact events say which leader wrote them: none of an epoch after the next began."""
    events = _query(cluster.dsn, "SELECT id, epoch FROM contact_event ORDER BY id")
    assert events and all(epoch is not None for _id, epoch in events)
    first_of = {}
    for event_id, epoch in events:
        first_of.setdefault(epoch, event_id)
    for event_id, epoch in events:
        newer = [start for later, start in first_of.items() if later > epoch]
        assert not newer or event_id < min(newer), (event_id, epoch, first_of)


@pytest.mark.parametrize("cluster", [2], indirect=True)
def test_a_leader_paused_past_its_lease_cannot_write_when_it_wakes(cluster: Cluster) -> None:
    admin = cluster.cli("token", "create", "--role", "admin")
    for member in cluster.members:
        member.start()
    old = cluster.leader(cluster.members)
    pool(cluster, admin, ["desk-a"])
    [other] = [m for m in cluster.members if m is not old]
    epoch = old.health()[1]["epoch"]  # type: ignore[index]
    status, made = old.call("POST", "/api/v1/contacts", admin,
                            {"skill": "dementia", "external_ref": "before"})
    assert status == 201, made

    old.signal(signal.SIGSTOP)
    assert cluster.leader([other], timeout_s=30) is other
    assert other.health()[1]["epoch"] == epoch + 1  # type: ignore[index]
    status, made = other.call("POST", "/api/v1/contacts", admin,
                              {"skill": "dementia", "external_ref": "while-paused"})
    assert status == 201, made

    old.signal(signal.SIGCONT)  # it wakes believing it leads, its connections open
    status, answer = old.call("POST", "/api/v1/contacts", admin,
                              {"skill": "dementia", "external_ref": "after-waking"})
    # refused (its fenced commit failed), or relayed to the new leader once it stepped down
    assert status in (201, 503), answer
    deadline = time.monotonic() + 30
    while _role(old.health()) != "follower":  # it steps down and follows
        assert time.monotonic() < deadline, old.log.read_text()[-2000:]
        time.sleep(0.05)
    assert old.health() == (200, {"status": "ok", "role": "follower", "epoch": epoch + 1})
    assert "stepped down" in old.log.read_text()
    assert cluster.leader(cluster.members) is other
    written = _query(cluster.dsn, "SELECT c.external_ref, e.epoch FROM contact c "
                     "JOIN contact_event e ON e.contact_id = c.id ORDER BY e.id")
    assert ("before", epoch) in written and ("while-paused", epoch + 1) in written
    assert {ref for ref, e in written if e == epoch} == {"before"}  # nothing after it woke
    assert_no_write_after_the_next_epoch(cluster)
    if status == 201:
        assert ("after-waking", epoch + 1) in written
