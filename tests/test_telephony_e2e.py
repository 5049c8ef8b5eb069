"""Voice end to end: the test plays Twilio (signed webhooks, TwiML followed, REST requests
answered by the local Twilio fake) and the expert desk (through the routing test double).

Scenarios: speech triage -> queue -> expert accepts -> bridged -> hang-up -> wrap-up; expert
no-answer -> back in place -> next expert; caller abandons (in the queue, during an offer,
while the expert rings); callback requested and served, with retries; Welsh caller; desk ends
the call; duplicate status callbacks harmless.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp.test_utils import TestClient

from router.ports import ContactState, ExpertEndpoint
from telephony.service import TELEPHONY, Telephony
from tests.telephony_support import (
    ACCOUNT,
    AUTH_TOKEN,
    NUMBER,
    PUBLIC_URL,
    FakeRouting,
    ManualScheduler,
    PhoneCall,
    TwilioPlayer,
    spoken,
    telephony_app,
    telephony_config,
)
from tests.twilio_fake import FakeCall, TwilioFake

ClientMaker = Callable[..., Awaitable[TestClient]]
NURSE = ExpertEndpoint("nurse-1", phone="+447700900999")
DESK = ExpertEndpoint("nurse-2", client_identity="desk-nurse-2", phone="+447700900998")
SIP = ExpertEndpoint("nurse-3", sip_address="nurse3@pbx.example.nhs.uk")


@pytest.fixture
def routing() -> FakeRouting:
    return FakeRouting()


@pytest.fixture
def scheduler() -> ManualScheduler:
    return ManualScheduler()


@pytest.fixture
async def twilio_rest() -> AsyncIterator[TwilioFake]:
    fake = await TwilioFake(ACCOUNT, AUTH_TOKEN).start()
    yield fake
    await fake.close()


@pytest.fixture
async def tclient(aiohttp_client: ClientMaker, tmp_path: Path, routing: FakeRouting,
                  twilio_rest: TwilioFake, scheduler: ManualScheduler) -> TestClient:
    config = telephony_config(tmp_path, twilio=True, api_url=twilio_rest.url)
    return await aiohttp_client(telephony_app(config, routing, schedule=scheduler))


@pytest.fixture
def tel(tclient: TestClient) -> Telephony:
    return tclient.app[TELEPHONY]


@pytest.fixture
def player(tclient: TestClient) -> TwilioPlayer:
    return TwilioPlayer(tclient)


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def queued_caller(player: TwilioPlayer, routing: FakeRouting, *, n: int = 1,
                        words: str = "my mum has dementia") -> tuple[PhoneCall, str, ET.Element]:
    call = PhoneCall(player, f"CA{n:032d}", f"+4477009001{n:02d}")
    greeting = await call.dial_in()
    root = await call.say(greeting.find("Gather"), words)
    enqueue = root.find("Enqueue")
    return call, routing.by_ref(call.sid).view.contact_id, enqueue


async def accepted(routing: FakeRouting, tel: Telephony, contact_id: str,
                   expert: ExpertEndpoint = NURSE) -> None:
    await routing.assign(contact_id, expert)
    await tel.idle()


def last_dialled(twilio_rest: TwilioFake) -> FakeCall:
    return twilio_rest.dialled()[-1]


def leg_params(sid: str, to: str, **extra: str) -> dict[str, str]:
    return {"CallSid": sid, "AccountSid": ACCOUNT, "From": NUMBER, "To": to,
            "Direction": "outbound-api", "CallStatus": "in-progress", **extra}


async def conference_event(player: TwilioPlayer, status_url: str, event: str,
                           sid: str = "", **extra: str) -> None:
    params = {"AccountSid": ACCOUNT, "ConferenceSid": "CF" + "9" * 32,
              "FriendlyName": query(status_url)["conf"], "StatusCallbackEvent": event, **extra}
    if sid:
        params["CallSid"] = sid
    root = await player.post(status_url, params)
    assert list(root) == []


async def test_speech_to_bridged_to_wrapup(player: TwilioPlayer, routing: FakeRouting,
                                           tel: Telephony, twilio_rest: TwilioFake) -> None:
    call, cid, enqueue = await queued_caller(player, routing,
                                             words="my dad has dementia and keeps wandering")
    await accepted(routing, tel, cid)

    # Twilio was asked to move the caller out of the queue, then to ring the expert.
    (redirect,) = twilio_rest.of("update_call")
    assert redirect.target == call.sid
    join_url = redirect.one("Url")
    assert join_url.startswith(PUBLIC_URL + "/twilio/voice/join?") and "role=caller" in join_url
    dialled = last_dialled(twilio_rest)
    expert_sid = dialled.sid
    assert dialled.to == NURSE.phone and dialled.from_ == NUMBER
    assert dialled.status_callback.startswith(PUBLIC_URL + "/twilio/voice/status?")
    conference = query(join_url)["conf"]
    assert conference.startswith("xl-") and call.caller[-6:] not in conference

    # The caller leaves the queue (Twilio reports it) and joins the conference, waiting.
    assert list(await call.post(enqueue.attrib["action"], QueueResult="redirected")) == []
    joined = await call.post(join_url)
    conf_el = joined.find("Dial/Conference")
    assert conf_el.text == conference
    assert conf_el.attrib["startConferenceOnEnter"] == "false"
    assert conf_el.attrib["endConferenceOnExit"] == "true"
    assert "Connecting you" in spoken(await call.post(conf_el.attrib["waitUrl"]))[0]

    # The expert's phone: the whisper names the subject and the wait; 1 joins.
    whisper = await player.post(dialled.url, leg_params(expert_sid, NURSE.phone))
    assert "about dementia" in spoken(whisper)[0] and "1 minute" in spoken(whisper)[0]
    gather = whisper.find("Gather")
    inside = await player.post(gather.attrib["action"],
                               leg_params(expert_sid, NURSE.phone, Digits="1"))
    expert_conf = inside.find("Dial/Conference")
    assert expert_conf.text == conference
    assert expert_conf.attrib["startConferenceOnEnter"] == "true"
    status_url = expert_conf.attrib["statusCallback"]

    await conference_event(player, status_url, "participant-join", call.sid)
    await conference_event(player, status_url, "participant-join", expert_sid)
    assert tel.connector.bridge(cid).phase == "bridged"
    assert routing.state(cid) is ContactState.CONNECTED

    # The caller hangs up: the session ends (wrap-up); repeats and late callbacks are harmless.
    await conference_event(player, status_url, "participant-leave", call.sid)
    await conference_event(player, status_url, "conference-end",
                           CallSidEndingConference=call.sid)
    await conference_event(player, status_url, "conference-end",
                           CallSidEndingConference=call.sid)
    await player.post(dialled.status_callback,
                      leg_params(expert_sid, NURSE.phone, CallStatus="completed"))
    assert routing.state(cid) is ContactState.WRAPUP
    assert routing.contacts[cid].reasons[-1] == "ended by citizen"
    assert len(twilio_rest.of("update_call")) == 1  # nothing else asked of Twilio


async def test_expert_no_answer_keeps_the_place_and_the_next_expert_gets_it(
        player: TwilioPlayer, routing: FakeRouting, tel: Telephony,
        twilio_rest: TwilioFake) -> None:
    call, cid, _ = await queued_caller(player, routing, n=1)
    await queued_caller(player, routing, n=2)
    await accepted(routing, tel, cid, NURSE)
    first = last_dialled(twilio_rest)
    first_sid = first.sid
    await player.post(first.status_callback,
                      leg_params(first_sid, NURSE.phone, CallStatus="ringing"))
    assert routing.state(cid) is ContactState.CONNECTED  # still ringing: nothing yet
    await player.post(first.status_callback,
                      leg_params(first_sid, NURSE.phone, CallStatus="no-answer"))
    assert routing.state(cid) is ContactState.QUEUED
    assert (await routing.position(cid)).position == 1  # back in its place, ahead of caller 2
    back = twilio_rest.of("update_call")[-1]
    assert back.target == call.sid and "why=requeued" in back.one("Url")
    hold = await call.post(back.one("Url"))
    assert "You keep your place" in spoken(hold)[0] and hold.find("Enqueue") is not None

    await accepted(routing, tel, cid, DESK)
    second = last_dialled(twilio_rest)
    second_sid = second.sid
    assert second.to == "client:desk-nurse-2"
    root = await player.post(second.url, leg_params(second_sid, "client:desk-nurse-2"))
    conf = root.find("Dial/Conference")
    assert conf is not None and root.find("Gather") is None  # a desk client joins directly
    assert conf.text != query(first.url)["conf"]


async def test_expert_declines_the_whisper(player: TwilioPlayer, routing: FakeRouting,
                                           tel: Telephony, twilio_rest: TwilioFake) -> None:
    _, cid, _ = await queued_caller(player, routing)
    await accepted(routing, tel, cid)
    dialled = last_dialled(twilio_rest)
    sid = dialled.sid
    whisper = await player.post(dialled.url, leg_params(sid, NURSE.phone))
    root = await player.post(whisper.find("Gather").attrib["action"],
                             leg_params(sid, NURSE.phone))  # no key pressed
    assert root.find("Hangup") is not None
    assert routing.state(cid) is ContactState.QUEUED
    assert routing.contacts[cid].reasons[-1] == "expert did not accept the call"


async def test_sip_expert_is_dialled_by_sip_uri(player: TwilioPlayer, routing: FakeRouting,
                                                tel: Telephony, twilio_rest: TwilioFake) -> None:
    _, cid, _ = await queued_caller(player, routing)
    await accepted(routing, tel, cid, SIP)
    dialled = last_dialled(twilio_rest)
    assert dialled.to == "sip:nurse3@pbx.example.nhs.uk"


async def test_caller_hangs_up_during_an_offer(player: TwilioPlayer, routing: FakeRouting,
                                               twilio_rest: TwilioFake) -> None:
    call, cid, enqueue = await queued_caller(player, routing)
    routing.offer(cid, "nurse-1")
    await call.post(enqueue.attrib["action"], QueueResult="hangup", QueueTime="65")
    assert routing.state(cid) is ContactState.ABANDONED
    assert routing.contacts[cid].waited_s == 65.0
    assert twilio_rest.requests == []


async def test_caller_hangs_up_while_the_expert_rings(player: TwilioPlayer,
                                                      routing: FakeRouting, tel: Telephony,
                                                      twilio_rest: TwilioFake) -> None:
    call, cid, _ = await queued_caller(player, routing)
    await accepted(routing, tel, cid)
    expert_sid = last_dialled(twilio_rest).sid
    joined = await call.post(twilio_rest.of("update_call")[0].one("Url"))
    status_url = joined.find("Dial/Conference").attrib["statusCallback"]
    await conference_event(player, status_url, "participant-leave", call.sid)
    assert routing.state(cid) is ContactState.ABANDONED
    cancel = twilio_rest.of("update_call")[-1]
    assert cancel.target == expert_sid and cancel.form == {"Status": ["completed"]}


async def test_caller_gone_before_the_redirect(player: TwilioPlayer, routing: FakeRouting,
                                               tel: Telephony, twilio_rest: TwilioFake) -> None:
    call, cid, _ = await queued_caller(player, routing)
    twilio_rest.hang_up(call.sid)
    await accepted(routing, tel, cid)
    assert routing.state(cid) is ContactState.ABANDONED
    assert twilio_rest.of("create_call") == []  # no expert rung for a caller who has gone


async def test_desk_ends_a_bridged_call(player: TwilioPlayer, routing: FakeRouting,
                                        tel: Telephony, twilio_rest: TwilioFake) -> None:
    call, cid, _ = await queued_caller(player, routing)
    await routing.assign(cid, DESK)
    await tel.idle()
    dialled = last_dialled(twilio_rest)
    expert_sid = dialled.sid
    root = await player.post(dialled.url, leg_params(expert_sid, "client:desk-nurse-2"))
    status_url = root.find("Dial/Conference").attrib["statusCallback"]
    await conference_event(player, status_url, "participant-join", expert_sid)
    await routing.complete(cid)
    await tel.idle()
    ended = {r.target for r in twilio_rest.of("update_call") if r.form.get("Status")}
    assert ended == {expert_sid, call.sid}


async def test_welsh_caller_is_queued_with_a_welsh_requirement(
        player: TwilioPlayer, routing: FakeRouting, tel: Telephony,
        twilio_rest: TwilioFake) -> None:
    call = PhoneCall(player, "CA" + "7" * 32)
    greeting = await call.dial_in()
    welsh = await call.say(greeting.find("Gather"), "Cymraeg")
    await call.say(welsh.find("Gather"), "dementia")
    contact = routing.by_ref(call.sid)
    assert contact.request.language == "cy"
    await accepted(routing, tel, contact.view.contact_id)
    join_url = twilio_rest.of("update_call")[0].one("Url")
    assert query(join_url)["lang"] == "cy"
    root = await call.post(join_url)
    wait = root.find("Dial/Conference").attrib["waitUrl"]
    assert spoken(await call.post(wait))[0] == "Rydym yn eich cysylltu ag arbenigwr nawr."


async def test_a_repeated_assignment_dials_once(player: TwilioPlayer, routing: FakeRouting,
                                                tel: Telephony, twilio_rest: TwilioFake) -> None:
    _, cid, _ = await queued_caller(player, routing)
    await accepted(routing, tel, cid)
    await accepted(routing, tel, cid)
    assert len(twilio_rest.of("create_call")) == 1


# -- callbacks ---------------------------------------------------------------------------------
async def callback_contact(player: TwilioPlayer, routing: FakeRouting) -> tuple[PhoneCall, str]:
    call, cid, enqueue = await queued_caller(player, routing)
    await call.post(enqueue.attrib["action"], QueueResult="leave")
    offer = await call.post(f"{PUBLIC_URL}/twilio/voice/callback?c={cid}&lang=en", Digits="1")
    assert offer.find("Hangup") is not None
    await player.post(f"{PUBLIC_URL}/twilio/voice/status", call.params(CallStatus="completed"))
    assert routing.state(cid) is ContactState.CALLBACK  # hanging up after asking is not leaving
    return call, cid


async def expert_in_for_callback(player: TwilioPlayer, routing: FakeRouting, tel: Telephony,
                                 twilio_rest: TwilioFake, cid: str) -> str:
    await accepted(routing, tel, cid)
    assert twilio_rest.of("update_call") == []  # nobody to redirect: the caller hung up
    dialled = last_dialled(twilio_rest)
    expert_sid = dialled.sid
    whisper = await player.post(dialled.url, leg_params(expert_sid, NURSE.phone))
    assert "callback about dementia" in spoken(whisper)[0]
    inside = await player.post(whisper.find("Gather").attrib["action"],
                               leg_params(expert_sid, NURSE.phone, Digits="1"))
    assert spoken(inside) == ["Calling the citizen now. Please hold."]
    status_url = inside.find("Dial/Conference").attrib["statusCallback"]
    await conference_event(player, status_url, "participant-join", expert_sid)
    await tel.idle()
    return status_url


async def test_callback_served_expert_first_then_citizen(
        player: TwilioPlayer, routing: FakeRouting, tel: Telephony,
        twilio_rest: TwilioFake) -> None:
    call, cid = await callback_contact(player, routing)
    status_url = await expert_in_for_callback(player, routing, tel, twilio_rest, cid)
    citizen = last_dialled(twilio_rest)
    citizen_sid = citizen.sid
    assert citizen.to == call.caller and citizen.from_ == NUMBER
    root = await player.post(citizen.url, leg_params(citizen_sid, call.caller))
    assert "calling you back" in spoken(root)[0]
    assert root.find("Dial/Conference").text == query(status_url)["conf"]
    await conference_event(player, status_url, "participant-join", citizen_sid)
    await conference_event(player, status_url, "conference-end",
                           CallSidEndingConference=citizen_sid)
    assert routing.state(cid) is ContactState.WRAPUP


async def test_callback_retries_then_fails_with_a_record(
        player: TwilioPlayer, routing: FakeRouting, tel: Telephony, twilio_rest: TwilioFake,
        scheduler: ManualScheduler) -> None:
    call, cid = await callback_contact(player, routing)
    await expert_in_for_callback(player, routing, tel, twilio_rest, cid)
    delays = []
    for _ in range(3):
        citizen = last_dialled(twilio_rest)
        sid = citizen.sid
        assert citizen.to == call.caller
        await player.post(citizen.status_callback,
                          leg_params(sid, call.caller, CallStatus="no-answer"))
        delays += await scheduler.run_due()
    assert delays == [120.0, 120.0]
    assert len([c for c in twilio_rest.dialled() if c.to == call.caller]) == 3
    assert routing.state(cid) is ContactState.FAILED
    assert routing.contacts[cid].reasons[-1] == "the citizen did not answer 3 callback attempts"
    hung_up = twilio_rest.of("update_call")[-1]
    assert hung_up.form == {"Status": ["completed"]}  # the waiting expert is released


async def test_callback_answered_on_the_second_attempt(
        player: TwilioPlayer, routing: FakeRouting, tel: Telephony, twilio_rest: TwilioFake,
        scheduler: ManualScheduler) -> None:
    call, cid = await callback_contact(player, routing)
    status_url = await expert_in_for_callback(player, routing, tel, twilio_rest, cid)
    first = last_dialled(twilio_rest)
    first_sid = first.sid
    await player.post(first.status_callback,
                      leg_params(first_sid, call.caller, CallStatus="busy"))
    await scheduler.run_due()
    second_sid = last_dialled(twilio_rest).sid
    await conference_event(player, status_url, "participant-join", second_sid)
    assert tel.connector.bridge(cid).phase == "bridged"
    assert routing.state(cid) is ContactState.CONNECTED


async def test_finished_bridges_are_forgotten_beyond_a_bound(
        player: TwilioPlayer, routing: FakeRouting, tel: Telephony,
        twilio_rest: TwilioFake) -> None:
    tel.connector.keep_done = 1
    for n in range(1, 5):
        _, cid, _ = await queued_caller(player, routing, n=n)
        await accepted(routing, tel, cid)
        dialled = last_dialled(twilio_rest)
        await player.post(dialled.status_callback,
                          leg_params(dialled.sid, NURSE.phone, CallStatus="failed"))
    assert repr(tel.connector) == "<Connector 0 live bridges, 2 remembered>"


async def test_a_caller_whose_contact_the_engine_gave_up_on_hears_goodbye(
        player: TwilioPlayer, routing: FakeRouting, tel: Telephony,
        twilio_rest: TwilioFake) -> None:
    call, cid, _ = await queued_caller(player, routing)
    await routing.give_up(cid)
    await tel.idle()
    (redirect,) = twilio_rest.of("update_call")
    assert redirect.target == call.sid
    root = await call.post(redirect.one("Url"))
    assert spoken(root) == ["Sorry, we could not connect you this time. Please call again."]
    assert root.find("Hangup") is not None
