"""kill -9 and restart: the real server as a subprocess keeps every contact, in order, and
makes no offer twice (issue 3, "Done when")."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call_json(port: int, method: str, path: str, token: str | None = None, body: Any = None,
              timeout: float = 10) -> tuple[int, Any]:
    """A JSON request to a server on loopback: (status, decoded body), errors included."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


class Server:
    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.env = {**os.environ, "EXPERTLINE_DATA_DIR": str(data_dir),
                    "EXPERTLINE_HOST": "127.0.0.1", "EXPERTLINE_PORT": str(self.port)}
        self.env.pop("EXPERTLINE_DATABASE_URL", None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.data_dir = data_dir
        self.log = data_dir / "server.log"

    def cli(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "expertline", *args], env=self.env,
                              cwd=ROOT, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "expertline", "serve"],
                                         env=self.env, cwd=ROOT, stdout=log, stderr=log)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:  # readiness, not the passing of time
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if self.call("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("server did not become ready")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def text(self, sid: str, sender: str, body: str) -> tuple[int, str]:
        """An inbound SMS, as Twilio posts it (loopback mode checks no signature)."""
        form = urllib.parse.urlencode({"MessageSid": sid, "From": sender, "Body": body})
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/twilio/messaging",
                                         data=form.encode(), method="POST")
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read().decode()

    def call(self, method: str, path: str, token: str | None = None,
             body: Any = None) -> tuple[int, Any]:
        return call_json(self.port, method, path, token, body)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    found = Server(tmp_path)
    found.cli("seed", "--demo")
    yield found
    if found.proc is not None and found.proc.poll() is None:
        found.proc.kill()
        found.proc.wait(10)


def test_sigkill_loses_no_contact_and_duplicates_no_offer(server: Server) -> None:
    admin = server.cli("token", "create", "--role", "admin")
    server.start()
    # A new expert with no shift pattern: the demo rota must not decide, by the time of day the
    # suite runs, whether they may take offers.
    status, org = server.call("GET", "/api/v1/organisations?limit=1", admin)
    assert status == 200 and org["items"], org
    status, created = server.call("POST", "/api/v1/experts", admin, {
        "id": "kill-desk", "name": "Night Desk", "organisation": org["items"][0]["id"],
        "skills": {"dementia": 5}, "languages": ["en"]})
    assert status == 201, created
    expert = server.cli("token", "create", "--role", "expert", "--expert", "kill-desk")

    made = []
    for n in range(5):
        status, contact = server.call("POST", "/api/v1/contacts", admin,
                                      {"skill": "dementia", "external_ref": f"kill-{n}"})
        assert status == 201, contact
        made.append(contact["id"])
    status, desk = server.call("PUT", "/api/v1/me/status", expert, {"status": "available"})
    assert status == 200 and desk["state"] == "offered", desk
    [offer] = desk["offers"]
    before = server.call("GET", "/api/v1/contacts?state=queued,offered&limit=10", admin)[1]["items"]

    server.kill()
    server.start()

    after = server.call("GET", "/api/v1/contacts?state=queued,offered&limit=10", admin)[1]["items"]
    assert [(c["id"], c["seq"], c["state"]) for c in after] == [
        (c["id"], c["seq"], c["state"]) for c in before]
    assert sorted(c["id"] for c in after) == sorted(made)
    status, desk = server.call("GET", "/api/v1/me", expert)
    assert desk["presence"] == "offline"  # experts reconnect before they get offers
    assert [o["id"] for o in desk["offers"]] == [offer["id"]]
    status, desk = server.call("PUT", "/api/v1/me/status", expert, {"status": "available"})
    assert [o["id"] for o in desk["offers"]] == [offer["id"]]  # the same offer, not a new one
    detail = server.call("GET", f"/api/v1/contacts/{offer['contact']['id']}", admin)[1]
    assert [o["id"] for o in detail["offers"]] == [offer["id"]]
    status, accepted = server.call("POST", f"/api/v1/me/offers/{offer['id']}/accept", expert)
    assert status == 200 and accepted["status"] == "accepted"


def test_stop_is_remembered_across_a_crash(server: Server) -> None:
    """Issue 13, item 7: opt-outs lived in memory, so after a restart a number that had sent
    STOP got a new contact and a reply."""
    admin = server.cli("token", "create", "--role", "admin")
    server.start()
    number = "+447700900555"
    status, reply = server.text("SM" + "1" * 32, number, "STOP")
    assert status == 200 and "<Message>" not in reply
    server.kill()
    server.start()
    status, reply = server.text("SM" + "2" * 32, number, "my dad has dementia, can I talk?")
    assert status == 200 and "<Message>" not in reply  # silence: they opted out
    found = server.call("GET", "/api/v1/contacts?limit=50", admin)[1]["items"]
    assert [c for c in found if c["medium"] == "sms"] == []
    status, reply = server.text("SM" + "3" * 32, number, "START")
    status, reply = server.text("SM" + "4" * 32, number, "my dad has dementia, can I talk?")
    assert "<Message>" in reply
    found = server.call("GET", "/api/v1/contacts?limit=50", admin)[1]["items"]
    assert len([c for c in found if c["medium"] == "sms"]) == 1


async def test_web_chats_cut_off_by_a_crash_are_kept_for_their_window_and_no_longer(
        server: Server) -> None:
    """Issue 13, item 2: 100 web chats open at kill -9 were queued again after the restart,
    with no socket behind any of them, and experts spent minutes on citizens who had gone.
    Issue 14: but a citizen whose page is reconnecting must not lose their chat to a restart.
    So a chat whose resume token has not expired is kept for the rest of its window and can be
    taken back with its transcript; one whose token has expired (here: as if the crash had been
    long ago) is closed on start and never offered."""
    admin = server.cli("token", "create", "--role", "admin")
    server.start()
    status, org = server.call("GET", "/api/v1/organisations?limit=1", admin)
    status, _ = server.call("POST", "/api/v1/experts", admin, {
        "id": "chat-desk", "name": "Chat Desk", "organisation": org["items"][0]["id"],
        "skills": {"dementia": 5}, "languages": ["en"]})
    assert status == 201
    expert = server.cli("token", "create", "--role", "expert", "--expert", "chat-desk")
    async with aiohttp.ClientSession() as http:
        sockets = [await http.ws_connect(f"http://127.0.0.1:{server.port}/ws/chat")
                   for _ in range(5)]
        chats = []
        for ws in sockets:
            await ws.send_json({"type": "hello", "text": "my mum has dementia"})
            queued = await ws.receive_json(timeout=10)
            assert queued["type"] == "queued"
            chats.append((queued["contact_id"], queued["resume_token"]))
        ids = [cid for cid, _ in chats]
        status, desk = server.call("PUT", "/api/v1/me/status", expert, {"status": "available"})
        offer = next(o for o in desk["offers"] if o["contact"]["id"] in ids)
        status, _ = server.call("POST", f"/api/v1/me/offers/{offer['id']}/accept", expert)
        assert status == 200
        connected = offer["contact"]["id"]
        waiting = [cid for cid in ids if cid != connected]
        kept, gone = waiting[:2], [*waiting[2:], connected]
        first = sockets[ids.index(kept[0])]
        await first.send_json({"type": "message", "text": "hello?"})
        await first.send_json({"type": "position"})  # answered once "hello?" is stored
        while (await first.receive_json(timeout=10))["type"] != "position":
            pass
        server.kill()  # the sockets die with it
        for ws in sockets:
            await ws.close()
    expire_tokens(server, gone)  # these citizens were gone longer than the window
    server.start()

    states = {c["id"]: c["state"] for c in server.call(
        "GET", "/api/v1/contacts?limit=100", admin)[1]["items"] if c["id"] in ids}
    assert sorted(states[cid] for cid in gone) == ["abandoned", "abandoned", "wrapup"]
    assert all(states[cid] in ("queued", "offered") for cid in kept), states
    status, desk = server.call("PUT", "/api/v1/me/status", expert, {"status": "available"})
    assert {o["contact"]["id"] for o in desk["offers"]} <= set(kept)  # never a closed one

    token = dict(chats)[kept[0]]
    async with aiohttp.ClientSession() as http, \
            http.ws_connect(f"http://127.0.0.1:{server.port}/ws/chat") as ws:
        await ws.send_json({"type": "resume", "token": token})
        resumed = await ws.receive_json(timeout=10)
        assert (resumed["type"], resumed["contact_id"]) == ("resumed", kept[0]), resumed
        transcript = await ws.receive_json(timeout=10)
        assert [(x["from"], x["text"]) for x in transcript["lines"]] == [
            ("you", "my mum has dementia"), ("you", "hello?")]
        assert (await ws.receive_json(timeout=10))["type"] in ("position", "connected")
        await ws.send_json({"type": "resume", "token": dict(chats)[gone[0]]})
        refused = await ws.receive_json(timeout=10)
        assert refused["code"] == "already_started"
    async with aiohttp.ClientSession() as http, \
            http.ws_connect(f"http://127.0.0.1:{server.port}/ws/chat") as ws:
        await ws.send_json({"type": "resume", "token": dict(chats)[gone[0]]})
        assert (await ws.receive_json(timeout=10))["code"] == "resume_expired"


def expire_tokens(server: Server, contact_ids: list[str]) -> None:
    """While the server is down: these chats' resume tokens expired minutes ago."""
    [database] = server.data_dir.glob("*.db")
    with closing(sqlite3.connect(database)) as db, db:
        marks = ",".join("?" * len(contact_ids))
        changed = db.execute(f"UPDATE chat_resume SET expires_at = ? "
                             f"WHERE contact_id IN ({marks})",
                             [time.time() - 300, *contact_ids]).rowcount
    assert changed == len(contact_ids)
