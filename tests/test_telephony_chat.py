"""Web chat end to end over a real WebSocket on a real server (loopback telephony)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType
from aiohttp.test_utils import TestClient

from router.ports import Channel, ContactState, ExpertEndpoint, Medium
from telephony.service import TELEPHONY, Telephony
from tests.telephony_support import FakeRouting, telephony_app, telephony_config

ClientMaker = Callable[..., Awaitable[TestClient]]
NURSE = ExpertEndpoint("nurse-1")


@pytest.fixture
def routing() -> FakeRouting:
    return FakeRouting()


@pytest.fixture
async def tclient(aiohttp_client: ClientMaker, tmp_path: Path,
                  routing: FakeRouting) -> TestClient:
    return await aiohttp_client(telephony_app(telephony_config(tmp_path, twilio=False), routing))


@pytest.fixture
def tel(tclient: TestClient) -> Telephony:
    return tclient.app[TELEPHONY]


async def ask(ws: ClientWebSocketResponse, frame: dict[str, Any]) -> dict[str, Any]:
    await ws.send_json(frame)
    return await ws.receive_json(timeout=5)


async def test_chat_from_hello_to_the_end(tclient: TestClient, routing: FakeRouting,
                                          tel: Telephony) -> None:
    async with tclient.ws_connect("/ws/chat") as ws:
        queued = await ask(ws, {"type": "hello", "text": "my mum has dementia"})
        cid = queued["contact_id"]
        assert queued["type"] == "queued" and queued["skill"] == "dementia"
        assert queued["position"] == 1 and queued["estimated_wait_s"] == 90.0
        assert "expert in dementia" in queued["said"]
        request = routing.contacts[cid].request
        assert (request.channel, request.medium, request.language) == (Channel.CHAT,
                                                                        Medium.WEB, "en")

        await routing.assign(cid, NURSE)
        await tel.idle()
        assert await ws.receive_json(timeout=5) == {"type": "connected", "skill": "dementia"}
        await ws.send_json({"type": "message", "text": "she keeps getting lost"})
        await routing.expert_says(cid, "Is she safe right now?")
        await tel.idle()
        assert await ws.receive_json(timeout=5) == {"type": "message", "from": "expert",
                                                    "text": "Is she safe right now?"}
        assert routing.relayed == [(cid, "she keeps getting lost")]

        assert await ask(ws, {"type": "end"}) == {"type": "ended", "by": "citizen"}
        assert (await ws.receive(timeout=5)).type is WSMsgType.CLOSE
    assert routing.state(cid) is ContactState.WRAPUP


async def test_closing_the_page_while_waiting_abandons(tclient: TestClient,
                                                       routing: FakeRouting) -> None:
    async with tclient.ws_connect("/ws/chat") as ws:
        cid = (await ask(ws, {"type": "hello", "text": "we have been evicted",
                              "language": "cy"}))["contact_id"]
        assert routing.contacts[cid].request.language == "cy"
        assert (await ask(ws, {"type": "position"}))["position"] == 1
    for _ in range(50):  # the server notices the close on its own schedule
        if routing.state(cid) is ContactState.ABANDONED:
            break
        await tclient.get("/chat")
    assert routing.state(cid) is ContactState.ABANDONED


async def test_the_expert_ends_the_chat(tclient: TestClient, routing: FakeRouting,
                                        tel: Telephony) -> None:
    async with tclient.ws_connect("/ws/chat") as ws:
        cid = (await ask(ws, {"type": "hello", "text": "I'm a carer"}))["contact_id"]
        await routing.assign(cid, NURSE)
        await routing.complete(cid)
        await tel.idle()
        assert await ws.receive_json(timeout=5) == {"type": "connected",
                                                    "skill": "carers-support"}
        assert await ws.receive_json(timeout=5) == {"type": "ended", "by": "expert"}


@pytest.mark.parametrize(("frame", "message"), [
    ("not json", "send JSON objects"),
    ([1, 2], "send JSON objects"),
    ({"type": "message", "text": "hi"}, "say hello first"),
    ({"type": "position"}, "say hello first"),
    ({"type": "hello", "text": "   "}, "text must be a non-empty string"),
    ({"type": "hello", "text": "x" * 2001}, "longer than 2000"),
    ({"type": "hello", "text": "help", "language": "fr"}, "language must be en or cy"),
    ({"type": "dance"}, "type must be"),
])
async def test_mistakes_are_told_and_the_chat_goes_on(tclient: TestClient, routing: FakeRouting,
                                                      frame: Any, message: str) -> None:
    async with tclient.ws_connect("/ws/chat") as ws:
        if isinstance(frame, str):
            await ws.send_str(frame)
            reply = await ws.receive_json(timeout=5)
        else:
            reply = await ask(ws, frame)
        assert reply["type"] == "error" and message in reply["message"]
        assert (await ask(ws, {"type": "hello", "text": "help"}))["type"] == "queued"
        again = await ask(ws, {"type": "hello", "text": "help"})
        assert again == {"type": "error", "message": "this chat has already started"}
    assert len(routing.contacts) == 1


async def test_the_page_is_served(tclient: TestClient) -> None:
    resp = await tclient.get("/chat")
    assert resp.status == 200 and resp.content_type == "text/html"
    assert "/ws/chat" in await resp.text()
