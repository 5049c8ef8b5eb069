"""The channels on the REAL application: ``create_app`` with the real routing engine on a real
database (SQLite, and PostgreSQL when reachable), the real twilio library for TwiML and
signatures; only Twilio's REST API is faked (``tests.twilio_fake``).

The test plays Twilio (signed webhooks; it follows the TwiML it gets back: Gather action,
Enqueue waitUrl and action, Redirect, Dial action) and the experts play their desks through the
HTTP API with expert tokens. Scenarios: speech triage -> queue -> accept -> bridged -> hang-up ->
wrap-up -> completed; expert no-answer -> back in place -> next expert; caller abandons in the
queue; callback requested with * and served (expert first, then citizen); an SMS conversation
relayed both ways; a bad signature refused with nothing created. Then more of issue 4's list:
a hang-up during an offer, a Welsh caller, duplicate webhooks, the desk ending a call or an SMS
chat, callback retries ending in failure, and web chat over both WebSockets. No sleeps: Twilio's
callbacks are posted when the test says, and callback retries run on a manual scheduler.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp.test_utils import TestClient
from sqlmodel import select

from base.config import Config
from expertline.app import DATABASE, create_app
from router.context import engine_of
from skills.watch import EVERYTHING
from telephony.service import TELEPHONY, Telephony
from telephony.tables import CallBridgeRow
from tests.conftest import TokenFactory
from tests.engine_support import EXPERTS, seed_pool
from tests.telephony_support import (
    ACCOUNT,
    AUTH_TOKEN,
    NUMBER,
    PUBLIC_URL,
    ManualScheduler,
    PhoneCall,
    TwilioPlayer,
    spoken,
    telephony_config,
)
from tests.twilio_fake import FakeCall, TwilioFake

ANN_PHONE, BOB_PHONE = EXPERTS["e-ann"][3], EXPERTS["e-bob"][3]
SMS_FROM = "+447700900321"


# -- the real app, with Twilio credentials and a public URL --------------------------------------
@pytest.fixture
async def twilio_rest() -> AsyncIterator[TwilioFake]:
    fake = await TwilioFake(ACCOUNT, AUTH_TOKEN).start()
    yield fake
    await fake.close()


@pytest.fixture
def config(db_url: str, tmp_path: Path, twilio_rest: TwilioFake) -> Config:
    """Overrides conftest's ``config``: its ``client`` and ``auth`` then run this app."""
    return telephony_config(tmp_path, twilio=True, api_url=twilio_rest.url).replace(
        database={"url": db_url})


class Desk:
    """The experts' desks and a supervisor's view, through the HTTP API."""

    def __init__(self, client: TestClient, tokens: dict[str, dict[str, str]]) -> None:
        self.client, self.tokens = client, tokens

    async def _json(self, method: str, path: str, who: str, status: int = 200,
                    **kwargs: Any) -> Any:
        resp = await self.client.request(method, path, headers=self.tokens[who], **kwargs)
        body = await resp.text()
        assert resp.status == status, body
        return await resp.json()

    async def status(self, who: str, status: str) -> dict[str, Any]:
        return await self._json("PUT", "/api/v1/me/status", who, json={"status": status})

    async def offers(self, who: str) -> list[dict[str, Any]]:
        return (await self._json("GET", "/api/v1/me/offers", who))["items"]

    async def take(self, who: str) -> dict[str, Any]:
        """Accept the one pending offer; returns the accepted offer (with its session)."""
        [offer] = await self.offers(who)
        accepted = await self._json("POST", f"/api/v1/me/offers/{offer['id']}/accept", who)
        assert accepted["status"] == "accepted" and accepted["session_id"]
        return accepted

    async def complete(self, who: str, session_id: str) -> dict[str, Any]:
        return await self._json("POST", f"/api/v1/me/sessions/{session_id}/complete", who)

    async def say(self, who: str, session_id: str, text: str) -> dict[str, Any]:
        return await self._json("POST", f"/api/v1/me/sessions/{session_id}/messages", who,
                                status=202, json={"text": text})

    async def contacts(self, state: str = "") -> list[dict[str, Any]]:
        query = f"?state={state}" if state else ""
        return (await self._json("GET", f"/api/v1/contacts{query}", "admin"))["items"]

    async def contact(self, contact_id: str) -> dict[str, Any]:
        return await self._json("GET", f"/api/v1/contacts/{contact_id}", "admin")

    async def state_of(self, contact_id: str) -> str:
        return (await self.contact(contact_id))["state"]


@pytest.fixture
async def desk(client: TestClient, auth: TokenFactory) -> Desk:
    await seed_pool(client.app[DATABASE])
    await engine_of(client.app)._reload_pool(EVERYTHING)  # seeded behind the API's back
    return Desk(client, {"admin": await auth("admin"),
                         "ann": await auth("expert", expert="e-ann"),
                         "bob": await auth("expert", expert="e-bob"),
                         "cat": await auth("expert", expert="e-cat")})


@pytest.fixture
def tel(client: TestClient) -> Telephony:
    return client.app[TELEPHONY]


@pytest.fixture
def player(client: TestClient) -> TwilioPlayer:
    return TwilioPlayer(client)


# -- playing Twilio ------------------------------------------------------------------------------
def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def leg_params(sid: str, to: str, **extra: str) -> dict[str, str]:
    return {"CallSid": sid, "AccountSid": ACCOUNT, "From": NUMBER, "To": to,
            "Direction": "outbound-api", "CallStatus": "in-progress", **extra}


async def conference_event(player: TwilioPlayer, status_url: str, event: str,
                           sid: str = "", **extra: str) -> None:
    params = {"AccountSid": ACCOUNT, "ConferenceSid": "CF" + "9" * 32,
              "FriendlyName": query(status_url)["conf"], "StatusCallbackEvent": event, **extra}
    if sid:
        params["CallSid"] = sid
    assert list(await player.post(status_url, params)) == []


async def queued_caller(player: TwilioPlayer, desk: Desk, n: int = 1,
                        words: str = "my mum has dementia") -> tuple[PhoneCall, str, ET.Element]:
    """A caller dials in, says what they need and is queued: (call, contact id, Enqueue)."""
    call = PhoneCall(player, f"CA{n:032d}", f"+4477009001{n:02d}")
    greeting = await call.dial_in()
    root = await call.say(greeting.find("Gather"), words)
    enqueue = root.find("Enqueue")
    assert enqueue is not None, ET.tostring(root)
    [contact] = [c for c in await desk.contacts() if c["external_ref"] == call.sid]
    return call, contact["id"], enqueue


async def expert_answers(player: TwilioPlayer, dialled: FakeCall, phone: str) -> str:
    """A phone expert answers, hears the whisper and presses 1: the conference status URL."""
    whisper = await player.post(dialled.url, leg_params(dialled.sid, phone))
    gather = whisper.find("Gather")
    assert gather is not None, ET.tostring(whisper)
    inside = await player.post(gather.attrib["action"],
                               leg_params(dialled.sid, phone, Digits="1"))
    conf = inside.find("Dial/Conference")
    assert conf is not None, ET.tostring(inside)
    assert conf.text == query(dialled.url)["conf"]
    return conf.attrib["statusCallback"]


# -- the scenarios -------------------------------------------------------------------------------
async def test_speech_triage_queue_accept_bridge_hang_up_wrap_up_completed(
        player: TwilioPlayer, desk: Desk, tel: Telephony, twilio_rest: TwilioFake) -> None:
    call = PhoneCall(player, "CA" + "1" * 32, "+447700900123")
    greeting = await call.dial_in()
    gather = greeting.find("Gather")
    assert gather is not None and gather.attrib["input"] == "speech dtmf"
    routed = await call.say(gather, "my dad has dementia and keeps wandering off")
    assert "dementia" in " ".join(spoken(routed)).lower()
    enqueue = routed.find("Enqueue")
    assert enqueue is not None

    [listed] = await desk.contacts(state="queued")
    cid = listed["id"]
    assert (listed["skill"], listed["channel"], listed["external_ref"]) == (
        "dementia", "voice", call.sid)
    assert (listed["triage"]["method"], listed["triage"]["matched"]) == ("speech", ["Dementia"])
    hold = await call.post(enqueue.attrib["waitUrl"])
    assert "next in the queue" in " ".join(spoken(hold)).lower()

    assert (await desk.status("ann", "available"))["state"] == "offered"
    assert await desk.state_of(cid) == "offered"
    accepted = await desk.take("ann")
    await tel.idle()

    # Twilio was asked to move the caller into a conference, then to ring the expert.
    (redirect,) = twilio_rest.of("update_call")
    assert redirect.target == call.sid
    join_url = redirect.one("Url")
    assert join_url.startswith(PUBLIC_URL + "/twilio/voice/join?") and "role=caller" in join_url
    (dialled,) = twilio_rest.dialled()
    assert dialled.to == ANN_PHONE and dialled.from_ == NUMBER
    assert dialled.status_callback.startswith(PUBLIC_URL + "/twilio/voice/status?")
    conference = query(join_url)["conf"]
    assert conference.startswith("xl-") and cid not in conference and "0123" not in conference

    # The caller leaves the Twilio queue (redirected) and waits in the conference.
    assert list(await call.post(enqueue.attrib["action"], QueueResult="redirected")) == []
    joined = await call.post(join_url)
    conf_el = joined.find("Dial/Conference")
    assert conf_el is not None and conf_el.text == conference
    assert "Connecting you" in spoken(await call.post(conf_el.attrib["waitUrl"]))[0]

    status_url = await expert_answers(player, dialled, ANN_PHONE)
    await conference_event(player, status_url, "participant-join", call.sid)
    await conference_event(player, status_url, "participant-join", dialled.sid)
    assert await desk.state_of(cid) == "connected"

    # The caller hangs up: the session ends and wrap-up starts; repeats are harmless.
    await conference_event(player, status_url, "participant-leave", call.sid)
    await conference_event(player, status_url, "conference-end",
                           CallSidEndingConference=call.sid)
    await conference_event(player, status_url, "conference-end",
                           CallSidEndingConference=call.sid)
    await player.post(dialled.status_callback,
                      leg_params(dialled.sid, ANN_PHONE, CallStatus="completed"))
    await tel.idle()
    assert await desk.state_of(cid) == "wrapup"
    assert (await desk.status("ann", "available"))["state"] == "wrapup"

    done = await desk.complete("ann", accepted["session_id"])
    assert done["wrapup_ended"] is True
    detail = await desk.contact(cid)
    assert detail["state"] == "completed"
    assert [e["state"] for e in detail["events"]] == ["queued", "offered", "connected",
                                                      "wrapup", "completed"]
    assert detail["expert_id"] == "e-ann" and detail["waited_s"] is not None
    assert detail["sessions"][0]["ended_by"] == "citizen"
    assert len(twilio_rest.of("update_call")) == 1  # nothing else asked of Twilio


async def test_expert_no_answer_puts_the_contact_back_in_place_for_the_next_expert(
        player: TwilioPlayer, desk: Desk, tel: Telephony, twilio_rest: TwilioFake) -> None:
    call, cid, _ = await queued_caller(player, desk, n=1)
    _, second, _ = await queued_caller(player, desk, n=2)
    await desk.status("ann", "available")
    [offer] = await desk.offers("ann")
    assert offer["contact"]["id"] == cid  # the first caller first
    await desk.take("ann")
    await tel.idle()
    (first,) = twilio_rest.dialled()
    assert first.to == ANN_PHONE

    await player.post(first.status_callback,
                      leg_params(first.sid, ANN_PHONE, CallStatus="ringing"))
    assert await desk.state_of(cid) == "connected"  # still ringing: nothing yet
    await player.post(first.status_callback,
                      leg_params(first.sid, ANN_PHONE, CallStatus="no-answer"))
    await tel.idle()
    assert await desk.state_of(cid) == "queued"
    # Not straight back to the expert who missed it (she may have the next caller meanwhile).
    assert [o["contact"]["id"] for o in await desk.offers("ann")] == [second]

    # The caller was sent back to holding, keeping their place.
    back = twilio_rest.of("update_call")[-1]
    assert back.target == call.sid and "why=requeued" in back.one("Url")
    hold = await call.post(back.one("Url"))
    assert "You keep your place" in spoken(hold)[0] and hold.find("Enqueue") is not None
    wait = await call.post(hold.find("Enqueue").attrib["waitUrl"])
    assert "next in the queue" in " ".join(spoken(wait)).lower()

    await desk.status("bob", "available")
    [offer] = await desk.offers("bob")
    assert offer["contact"]["id"] == cid  # the place was kept: ahead of the second caller
    await desk.take("bob")
    await tel.idle()
    again = twilio_rest.dialled()[-1]
    assert again.to == BOB_PHONE and query(again.url)["conf"] != query(first.url)["conf"]
    detail = await desk.contact(cid)
    assert [o["expert_id"] for o in detail["offers"]] == ["e-ann", "e-bob"]
    assert detail["state"] == "connected" and detail["expert_id"] == "e-bob"


async def test_a_caller_hanging_up_in_the_queue_is_an_abandonment_with_its_wait(
        player: TwilioPlayer, desk: Desk, twilio_rest: TwilioFake) -> None:
    call, cid, enqueue = await queued_caller(player, desk)
    root = await call.post(enqueue.attrib["action"], QueueResult="hangup", QueueTime="65")
    assert list(root) == []
    await player.post(f"{PUBLIC_URL}/twilio/voice/status", call.params(CallStatus="completed"))
    detail = await desk.contact(cid)
    assert detail["state"] == "abandoned" and detail["waited_s"] == pytest.approx(65.0)
    assert [e["state"] for e in detail["events"]] == ["queued", "abandoned"]
    await desk.status("ann", "available")
    assert await desk.offers("ann") == []
    assert twilio_rest.requests == []


async def test_a_callback_keeps_its_place_and_calls_the_expert_first_then_the_citizen(
        player: TwilioPlayer, desk: Desk, tel: Telephony, twilio_rest: TwilioFake) -> None:
    call, cid, enqueue = await queued_caller(player, desk, n=1)
    _, second, _ = await queued_caller(player, desk, n=2)

    # On hold the caller presses *: they leave the Twilio queue and hear the callback offer.
    hold = await call.post(enqueue.attrib["waitUrl"])
    key = await call.press(hold.find("Gather"), "*")
    assert key.find("Leave") is not None
    offer = await call.post(enqueue.attrib["action"], QueueResult="leave")
    gather = offer.find("Gather")
    assert gather is not None and "ending 1 0 1" in " ".join(spoken(offer))
    bye = await call.press(gather, "1")
    assert bye.find("Hangup") is not None
    await player.post(f"{PUBLIC_URL}/twilio/voice/status", call.params(CallStatus="completed"))
    detail = await desk.contact(cid)
    assert detail["state"] == "callback" and detail["callback_number"] == call.caller
    assert await desk.state_of(second) == "queued"

    await desk.status("ann", "available")
    [made] = await desk.offers("ann")
    assert made["contact"]["id"] == cid  # kept its place ahead of the second caller
    await desk.take("ann")
    await tel.idle()
    assert twilio_rest.of("update_call") == []  # nobody to redirect: the caller hung up
    (expert,) = twilio_rest.dialled()
    assert expert.to == ANN_PHONE
    whisper = await player.post(expert.url, leg_params(expert.sid, ANN_PHONE))
    assert "callback about dementia" in spoken(whisper)[0]
    status_url = await expert_answers(player, expert, ANN_PHONE)
    await conference_event(player, status_url, "participant-join", expert.sid)
    await tel.idle()

    calls = [r.one("To") for r in twilio_rest.of("create_call")]
    assert calls == [ANN_PHONE, call.caller]  # the expert first, then the citizen
    citizen = twilio_rest.dialled()[-1]
    root = await player.post(citizen.url, leg_params(citizen.sid, call.caller))
    assert "calling you back" in spoken(root)[0]
    assert root.find("Dial/Conference").text == query(status_url)["conf"]
    await conference_event(player, status_url, "participant-join", citizen.sid)
    assert await desk.state_of(cid) == "connected"
    await conference_event(player, status_url, "conference-end",
                           CallSidEndingConference=citizen.sid)
    await tel.idle()
    detail = await desk.contact(cid)
    assert detail["state"] == "wrapup"
    assert [e["state"] for e in detail["events"]] == ["queued", "callback", "offered",
                                                      "connected", "wrapup"]


async def test_an_sms_becomes_a_chat_the_expert_answers_through_the_desk(
        player: TwilioPlayer, desk: Desk, tel: Telephony, twilio_rest: TwilioFake) -> None:
    async def text(body: str, n: int) -> str:
        sid = f"SM{n:032d}"
        root = await player.post("/twilio/messaging", {
            "MessageSid": sid, "SmsSid": sid, "AccountSid": ACCOUNT, "From": SMS_FROM,
            "To": NUMBER, "Body": body, "NumMedia": "0"})
        return " ".join(m.text or "" for m in root.iter("Message"))

    reply = await text("My mum has dementia and I don't know where to start", 1)
    assert "dementia" in reply and "next in the queue" in reply
    [contact] = await desk.contacts(state="queued")
    assert (contact["channel"], contact["medium"], contact["skill"]) == ("chat", "sms",
                                                                         "dementia")
    assert contact["address"] == SMS_FROM

    await desk.status("ann", "available")
    accepted = await desk.take("ann")
    await tel.idle()
    (hello,) = twilio_rest.of("create_message")
    assert hello.one("To") == SMS_FROM and hello.one("From") == NUMBER

    await desk.say("ann", accepted["session_id"], "Hello, I am Ann, a dementia nurse.")
    await tel.idle()
    sent = twilio_rest.of("create_message")[-1]
    assert (sent.one("To"), sent.one("From"), sent.one("Body")) == (
        SMS_FROM, NUMBER, "Hello, I am Ann, a dementia nurse.")

    token = desk.tokens["ann"]["Authorization"].split()[1]
    async with desk.client.ws_connect(f"/ws/expert?access_token={token}") as ws:
        assert (await ws.receive_json())["type"] == "hello"
        assert await text("Thank you", 2) == ""  # relayed to the desk, no new contact
        relayed = await ws.receive_json(timeout=5)
        assert (relayed["type"], relayed["text"], relayed["session_id"]) == (
            "message", "Thank you", accepted["session_id"])
    assert [c["id"] for c in await desk.contacts()] == [contact["id"]]
    await text("BYE", 3)
    await tel.idle()
    detail = await desk.contact(contact["id"])
    assert detail["state"] == "wrapup" and detail["sessions"][0]["ended_by"] == "citizen"
    assert len(twilio_rest.of("create_message")) == 2  # nothing sent back after BYE


@pytest.mark.parametrize("path", ["/twilio/voice", "/twilio/voice/gather?step=ask&lang=en",
                                  "/twilio/messaging"])
async def test_a_bad_signature_is_refused_and_nothing_is_created(
        player: TwilioPlayer, desk: Desk, twilio_rest: TwilioFake, path: str) -> None:
    params = {"CallSid": "CA" + "6" * 32, "MessageSid": "SM" + "6" * 32,
              "AccountSid": ACCOUNT, "From": "+447700900666", "To": NUMBER,
              "SpeechResult": "my dad has dementia", "Confidence": "0.9",
              "Body": "my dad has dementia"}
    forged = TwilioPlayer(player.client, token="not-the-auth-token")
    for resp in (await forged.send(path, params),
                 await player.send(path, params, signature="bm9wZQ==")):
        assert resp.status == 403
        assert (await resp.json())["error"]["code"] == "bad_signature"
    missing = TwilioPlayer(player.client, token=None)
    assert (await missing.send(path, params)).status == 403
    assert await desk.contacts() == []
    assert twilio_rest.requests == []


# -- more of the "Done when" list, on the real engine ------------------------------------
async def test_a_caller_hanging_up_during_an_offer_rescinds_it(
        player: TwilioPlayer, desk: Desk, tel: Telephony, twilio_rest: TwilioFake) -> None:
    call, cid, enqueue = await queued_caller(player, desk)
    await desk.status("ann", "available")
    assert len(await desk.offers("ann")) == 1
    await call.post(enqueue.attrib["action"], QueueResult="hangup", QueueTime="12")
    await tel.idle()
    detail = await desk.contact(cid)
    assert detail["state"] == "abandoned" and detail["waited_s"] == pytest.approx(12.0)
    assert detail["offers"][0]["status"] != "pending"
    assert await desk.offers("ann") == []
    assert (await desk.status("ann", "available"))["state"] == "available"
    assert twilio_rest.requests == []


async def test_a_welsh_caller_is_matched_only_to_a_welsh_speaker(
        player: TwilioPlayer, desk: Desk, tel: Telephony, twilio_rest: TwilioFake) -> None:
    call = PhoneCall(player, "CA" + "7" * 32)
    greeting = await call.dial_in()
    welsh = await call.say(greeting.find("Gather"), "Cymraeg")
    queued = await call.say(welsh.find("Gather"), "dementia")
    assert queued.find("Enqueue") is not None
    [contact] = await desk.contacts()
    assert (contact["language"], contact["skill"]) == ("cy", "dementia")
    await desk.status("ann", "available")  # dementia 5, English only
    assert await desk.offers("ann") == []
    await desk.status("bob", "available")  # dementia 4, speaks Welsh
    await desk.take("bob")
    await tel.idle()
    join_url = twilio_rest.of("update_call")[0].one("Url")
    assert query(join_url)["lang"] == "cy"
    assert twilio_rest.dialled()[-1].to == BOB_PHONE


async def test_duplicate_webhooks_are_harmless(player: TwilioPlayer, desk: Desk,
                                               tel: Telephony,
                                               twilio_rest: TwilioFake) -> None:
    call = PhoneCall(player, "CA" + "8" * 32)
    greeting = await call.dial_in()
    gather = greeting.find("Gather")
    first = await call.say(gather, "my dad has dementia")
    again = await call.say(gather, "my dad has dementia")  # Twilio retried the Gather action
    assert first.find("Enqueue").attrib == again.find("Enqueue").attrib
    assert len(await desk.contacts()) == 1
    params = call.params(SpeechResult="my dad has dementia", Confidence="0.9")
    token = "idem-" + "1" * 20
    one = await player.send(gather.attrib["action"], params, token=token)
    two = await player.send(gather.attrib["action"], params, token=token)
    assert await one.text() == await two.text()
    [contact] = await desk.contacts()

    await desk.status("ann", "available")
    await desk.take("ann")
    await tel.idle()
    (dialled,) = twilio_rest.dialled()
    status_url = await expert_answers(player, dialled, ANN_PHONE)
    for _ in range(2):
        await conference_event(player, status_url, "participant-join", call.sid)
        await conference_event(player, status_url, "participant-join", dialled.sid)
    for _ in range(2):
        await conference_event(player, status_url, "conference-end",
                               CallSidEndingConference=call.sid)
        await player.post(dialled.status_callback,
                          leg_params(dialled.sid, ANN_PHONE, CallStatus="completed"))
    await tel.idle()
    detail = await desk.contact(contact["id"])
    assert [e["state"] for e in detail["events"]] == ["queued", "offered", "connected", "wrapup"]
    assert len(twilio_rest.of("create_call")) == 1 and len(twilio_rest.of("update_call")) == 1


class Bridged(NamedTuple):
    call: PhoneCall
    contact_id: str
    session_id: str
    expert: FakeCall  # e-ann's leg
    status_url: str  # the conference's status callback


async def bridged_to_ann(player: TwilioPlayer, desk: Desk, tel: Telephony,
                         twilio_rest: TwilioFake) -> Bridged:
    """A caller queued, accepted by e-ann, and both in the conference."""
    call, cid, _ = await queued_caller(player, desk)
    await desk.status("ann", "available")
    accepted = await desk.take("ann")
    await tel.idle()
    (dialled,) = twilio_rest.dialled()
    await call.post(twilio_rest.of("update_call")[0].one("Url"))
    status_url = await expert_answers(player, dialled, ANN_PHONE)
    await conference_event(player, status_url, "participant-join", call.sid)
    await conference_event(player, status_url, "participant-join", dialled.sid)
    assert await desk.state_of(cid) == "connected"
    return Bridged(call, cid, accepted["session_id"], dialled, status_url)


async def test_the_expert_ends_a_bridged_call_from_the_desk(
        player: TwilioPlayer, desk: Desk, tel: Telephony, twilio_rest: TwilioFake) -> None:
    call, cid, session_id, dialled, status_url = await bridged_to_ann(player, desk, tel,
                                                                      twilio_rest)
    done = await desk.complete("ann", session_id)
    assert done["state"] == "wrapup"
    await tel.idle()
    ended = {r.target for r in twilio_rest.of("update_call") if r.form.get("Status")}
    assert ended == {dialled.sid, call.sid}  # both legs hung up
    # Twilio then reports the end; nothing more changes.
    await conference_event(player, status_url, "conference-end",
                           CallSidEndingConference=dialled.sid)
    await tel.idle()
    detail = await desk.contact(cid)
    assert detail["state"] == "wrapup" and detail["sessions"][0]["ended_by"] == "expert"


async def callback_in_conference(player: TwilioPlayer, desk: Desk, tel: Telephony,
                                 twilio_rest: TwilioFake) -> tuple[PhoneCall, str, str]:
    """A caller asks for a callback and hangs up; e-ann accepts and waits in the conference."""
    call, cid, enqueue = await queued_caller(player, desk)
    offer = await call.post(enqueue.attrib["action"], QueueResult="leave")
    assert (await call.press(offer.find("Gather"), "1")).find("Hangup") is not None
    await player.post(f"{PUBLIC_URL}/twilio/voice/status", call.params(CallStatus="completed"))
    await desk.status("ann", "available")
    accepted = await desk.take("ann")
    await tel.idle()
    (expert,) = twilio_rest.dialled()
    status_url = await expert_answers(player, expert, ANN_PHONE)
    await conference_event(player, status_url, "participant-join", expert.sid)
    await tel.idle()
    return call, cid, accepted["session_id"]


async def test_a_callback_the_citizen_never_answers_is_retried_then_fails_with_a_record(
        player: TwilioPlayer, desk: Desk, tel: Telephony, twilio_rest: TwilioFake) -> None:
    scheduler = ManualScheduler()
    tel.connector.schedule = scheduler  # retries run when the test says, not after 120 s
    call, cid, _ = await callback_in_conference(player, desk, tel, twilio_rest)
    delays = []
    for _ in range(3):
        citizen = twilio_rest.dialled()[-1]
        assert citizen.to == call.caller
        await player.post(citizen.status_callback,
                          leg_params(citizen.sid, call.caller, CallStatus="no-answer"))
        delays += await scheduler.run_due()
        await tel.idle()
    assert delays == [120.0, 120.0]
    assert [r.one("To") for r in twilio_rest.of("create_call")] == [ANN_PHONE] + [call.caller] * 3
    detail = await desk.contact(cid)
    assert detail["state"] == "failed"
    assert detail["reason"] == "the citizen did not answer 3 callback attempts"
    assert twilio_rest.of("update_call")[-1].form == {"Status": ["completed"]}  # expert freed


async def test_the_expert_ends_an_sms_chat_from_the_desk(
        player: TwilioPlayer, desk: Desk, tel: Telephony, twilio_rest: TwilioFake) -> None:
    sid = "SM" + "4" * 32
    await player.post("/twilio/messaging", {
        "MessageSid": sid, "SmsSid": sid, "AccountSid": ACCOUNT, "From": SMS_FROM,
        "To": NUMBER, "Body": "I need help with housing, we are being evicted",
        "NumMedia": "0"})
    [contact] = await desk.contacts()
    assert contact["skill"] == "housing"
    await desk.status("ann", "available")
    assert await desk.offers("ann") == []  # e-ann holds no housing skill
    await desk.status("cat", "available")
    accepted = await desk.take("cat")
    await tel.idle()
    done = await desk.complete("cat", accepted["session_id"])
    assert done["state"] == "wrapup"
    await tel.idle()
    bodies = [r.one("Body") for r in twilio_rest.of("create_message")]
    assert len(bodies) == 2 and all(r.one("To") == SMS_FROM
                                    for r in twilio_rest.of("create_message"))
    assert bodies[0].startswith("You are now talking to an expert in housing")
    assert bodies[1] == "This conversation has ended. Message us again any time."
    detail = await desk.contact(contact["id"])
    assert detail["state"] == "wrapup" and detail["sessions"][0]["ended_by"] == "expert"
    # The citizen texts again: a new conversation, not a message to a closed one.
    sid2 = "SM" + "5" * 32
    await player.post("/twilio/messaging", {
        "MessageSid": sid2, "SmsSid": sid2, "AccountSid": ACCOUNT, "From": SMS_FROM,
        "To": NUMBER, "Body": "housing again, sorry", "NumMedia": "0"})
    assert len(await desk.contacts()) == 2


async def test_web_chat_citizen_and_expert_talk_over_websockets(
        client: TestClient, desk: Desk, tel: Telephony) -> None:
    token = desk.tokens["ann"]["Authorization"].split()[1]
    async with client.ws_connect("/ws/chat") as chat, \
            client.ws_connect(f"/ws/expert?access_token={token}") as expert:
        assert (await expert.receive_json(timeout=5))["type"] == "hello"
        await chat.send_json({"type": "hello", "text": "my mum has dementia"})
        queued = await chat.receive_json(timeout=5)
        assert queued["type"] == "queued" and queued["skill"] == "dementia"
        assert queued["position"] == 1
        cid = queued["contact_id"]
        assert (await desk.contact(cid))["medium"] == "web"

        await expert.send_json({"action": "status", "status": "available"})
        frames = [await expert.receive_json(timeout=5) for _ in range(4)]
        [offer] = [f for f in frames if f["type"] == "offer"]
        assert offer["contact"]["id"] == cid
        await expert.send_json({"action": "accept", "id": offer["offer_id"]})
        await tel.idle()
        connected = await chat.receive_json(timeout=5)
        assert connected["type"] == "connected"
        assert set(connected["expert"]) == {"name", "role", "organisation"}
        frames = [await expert.receive_json(timeout=5) for _ in range(3)]
        [session] = [f for f in frames if f["type"] == "session"]
        session_id = session["session_id"]

        await chat.send_json({"type": "message", "text": "she keeps getting lost"})
        heard = await expert.receive_json(timeout=5)
        assert (heard["type"], heard["text"]) == ("message", "she keeps getting lost")
        await desk.say("ann", session_id, "Is she safe right now?")
        await tel.idle()
        assert await chat.receive_json(timeout=5) == {"type": "message", "from": "expert",
                                                      "text": "Is she safe right now?"}
        await chat.send_json({"type": "end"})
        ended = await chat.receive_json(timeout=5)
        assert (ended["type"], ended["by"]) == ("ended", "citizen")
    detail = await desk.contact(cid)
    assert detail["state"] == "wrapup" and detail["sessions"][0]["ended_by"] == "citizen"


async def test_texts_sent_together_from_one_number_make_one_conversation(
        player: TwilioPlayer, desk: Desk, tel: Telephony, twilio_rest: TwilioFake) -> None:
    """Issue 13, item 3: ten signed SMS posted at once from one number made ten contacts (and
    BYE closed only one). Now the first opens the conversation and the others join it."""
    bodies = [f"My mum has dementia, message {n}" for n in range(10)]

    async def text(body: str, n: int) -> ET.Element:
        sid = f"SM{n + 100:032d}"
        return await player.post("/twilio/messaging", {
            "MessageSid": sid, "SmsSid": sid, "AccountSid": ACCOUNT, "From": SMS_FROM,
            "To": NUMBER, "Body": body, "NumMedia": "0"})

    replies = await asyncio.gather(*(text(body, n) for n, body in enumerate(bodies)))
    assert sum(1 for r in replies if r.find("Message") is not None) == 1  # one welcome
    [contact] = await desk.contacts(state="queued")
    token = desk.tokens["ann"]["Authorization"].split()[1]
    async with desk.client.ws_connect(f"/ws/expert?access_token={token}") as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
        await desk.status("ann", "available")
        accepted = await desk.take("ann")
        while (event := await ws.receive_json(timeout=5))["type"] != "session":
            pass
    await tel.idle()
    assert (event["session_id"], event["contact"]["id"]) == (accepted["session_id"],
                                                             contact["id"])
    # every other text joined the one conversation, none twice; the first one opened it
    assert len(set(event["messages"])) == 9 and set(event["messages"]) < set(bodies)
    await player.post("/twilio/messaging", {
        "MessageSid": "SM" + "9" * 32, "SmsSid": "SM" + "9" * 32, "AccountSid": ACCOUNT,
        "From": SMS_FROM, "To": NUMBER, "Body": "BYE", "NumMedia": "0"})
    await tel.idle()
    assert await desk.contacts(state="queued,offered,connected") == []
    assert [c["id"] for c in await desk.contacts()] == [contact["id"]]


async def test_a_call_rings_on_the_desk_with_what_the_caller_said(
        player: TwilioPlayer, desk: Desk) -> None:
    """Issue 14: for calls, the offer carries what the caller said to the speech triage."""
    await queued_caller(player, desk, words="my dad has dementia and keeps wandering off")
    await desk.status("ann", "available")
    [offer] = await desk.offers("ann")
    assert offer["contact"]["first_words"] == "my dad has dementia and keeps wandering off"
    assert offer["contact"]["channel"] == "voice"


async def test_a_bridged_call_outlives_a_restart_and_hanging_up_still_starts_wrap_up(
        aiohttp_client: Callable[..., Awaitable[TestClient]], client: TestClient,
        config: Config, player: TwilioPlayer, desk: Desk, tel: Telephony,
        twilio_rest: TwilioFake) -> None:
    """The process dies with a call bridged; Twilio's callbacks about its end reach the next
    one, which ends the session as the first would have, and keeps no row of the bridge."""
    call, cid, session_id, dialled, status_url = await bridged_to_ann(player, desk, tel,
                                                                      twilio_rest)
    await client.close()  # the process stops; another starts on the same database
    again = await aiohttp_client(create_app(config))
    player, desk = TwilioPlayer(again), Desk(again, desk.tokens)
    assert again.app[TELEPHONY].connector.bridge(cid).phase == "bridged"
    await conference_event(player, status_url, "participant-leave", call.sid)
    await conference_event(player, status_url, "conference-end",
                           CallSidEndingConference=call.sid)
    await player.post(dialled.status_callback,
                      leg_params(dialled.sid, ANN_PHONE, CallStatus="completed"))
    await again.app[TELEPHONY].idle()
    detail = await desk.contact(cid)
    assert detail["state"] == "wrapup" and detail["sessions"][0]["ended_by"] == "citizen"
    assert (await desk._json("GET", "/api/v1/me", "ann"))["state"] == "wrapup"
    assert (await desk.complete("ann", session_id))["wrapup_ended"] is True
    assert await saved_bridges(again) == []
    assert len(twilio_rest.of("update_call")) == 1  # nothing else asked of Twilio


async def saved_bridges(client: TestClient) -> list[str]:
    """The contacts whose phone bridge is in the database."""
    async with client.app[DATABASE].session() as session:
        return list((await session.exec(select(CallBridgeRow.contact_id))).all())
