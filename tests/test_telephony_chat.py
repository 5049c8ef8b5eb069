"""Web chat end to end over real WebSockets on a real server (loopback telephony, the routing
double, a real database for the resume tokens). Time is the manual scheduler's: resume windows
and position checks run when the test moves it on, never by sleeping."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType
from aiohttp.test_utils import TestClient

from base.config import Config, ConfigError, load_config
from router.ports import Channel, ContactState, ExpertEndpoint, Medium, ShownExpert
from telephony import prompts
from telephony.chat_hub import ChatHub, WebChat
from telephony.service import TELEPHONY, Telephony
from tests.telephony_support import (
    FakeRouting,
    ManualScheduler,
    eventually,
    telephony_app,
    telephony_config,
)

ClientMaker = Callable[..., Awaitable[TestClient]]
NURSE = ExpertEndpoint("nurse-1", phone="+447700900001")
ANN = ShownExpert("Ann", "Dementia nurse", "NHS Alpha")
WINDOW, EVERY = 120.0, 5.0
SAFETY = "If someone is in immediate danger, call 999 now; for urgent medical help, call NHS 111."


@pytest.fixture
def routing() -> FakeRouting:
    return FakeRouting()


@pytest.fixture
def scheduler() -> ManualScheduler:
    return ManualScheduler()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return telephony_config(tmp_path, twilio=False)


@pytest.fixture
async def tclient(aiohttp_client: ClientMaker, config: Config, routing: FakeRouting,
                  scheduler: ManualScheduler) -> TestClient:
    return await aiohttp_client(telephony_app(config, routing, schedule=scheduler))


@pytest.fixture
def tel(tclient: TestClient) -> Telephony:
    return tclient.app[TELEPHONY]


async def ask(ws: ClientWebSocketResponse, frame: dict[str, Any]) -> dict[str, Any]:
    await ws.send_json(frame)
    return await ws.receive_json(timeout=5)


async def drop(tel: Telephony, ws: ClientWebSocketResponse, cid: str) -> None:
    """The page reloads or the signal goes: the socket closes without ``end``."""
    await ws.close()
    chat = tel.chats.get(cid)
    assert chat is not None
    await eventually(lambda: chat.ws is None)


async def say(ws: ClientWebSocketResponse, routing: FakeRouting, text: str) -> None:
    """The citizen writes, and the expert's side has it."""
    await ws.send_json({"type": "message", "text": text})
    await eventually(lambda: bool(routing.relayed) and routing.relayed[-1][1] == text)


async def start(tclient: TestClient, text: str = "my mum has dementia",
                language: str = "en") -> tuple[ClientWebSocketResponse, dict[str, Any]]:
    ws = await tclient.ws_connect("/ws/chat")
    queued = await ask(ws, {"type": "hello", "text": text, "language": language})
    assert queued["type"] == "queued", queued
    return ws, queued


async def resume(tclient: TestClient, token: str,
                 **extra: str) -> tuple[ClientWebSocketResponse, list[dict[str, Any]]]:
    """A fresh socket takes the chat back: the resumed frame, the transcript, the state."""
    ws = await tclient.ws_connect("/ws/chat")
    first = await ask(ws, {"type": "resume", "token": token, **extra})
    if first["type"] != "resumed":
        return ws, [first]
    return ws, [first, await ws.receive_json(timeout=5), await ws.receive_json(timeout=5)]


# -- a chat from hello to the end ----------------------------------------------------------------
async def test_chat_from_hello_to_the_end(tclient: TestClient, routing: FakeRouting,
                                          tel: Telephony) -> None:
    ws, queued = await start(tclient)
    cid = queued["contact_id"]
    assert queued["skill"] == "dementia" and queued["state"] == "queued"
    assert queued["position"] == 1 and queued["estimated_wait_s"] == 90.0
    assert queued["text"] == (SAFETY + " Thank you. We are finding you an expert in dementia. "
                              "You are next in the queue. Your expected wait is about 2 minutes.")
    assert len(queued["resume_token"]) >= 40 and queued["resume_window_s"] == WINDOW
    request = routing.contacts[cid].request
    assert (request.channel, request.medium, request.language) == (Channel.CHAT, Medium.WEB,
                                                                    "en")

    await routing.assign(cid, NURSE, shown=ANN)
    await tel.idle()
    assert (await ws.receive_json(timeout=5))["type"] == "connected"
    await ws.send_json({"type": "message", "text": "she keeps getting lost"})
    await routing.expert_says(cid, "Is she safe right now?")
    await tel.idle()
    assert await ws.receive_json(timeout=5) == {"type": "message", "from": "expert",
                                                "text": "Is she safe right now?"}
    assert routing.relayed == [(cid, "she keeps getting lost")]

    assert await ask(ws, {"type": "end"}) == {"type": "ended", "by": "citizen",
                                              "text": "Thank you. This chat has ended."}
    assert (await ws.receive(timeout=5)).type is WSMsgType.CLOSE
    assert routing.state(cid) is ContactState.WRAPUP
    # an explicit end deletes the token: it cannot take the chat back
    again, [refused] = await resume(tclient, queued["resume_token"])
    assert refused["code"] == "resume_unknown"
    await again.close()


async def test_connected_shows_only_what_the_expert_agreed_to_show(
        tclient: TestClient, routing: FakeRouting, tel: Telephony) -> None:
    ws, queued = await start(tclient)
    await routing.assign(queued["contact_id"], NURSE, shown=ANN)
    await tel.idle()
    assert await ws.receive_json(timeout=5) == {
        "type": "connected",
        "expert": {"name": "Ann", "role": "Dementia nurse", "organisation": "NHS Alpha"},
        "text": "You are now chatting with Ann (Dementia nurse, NHS Alpha)."}
    other, queued = await start(tclient, "I'm a carer", language="cy")
    await routing.assign(queued["contact_id"], ExpertEndpoint("e-2", phone="+447700900002"))
    await tel.idle()
    connected = await other.receive_json(timeout=5)
    assert connected == {"type": "connected",
                         "expert": {"name": "", "role": "", "organisation": ""},
                         "text": "Rydych chi wedi'ch cysylltu ag arbenigwr."}
    await ws.close()
    await other.close()


# -- resume ----------------------------------------------------------------------------------
async def test_reload_and_resume_continues_the_chat_with_its_transcript(
        tclient: TestClient, routing: FakeRouting, tel: Telephony,
        scheduler: ManualScheduler) -> None:
    ws, queued = await start(tclient)
    cid, token = queued["contact_id"], queued["resume_token"]
    await say(ws, routing, "she keeps getting lost")
    await routing.assign(cid, NURSE, shown=ANN)
    await routing.expert_says(cid, "Is she safe right now?")
    await tel.idle()
    assert [(await ws.receive_json(timeout=5))["type"] for _ in range(2)] == ["connected",
                                                                               "message"]
    await drop(tel, ws, cid)
    await routing.expert_says(cid, "Are you still there?")  # while the page reloads
    await tel.idle()
    await scheduler.advance(30)

    again, [resumed, transcript, state] = await resume(tclient, token)
    assert resumed == {"type": "resumed", "contact_id": cid, "skill": "dementia",
                       "language": "en", "resume_window_s": WINDOW,
                       "text": "Welcome back. Your chat carries on from where it was."}
    assert transcript["type"] == "transcript"
    assert [(x["from"], x["text"]) for x in transcript["lines"]] == [
        ("you", "my mum has dementia"), ("you", "she keeps getting lost"),
        ("expert", "Is she safe right now?"), ("expert", "Are you still there?")]
    assert all(isinstance(x["at"], float) for x in transcript["lines"])
    assert state == {"type": "connected", "expert": {"name": "Ann", "role": "Dementia nurse",
                                                     "organisation": "NHS Alpha"},
                     "text": "You are now chatting with Ann (Dementia nurse, NHS Alpha)."}

    await say(again, routing, "yes, sorry, the page went blank")
    await routing.expert_says(cid, "No problem.")
    await tel.idle()
    assert (await again.receive_json(timeout=5))["text"] == "No problem."
    assert routing.relayed[-1] == (cid, "yes, sorry, the page went blank")
    # the resumed chat is not closed when the first drop's window ends
    await scheduler.advance(WINDOW)
    assert routing.state(cid) is ContactState.CONNECTED
    assert not again.closed
    await again.close()


async def test_a_drop_not_resumed_within_the_window_abandons_the_chat(
        tclient: TestClient, routing: FakeRouting, tel: Telephony,
        scheduler: ManualScheduler) -> None:
    ws, queued = await start(tclient, "we have been evicted", language="cy")
    cid = queued["contact_id"]
    assert routing.contacts[cid].request.language == "cy"
    await drop(tel, ws, cid)
    await scheduler.advance(WINDOW - 1)
    assert routing.state(cid) is ContactState.QUEUED  # still waiting for its citizen
    await scheduler.advance(1)
    assert routing.state(cid) is ContactState.ABANDONED
    assert "not taken back within 120 s" in routing.contacts[cid].reasons[-1]
    assert tel.chats.get(cid) is None


async def test_a_connected_chat_not_resumed_is_ended_as_the_citizen_leaving(
        tclient: TestClient, routing: FakeRouting, tel: Telephony,
        scheduler: ManualScheduler) -> None:
    ws, queued = await start(tclient)
    cid = queued["contact_id"]
    await routing.assign(cid, NURSE)
    await tel.idle()
    await drop(tel, ws, cid)
    await scheduler.advance(WINDOW)
    assert routing.state(cid) is ContactState.WRAPUP
    assert routing.contacts[cid].reasons[-1] == "ended by citizen"


async def test_a_resumed_chat_is_not_abandoned_and_a_second_drop_gets_its_own_window(
        tclient: TestClient, routing: FakeRouting, tel: Telephony,
        scheduler: ManualScheduler) -> None:
    ws, queued = await start(tclient)
    cid, token = queued["contact_id"], queued["resume_token"]
    await drop(tel, ws, cid)
    await scheduler.advance(100)
    again, [resumed, transcript, state] = await resume(tclient, token)
    assert resumed["type"] == "resumed"
    assert [x["text"] for x in transcript["lines"]] == ["my mum has dementia"]
    assert state == {"type": "position", "state": "queued", "position": 1,
                     "estimated_wait_s": 90.0, "experts_on_duty": None,
                     "text": "You are next in the queue. Your expected wait is about 2 "
                             "minutes."}
    await scheduler.advance(WINDOW)  # the first drop's window has long passed
    assert routing.state(cid) is ContactState.QUEUED
    await drop(tel, again, cid)
    await scheduler.advance(WINDOW - 1)
    assert routing.state(cid) is ContactState.QUEUED
    await scheduler.advance(1)
    assert routing.state(cid) is ContactState.ABANDONED


async def test_an_expired_token_is_refused_in_welsh_for_a_welsh_chat(
        tclient: TestClient, routing: FakeRouting, tel: Telephony,
        scheduler: ManualScheduler) -> None:
    ws, queued = await start(tclient, "mae fy mam yn anghofio pethau", language="cy")
    cid, token = queued["contact_id"], queued["resume_token"]
    await drop(tel, ws, cid)
    await scheduler.advance(WINDOW + 5)
    assert routing.state(cid) is ContactState.ABANDONED
    again, [refused] = await resume(tclient, token)  # the page does not say its language
    assert refused == {"type": "error", "code": "resume_expired",
                       "message": prompts.text("cy", "webchat_resume_expired")}
    assert refused["message"].startswith("Mae'n ddrwg gen i, mae'r sgwrs hon wedi cau")
    # and a fresh chat can start on the same socket
    assert (await ask(again, {"type": "hello", "text": "help", "language": "cy"}))["type"] \
        == "queued"
    await again.close()


async def test_an_expired_token_is_forgotten_after_a_day(
        tclient: TestClient, tel: Telephony, scheduler: ManualScheduler) -> None:
    ws, queued = await start(tclient)
    await drop(tel, ws, queued["contact_id"])
    await scheduler.advance(WINDOW)
    await scheduler.advance(86_400 + 3_600)
    other, _ = await start(tclient, "I'm a carer")
    await ask(other, {"type": "end"})  # closing a chat clears out day-old tokens
    again, [refused] = await resume(tclient, queued["resume_token"])
    assert refused["code"] == "resume_unknown"
    await again.close()


async def test_unknown_and_ended_tokens_are_refused_clearly(
        tclient: TestClient, routing: FakeRouting, tel: Telephony) -> None:
    ws, [refused] = await resume(tclient, "x" * 43, language="cy")
    assert refused == {"type": "error", "code": "resume_unknown",
                       "message": prompts.text("cy", "webchat_resume_unknown")}
    assert (await ask(ws, {"type": "resume", "token": 12}))["code"] == "resume_unknown"
    await ws.close()

    chat, queued = await start(tclient)
    cid = queued["contact_id"]
    await routing.assign(cid, NURSE)
    await routing.complete(cid)  # the expert ended it
    await tel.idle()
    assert [(await chat.receive_json(timeout=5))["type"] for _ in range(2)] == ["connected",
                                                                                 "ended"]
    again, [refused] = await resume(tclient, queued["resume_token"])
    assert refused == {"type": "error", "code": "resume_ended",
                       "message": "This chat has ended. Please start a new chat if you still "
                                  "need help."}
    await again.close()


async def test_resuming_in_a_second_window_closes_the_first(
        tclient: TestClient, routing: FakeRouting, tel: Telephony,
        scheduler: ManualScheduler) -> None:
    first, queued = await start(tclient)
    cid = queued["contact_id"]
    second, [resumed, _, _] = await resume(tclient, queued["resume_token"])
    assert resumed["type"] == "resumed"
    assert await first.receive_json(timeout=5) == {
        "type": "system", "text": "This chat has been opened in another window, so it carries "
                                  "on there."}
    closing = await first.receive(timeout=5)
    assert (closing.type, closing.data) == (WSMsgType.CLOSE, 4001)
    await tel.idle()
    await scheduler.advance(WINDOW * 2)  # the first socket's going starts no window
    assert routing.state(cid) is ContactState.QUEUED
    await routing.expert_says(cid, "Hello?")
    await tel.idle()
    assert (await second.receive_json(timeout=5))["text"] == "Hello?"
    await second.close()


async def test_messages_said_while_the_socket_was_being_attached_come_once() -> None:
    """``ChatHub.release``: what the expert said during a resume is sent once, whether it
    reached the transcript the socket was given or not."""
    sent: list[dict[str, Any]] = []

    class Socket:
        closed = False

        async def send_json(self, frame: dict[str, Any]) -> None:
            sent.append(frame)

    hub = ChatHub()
    chat = hub.open("c1", ref="web:x", lang="en")
    chat.ws, chat.held = Socket(), []  # type: ignore[assignment]
    for text in ("in the transcript", "after it"):
        await hub.send(chat, {"type": "message", "from": "expert", "text": text})
    await hub.send(chat, {"type": "connected", "expert": {}, "text": ""})
    await hub.release(chat, expert_lines=["earlier", "in the transcript"],
                      connected_sent=True)
    assert [f["text"] for f in sent] == ["after it"]
    assert chat.held is None and isinstance(chat, WebChat)


# -- the place in the queue ------------------------------------------------------------------
async def test_the_place_is_pushed_when_someone_ahead_leaves(
        tclient: TestClient, routing: FakeRouting, tel: Telephony,
        scheduler: ManualScheduler) -> None:
    ahead, first = await start(tclient)
    ws, queued = await start(tclient, "I'm a carer")
    assert (queued["position"], queued["estimated_wait_s"]) == (2, 180.0)
    await scheduler.advance(EVERY * 3)  # nothing changed: nothing pushed
    assert await ask(ahead, {"type": "end"}) == {"type": "ended", "by": "citizen",
                                                 "text": "Thank you. This chat has ended."}
    await scheduler.advance(EVERY)
    assert await ws.receive_json(timeout=5) == {
        "type": "position", "state": "queued", "position": 1, "estimated_wait_s": 90.0,
        "experts_on_duty": None,
        "text": "You are next in the queue. Your expected wait is about 2 minutes."}
    # once an expert has the chat, no more places
    await routing.assign(queued["contact_id"], NURSE)
    await tel.idle()
    assert (await ws.receive_json(timeout=5))["type"] == "connected"
    routing.seconds_per_place = 30.0
    await scheduler.advance(EVERY * 4)
    await ws.send_json({"type": "message", "text": "hello?"})
    await routing.expert_says(queued["contact_id"], "Hello, I'm here.")
    await tel.idle()
    assert (await ws.receive_json(timeout=5))["type"] == "message"  # no position before it
    await ws.close()
    assert first["position"] == 1


async def test_asked_for_the_place_it_is_told(tclient: TestClient) -> None:
    ws, _ = await start(tclient)
    reply = await ask(ws, {"type": "position"})
    assert (reply["type"], reply["position"], reply["text"]) == (
        "position", 1, "You are next in the queue. Your expected wait is about 2 minutes.")
    await ws.close()


async def test_nobody_on_duty_is_said_plainly_in_english_and_welsh(
        tclient: TestClient, routing: FakeRouting, scheduler: ManualScheduler) -> None:
    routing.on_duty, routing.seconds_per_place = 0, None
    english, queued = await start(tclient)
    assert queued["experts_on_duty"] == 0
    assert queued["text"] == SAFETY + " " + (
        "Thank you. We are finding you an expert in dementia. You are next in the queue. "
        "Nobody is on duty just now. Your chat keeps its place and will be answered when "
        "someone comes on duty. If someone is in danger, call 999.")
    welsh, queued = await start(tclient, "mae fy nhad yn anghofio", language="cy")
    assert queued["text"].endswith(
        "Does neb ar ddyletswydd ar hyn o bryd. Bydd eich sgwrs yn cadw ei lle a chaiff ei "
        "hateb pan ddaw rhywun ar ddyletswydd. Os oes rhywun mewn perygl, ffoniwch 999.")
    assert "call" not in queued["text"].lower()
    routing.on_duty, routing.seconds_per_place = 2, 90.0  # someone comes on duty
    await scheduler.advance(EVERY)
    pushed = await english.receive_json(timeout=5)
    assert (pushed["experts_on_duty"], pushed["text"]) == (
        2, "You are next in the queue. Your expected wait is about 2 minutes.")
    assert (await welsh.receive_json(timeout=5))["text"] == (
        "Rydych chi'n rhif 2 yn y ciw. Mae'r amser aros tua 3 munud.")
    await english.close()
    await welsh.close()


# -- language --------------------------------------------------------------------------------
async def test_the_language_can_change_and_later_lines_follow_it(
        tclient: TestClient, routing: FakeRouting, tel: Telephony,
        scheduler: ManualScheduler) -> None:
    ahead, _ = await start(tclient)
    ws, queued = await start(tclient)
    assert await ask(ws, {"type": "language", "language": "cy"}) == {
        "type": "language", "language": "cy",
        "text": "Byddwn yn ysgrifennu atoch yn Gymraeg o hyn ymlaen."}
    assert (await ask(ws, {"type": "message", "text": " "}))["message"] == \
        "Ysgrifennwch neges yn gyntaf, os gwelwch yn dda."
    await ask(ahead, {"type": "end"})
    await scheduler.advance(EVERY)
    assert (await ws.receive_json(timeout=5))["text"] == (
        "Chi sydd nesaf yn y ciw. Mae'r amser aros tua 2 munud.")
    await routing.assign(queued["contact_id"], NURSE, shown=ANN)
    await routing.complete(queued["contact_id"])
    await tel.idle()
    assert (await ws.receive_json(timeout=5))["text"] == (
        "Rydych chi wedi'ch cysylltu. Eich arbenigwr yw Ann (Dementia nurse, NHS Alpha).")
    assert await ws.receive_json(timeout=5) == {
        "type": "ended", "by": "expert",
        "text": "Mae'r arbenigwr wedi dod â'r sgwrs hon i ben. Os oes angen rhagor o help "
                "arnoch, gallwch ddechrau sgwrs newydd."}
    async with tclient.ws_connect("/ws/chat") as other:
        refused = await ask(other, {"type": "language", "language": "fr"})
        assert (refused["code"], refused["message"]) == (
            "invalid", "Please choose English (en) or Welsh (cy).")


@pytest.mark.parametrize(("frame", "code", "message"), [
    ("not json", "invalid", "Sorry, we could not read that: send JSON objects."),
    ([1, 2], "invalid", "send JSON objects"),
    ({"type": "message", "text": "hi"}, "not_started", "Please tell us what you need first"),
    ({"type": "position"}, "not_started", "Please tell us what you need first"),
    ({"type": "hello", "text": "   "}, "invalid", "Please write a message first."),
    ({"type": "hello", "text": "x" * 2001}, "invalid", "keep it under 2000 characters"),
    ({"type": "hello", "text": "help", "language": "fr"}, "invalid",
     "Please choose English (en) or Welsh (cy)."),
    ({"type": "hello", "text": " ", "language": "cy"}, "invalid", "Ysgrifennwch neges"),
    ({"type": "dance"}, "invalid", "The type must be hello, resume, message"),
])
async def test_mistakes_are_told_and_the_chat_goes_on(tclient: TestClient, routing: FakeRouting,
                                                      frame: Any, code: str,
                                                      message: str) -> None:
    async with tclient.ws_connect("/ws/chat") as ws:
        if isinstance(frame, str):
            await ws.send_str(frame)
            reply = await ws.receive_json(timeout=5)
        else:
            reply = await ask(ws, frame)
        assert (reply["type"], reply["code"]) == ("error", code)
        assert message in reply["message"]
        await ws.send_bytes(b"\x00")
        assert (await ws.receive_json(timeout=5))["code"] == "invalid"
        assert (await ask(ws, {"type": "hello", "text": "help"}))["type"] == "queued"
        again = await ask(ws, {"type": "hello", "text": "help"})
        assert again == {"type": "error", "code": "already_started",
                         "message": "This chat has already started."}
        assert (await ask(ws, {"type": "resume", "token": "y" * 43}))["code"] == \
            "already_started"
        await ask(ws, {"type": "end"})
    assert len(routing.contacts) == 1


async def test_every_line_for_the_citizen_is_in_welsh_too() -> None:
    english, welsh = prompts._TEXTS["en"], prompts._TEXTS["cy"]
    chat_keys = {k for k in english if k.startswith("webchat_")}
    assert len(chat_keys) >= 20 and chat_keys <= set(welsh)
    for key in chat_keys:
        assert "call " not in english[key].replace("call 999", ""), key
        assert welsh[key] and welsh[key] != english[key], key


# -- a restart -------------------------------------------------------------------------------
def crash(tel: Telephony) -> None:
    """The process dies: it hears nothing more and does nothing more."""
    tel.chats.closing = True
    if tel._unsubscribe is not None:
        tel._unsubscribe()
        tel._unsubscribe = None


async def test_a_restart_keeps_a_chat_inside_its_window_and_closes_the_rest(
        aiohttp_client: ClientMaker, config: Config, routing: FakeRouting,
        tclient: TestClient, tel: Telephony, scheduler: ManualScheduler) -> None:
    kept_ws, kept = await start(tclient)
    late_ws, late = await start(tclient, "I'm a carer")
    await routing.assign(late["contact_id"], NURSE)
    await tel.idle()
    await say(kept_ws, routing, "are you there?")
    await drop(tel, late_ws, late["contact_id"])
    await scheduler.advance(100)  # kept: refreshed while its socket is there; late: not
    lingering_ws, lingering = await start(tclient, "we have been evicted")
    crash(tel)
    # the new process starts 30 s later, on the same database and routing engine
    after = ManualScheduler(start=scheduler.now + 30)
    restarted = await aiohttp_client(telephony_app(config, routing, schedule=after))
    tel2 = restarted.app[TELEPHONY]
    assert routing.state(late["contact_id"]) is ContactState.WRAPUP  # its window had passed
    assert routing.state(kept["contact_id"]) is ContactState.QUEUED
    assert routing.state(lingering["contact_id"]) is ContactState.QUEUED

    ws, [resumed, transcript, state] = await resume(restarted, kept["resume_token"])
    assert resumed["contact_id"] == kept["contact_id"]
    assert [x["text"] for x in transcript["lines"]] == ["my mum has dementia",
                                                        "are you there?"]
    assert (state["type"], state["position"]) == ("position", 1)
    refused_ws, [refused] = await resume(restarted, late["resume_token"])
    assert refused["code"] == "resume_expired"
    await after.advance(WINDOW)
    assert routing.state(kept["contact_id"]) is ContactState.QUEUED  # resumed
    assert routing.state(lingering["contact_id"]) is ContactState.ABANDONED  # never came back
    assert tel2.chats.get(lingering["contact_id"]) is None
    for socket in (ws, refused_ws, kept_ws, lingering_ws):
        await socket.close()


async def test_the_page_is_served(tclient: TestClient) -> None:
    resp = await tclient.get("/chat")
    assert resp.status == 200 and resp.content_type == "text/html"
    assert "/ws/chat" in await resp.text()


@pytest.mark.parametrize("key", ["resume_window_s", "position_every_s"])
def test_the_chat_timings_must_be_positive(tmp_path: Path, key: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f"[chat]\n{key} = 0\n")
    with pytest.raises(ConfigError, match=f"chat.{key}: must be positive"):
        load_config(path, {})
    assert load_config(None, {}).chat.resume_window_s == WINDOW
