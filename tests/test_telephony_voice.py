"""The caller's side of a call, played as Twilio plays it: signed webhooks, TwiML followed.

The public URL (https://expertline.example.org) is not where the test server listens, so every
accepted request proves the signature is checked against the configured public URL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from router.ports import Channel, ContactState, Medium
from telephony.service import TELEPHONY
from telephony.signature import sign
from tests.telephony_support import (
    AUTH_TOKEN,
    PUBLIC_URL,
    FakeRouting,
    PhoneCall,
    TwilioPlayer,
    spoken,
    telephony_app,
    telephony_config,
    urls_in,
)
from tests.twilio_fake import TwilioFake

ClientMaker = Callable[..., Awaitable[TestClient]]


@pytest.fixture
def routing() -> FakeRouting:
    return FakeRouting()


@pytest.fixture
async def twilio_rest() -> AsyncIterator[TwilioFake]:
    from tests.telephony_support import ACCOUNT

    fake = await TwilioFake(ACCOUNT, AUTH_TOKEN).start()
    yield fake
    await fake.close()


@pytest.fixture
async def tclient(aiohttp_client: ClientMaker, tmp_path: Path, routing: FakeRouting,
                  twilio_rest: TwilioFake) -> TestClient:
    config = telephony_config(tmp_path, twilio=True, api_url=twilio_rest.url)
    return await aiohttp_client(telephony_app(config, routing))


@pytest.fixture
def player(tclient: TestClient) -> TwilioPlayer:
    return TwilioPlayer(tclient)


def a_call(player: TwilioPlayer, n: int = 1, caller: str = "+447700900123") -> PhoneCall:
    return PhoneCall(player, f"CA{n:032d}", caller)


async def queued_by_speech(call: PhoneCall, words: str = "my mum has dementia"):
    greeting = await call.dial_in()
    return await call.say(greeting.find("Gather"), words)


# -- signatures ----------------------------------------------------------------------------------
async def test_signed_webhook_is_answered(player: TwilioPlayer) -> None:
    root = await a_call(player).dial_in()
    assert root.find("Gather") is not None


@pytest.mark.parametrize("how", ["missing", "garbage", "signed for the request's own host",
                                 "params tampered", "another token"])
async def test_bad_signature_is_refused_and_changes_nothing(
        player: TwilioPlayer, tclient: TestClient, routing: FakeRouting, how: str) -> None:
    call = a_call(player)
    params = call.params(SpeechResult="my mum has dementia", Confidence="0.9")
    path = "/twilio/voice/gather?step=ask&lang=en"
    signatures = {
        "missing": None,
        "garbage": "bm90IGEgc2lnbmF0dXJl",
        "signed for the request's own host": sign(AUTH_TOKEN, str(tclient.make_url(path)),
                                                  params),
        "params tampered": sign(AUTH_TOKEN, PUBLIC_URL + path, {**params, "From": "+4400"}),
        "another token": sign("not-the-token", PUBLIC_URL + path, params),
    }
    headers = {} if signatures[how] is None else {"X-Twilio-Signature": signatures[how]}
    resp = await tclient.post(path, data=params, headers=headers)
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "bad_signature"
    assert routing.contacts == {}


@pytest.mark.parametrize("signature", [None, "bm90IGEgc2lnbmF0dXJl"])
async def test_a_multipart_webhook_is_refused_before_its_body_is_read(
        tclient: TestClient, routing: FakeRouting, signature: str | None) -> None:
    """Twilio signs forms, never multipart bodies: one is refused as unsigned (403), not
    parsed first and answered 400."""
    form = aiohttp.FormData({"CallSid": "CA" + "0" * 32, "From": "+447700900123"})
    form.add_field("upload", b"\x00" * 64, filename="x.bin")
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    resp = await tclient.post("/twilio/voice", data=form, headers=headers)
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "bad_signature"
    assert routing.contacts == {}


# -- the IVR, followed through its TwiML -------------------------------------------------------
async def test_greeting_listens_for_speech_and_keys_and_offers_welsh(player: TwilioPlayer) -> None:
    root = await a_call(player).dial_in()
    gather = root.find("Gather")
    assert gather.attrib["input"] == "speech dtmf"
    assert gather.attrib["language"] == "en-GB"
    assert gather.attrib["actionOnEmptyResult"] == "true"
    assert gather.attrib["action"] == PUBLIC_URL + "/twilio/voice/gather?step=ask&lang=en"
    says = gather.findall("Say")
    assert "tell us what you need" in says[0].text
    assert says[1].attrib["language"] == "cy-GB" and "Cymraeg" in says[1].text
    assert root.find("Redirect").text == gather.attrib["action"]
    assert all(url.startswith(PUBLIC_URL + "/twilio/") for url in urls_in(root))


async def test_speech_is_triaged_and_the_caller_enqueued(player: TwilioPlayer,
                                                          routing: FakeRouting) -> None:
    call = a_call(player)
    root = await queued_by_speech(call, "my dad has dementia and keeps wandering off")
    enqueue = root.find("Enqueue")
    contact = routing.by_ref(call.sid)
    request = contact.request
    assert (request.channel, request.medium, request.skill) == (Channel.VOICE, Medium.PHONE,
                                                                "dementia")
    assert request.language == "en" and request.address == call.caller
    assert request.triage.method == "speech" and "dementia" in request.triage.matched
    assert "expert in dementia" in spoken(root)[0]
    cid = contact.view.contact_id
    assert enqueue.attrib["waitUrl"] == f"{PUBLIC_URL}/twilio/voice/wait?c={cid}&lang=en"
    assert enqueue.attrib["action"] == f"{PUBLIC_URL}/twilio/voice/queue-action?c={cid}&lang=en"
    assert enqueue.text.startswith("xl-hold-") and len(enqueue.text) == len("xl-hold-") + 2


async def test_silence_reprompts_then_menu_then_general_advice(player: TwilioPlayer,
                                                                routing: FakeRouting) -> None:
    call = a_call(player)
    greeting = await call.dial_in()
    reprompt = await call.silence(greeting.find("Gather"))
    assert "didn't catch that" in spoken(reprompt)[0]
    menu = await call.say(reprompt.find("Gather"), "er", confidence="0.1")
    lines = spoken(menu)
    assert lines[0] == "Please choose from the following options."
    assert "For dementia, press 1." in lines and "For general advice, press 0." in lines
    final = await call.silence(menu.find("Gather"))
    assert final.find("Enqueue") is not None
    assert routing.by_ref(call.sid).request.skill == "general-advice"
    assert routing.by_ref(call.sid).request.triage.method == "default"


async def test_keypad_menu_choice(player: TwilioPlayer, routing: FakeRouting) -> None:
    call = a_call(player)
    greeting = await call.dial_in()
    menu_reached = await call.silence((await call.silence(greeting.find("Gather"))).find("Gather"))
    root = await call.press(menu_reached.find("Gather"), "5")
    assert root.find("Enqueue") is not None
    assert routing.by_ref(call.sid).request.skill == "domestic-abuse"


async def test_welsh_path_sets_the_language_and_speaks_welsh(player: TwilioPlayer,
                                                              routing: FakeRouting) -> None:
    call = a_call(player)
    greeting = await call.dial_in()
    welsh = await call.press(greeting.find("Gather"), "9")
    gather = welsh.find("Gather")
    assert gather.attrib["language"] == "cy-GB"
    assert gather.attrib["action"].endswith("lang=cy")
    assert "999" in spoken(welsh)[0] and spoken(welsh)[1].startswith("Croeso i Expertline")
    root = await call.say(gather, "mae gan mam dementia")
    assert routing.by_ref(call.sid).request.language == "cy"
    assert root.find("Say").attrib["language"] == "cy-GB"
    assert root.find("Enqueue").attrib["waitUrl"].endswith("lang=cy")


# -- idempotency -------------------------------------------------------------------------------
async def test_a_retried_gather_with_the_same_callsid_changes_nothing(
        player: TwilioPlayer, routing: FakeRouting) -> None:
    call = a_call(player)
    first = await queued_by_speech(call)
    again = await queued_by_speech(call)
    assert len(routing.contacts) == 1
    assert first.find("Enqueue").attrib == again.find("Enqueue").attrib


async def test_a_repeated_idempotency_token_gets_the_same_reply(player: TwilioPlayer,
                                                                 routing: FakeRouting) -> None:
    call = a_call(player)
    action = (await call.dial_in()).find("Gather").attrib["action"]
    first = await player.send(action, call.params(SpeechResult="my mum has dementia"),
                              token="tok-1")
    retry = await player.send(action, call.params(SpeechResult="we are homeless"),
                              token="tok-1")
    assert await first.text() == await retry.text()
    assert [c.request.skill for c in routing.contacts.values()] == ["dementia"]


# -- holding -----------------------------------------------------------------------------------
async def test_hold_announces_place_and_an_honest_wait(player: TwilioPlayer,
                                                        routing: FakeRouting) -> None:
    first, second = a_call(player, 1), a_call(player, 2, "+447700900456")
    await queued_by_speech(first)
    enqueue = (await queued_by_speech(second)).find("Enqueue")
    hold = await second.post(enqueue.attrib["waitUrl"], QueuePosition="2", QueueTime="5")
    lines = spoken(hold)
    assert lines[:2] == ["You are number 2 in the queue.",
                         "Your expected wait is about 3 minutes."]
    assert "press star" in lines[2]
    gather = hold.find("Gather")
    assert gather.attrib["numDigits"] == "1"
    assert gather.find("Pause").attrib["length"] == "60"
    assert hold.find("Redirect").text == enqueue.attrib["waitUrl"]
    head = spoken(await first.post(enqueue.attrib["waitUrl"].replace(
        routing.by_ref(second.sid).view.contact_id, routing.by_ref(first.sid).view.contact_id)))
    assert head[0] == "You are next in the queue."


async def test_no_estimate_is_said_honestly(player: TwilioPlayer, routing: FakeRouting) -> None:
    routing.seconds_per_place = None
    call = a_call(player)
    enqueue = (await queued_by_speech(call)).find("Enqueue")
    lines = spoken(await call.post(enqueue.attrib["waitUrl"]))
    assert "We cannot give a reliable waiting time at the moment." in lines


async def test_hold_for_a_contact_that_ended_says_sorry_and_hangs_up(
        player: TwilioPlayer, routing: FakeRouting) -> None:
    call = a_call(player)
    enqueue = (await queued_by_speech(call)).find("Enqueue")
    await routing.fail(routing.by_ref(call.sid).view.contact_id, reason="test")
    root = await call.post(enqueue.attrib["waitUrl"])
    assert root.find("Hangup") is not None and "could not connect you" in spoken(root)[0]


# -- leaving the queue -------------------------------------------------------------------------
async def test_hanging_up_in_the_queue_is_an_abandonment_with_its_wait(
        player: TwilioPlayer, routing: FakeRouting) -> None:
    call = a_call(player)
    enqueue = (await queued_by_speech(call)).find("Enqueue")
    for _ in range(2):  # Twilio retrying is harmless
        root = await call.post(enqueue.attrib["action"], QueueResult="hangup", QueueTime="42")
        assert list(root) == []
    contact = routing.by_ref(call.sid)
    assert contact.view.state is ContactState.ABANDONED
    assert contact.waited_s == 42.0
    assert contact.reasons.count("caller hung up in the queue") == 1


@pytest.mark.parametrize("result", ["bridged", "redirected", "bridging-in-process"])
async def test_leaving_the_queue_for_a_bridge_changes_nothing(player: TwilioPlayer,
                                                              routing: FakeRouting,
                                                              result: str) -> None:
    call = a_call(player)
    enqueue = (await queued_by_speech(call)).find("Enqueue")
    root = await call.post(enqueue.attrib["action"], QueueResult=result, QueueTime="9")
    assert list(root) == []
    assert routing.by_ref(call.sid).view.state is ContactState.QUEUED


async def test_a_full_queue_offers_a_callback_with_an_apology(player: TwilioPlayer) -> None:
    call = a_call(player)
    enqueue = (await queued_by_speech(call)).find("Enqueue")
    root = await call.post(enqueue.attrib["action"], QueueResult="queue-full")
    lines = spoken(root)
    assert lines[0] == "Sorry, we cannot hold your call right now."
    assert "number ending 1 2 3" in lines[1]


# -- callbacks ---------------------------------------------------------------------------------
async def star_for_callback(call: PhoneCall):
    enqueue = (await queued_by_speech(call)).find("Enqueue")
    hold = await call.post(enqueue.attrib["waitUrl"])
    leave = await call.post(hold.find("Gather").attrib["action"], Digits="*")
    assert [el.tag for el in leave] == ["Leave"]
    return await call.post(enqueue.attrib["action"], QueueResult="leave", QueueTime="30")


async def test_star_then_one_makes_a_callback_on_the_calling_number(
        player: TwilioPlayer, routing: FakeRouting) -> None:
    call = a_call(player)
    offer = await star_for_callback(call)
    gather = offer.find("Gather")
    assert gather.attrib["finishOnKey"] == "#"
    assert "number ending 1 2 3" in spoken(offer)[0]
    done = await call.press(gather, "1")
    assert done.find("Hangup") is not None
    assert "number ending 1 2 3" in spoken(done)[0]
    contact = routing.by_ref(call.sid)
    assert contact.view.state is ContactState.CALLBACK
    assert contact.view.callback_number == "+447700900123"


@pytest.mark.parametrize(("keys", "number"), [("07700900456#", "+447700900456"),
                                              ("02079460000", "+442079460000")])
async def test_a_callback_on_another_number(player: TwilioPlayer, routing: FakeRouting,
                                            keys: str, number: str) -> None:
    call = a_call(player)
    offer = await star_for_callback(call)
    await call.press(offer.find("Gather"), keys)
    assert routing.by_ref(call.sid).view.callback_number == number


async def test_two_keeps_holding_in_place(player: TwilioPlayer, routing: FakeRouting) -> None:
    call = a_call(player)
    offer = await star_for_callback(call)
    root = await call.press(offer.find("Gather"), "2")
    assert root.find("Enqueue") is not None
    assert routing.by_ref(call.sid).view.state is ContactState.QUEUED


async def test_a_premium_number_is_refused_and_the_offer_repeated(
        player: TwilioPlayer, routing: FakeRouting) -> None:
    call = a_call(player)
    offer = await star_for_callback(call)
    root = await call.press(offer.find("Gather"), "09012345678#")
    assert spoken(root)[0] == "Sorry, that number was not recognised."
    assert root.find("Gather") is not None
    assert routing.by_ref(call.sid).view.state is ContactState.QUEUED


async def test_a_withheld_caller_is_asked_for_a_number(player: TwilioPlayer,
                                                        routing: FakeRouting) -> None:
    call = a_call(player, caller="anonymous")
    offer = await star_for_callback(call)
    assert "Please enter the number" in spoken(offer)[0]
    again = await call.press(offer.find("Gather"), "1")
    assert again.find("Gather") is not None  # "1" alone is not a number
    await call.press(again.find("Gather"), "07700900789#")
    assert routing.by_ref(call.sid).view.callback_number == "+447700900789"


async def test_any_other_key_on_hold_keeps_holding(player: TwilioPlayer) -> None:
    call = a_call(player)
    enqueue = (await queued_by_speech(call)).find("Enqueue")
    hold = await call.post(enqueue.attrib["waitUrl"])
    root = await call.post(hold.find("Gather").attrib["action"], Digits="5")
    assert root.find("Redirect").text == enqueue.attrib["waitUrl"]


# -- failures are safe -------------------------------------------------------------------------
async def test_a_failing_webhook_answers_with_a_spoken_apology(player: TwilioPlayer) -> None:
    call = a_call(player)
    root = await call.post(f"{PUBLIC_URL}/twilio/voice/wait?c=no-such-contact&lang=cy")
    assert root.find("Hangup") is not None
    assert spoken(root) == ["Mae'n ddrwg gen i, aeth rhywbeth o'i le. Ffoniwch eto os gwelwch "
                            "yn dda."]


async def test_routing_down_still_gets_safe_twiml(player: TwilioPlayer,
                                                  routing: FakeRouting) -> None:
    async def broken(_request: object) -> None:
        raise RuntimeError("database is down")

    routing.submit = broken  # type: ignore[method-assign]
    root = await queued_by_speech(a_call(player))
    assert spoken(root) == ["Sorry, something went wrong. Please call again."]


async def test_state_is_observable(tclient: TestClient) -> None:
    tel = tclient.app[TELEPHONY]
    assert "twilio" in repr(tel) and PUBLIC_URL in repr(tel)


async def test_every_url_twiml_names_is_a_signed_webhook_under_the_public_url(
        player: TwilioPlayer, tclient: TestClient) -> None:
    call = a_call(player)
    greeting = await call.dial_in()
    menu = await call.silence((await call.silence(greeting.find("Gather"))).find("Gather"))
    queued = await call.press(menu.find("Gather"), "1")
    enqueue = queued.find("Enqueue")
    hold = await call.post(enqueue.attrib["waitUrl"])
    offer = await call.post(enqueue.attrib["action"], QueueResult="leave")
    named = {url for doc in (greeting, menu, queued, hold, offer) for url in urls_in(doc)}
    assert len(named) >= 6
    for url in named:
        assert url.startswith(PUBLIC_URL + "/twilio/voice")
        unsigned = await tclient.post(player.path_of(url), data=call.params())
        assert unsigned.status == 403, url
