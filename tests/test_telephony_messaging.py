"""SMS and WhatsApp end to end: signed inbound webhooks on a real server, the expert's side
sent through the real gateway to the local Twilio fake, opt-outs respected."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from router.ports import Channel, ContactState, ExpertEndpoint, Medium
from telephony.messaging import Keyword, keyword
from telephony.service import TELEPHONY, Telephony
from tests.telephony_support import (
    ACCOUNT,
    AUTH_TOKEN,
    NUMBER,
    FakeRouting,
    TwilioPlayer,
    telephony_app,
    telephony_config,
)
from tests.twilio_fake import TwilioFake

ClientMaker = Callable[..., Awaitable[TestClient]]
SMS_FROM, WA_FROM = "+447700900321", "whatsapp:+447700900654"
NURSE = ExpertEndpoint("nurse-1")


@pytest.fixture
def routing() -> FakeRouting:
    return FakeRouting()


@pytest.fixture
async def twilio_rest() -> AsyncIterator[TwilioFake]:
    fake = await TwilioFake(ACCOUNT, AUTH_TOKEN).start()
    yield fake
    await fake.close()


@pytest.fixture
async def tclient(aiohttp_client: ClientMaker, tmp_path: Path, routing: FakeRouting,
                  twilio_rest: TwilioFake) -> TestClient:
    config = telephony_config(tmp_path, twilio=True, api_url=twilio_rest.url)
    return await aiohttp_client(telephony_app(config, routing))


@pytest.fixture
def tel(tclient: TestClient) -> Telephony:
    return tclient.app[TELEPHONY]


class Texter:
    """A citizen texting the public number; each message gets a fresh MessageSid."""

    def __init__(self, player: TwilioPlayer, sender: str) -> None:
        self.player, self.sender, self.n = player, sender, 0

    async def send(self, body: str, *, sid: str | None = None) -> str:
        """The reply's text ("" when Twilio is told to send nothing)."""
        self.n += 1
        sid = sid or f"SM{self.sender[-3:]}{self.n:029d}"
        to = "whatsapp:" + NUMBER if self.sender.startswith("whatsapp:") else NUMBER
        root = await self.player.post("/twilio/messaging", {
            "MessageSid": sid, "SmsSid": sid, "AccountSid": ACCOUNT, "From": self.sender,
            "To": to, "Body": body, "NumMedia": "0"})
        return " ".join(m.text or "" for m in root.iter("Message"))


@pytest.fixture
def sms(tclient: TestClient) -> Texter:
    return Texter(TwilioPlayer(tclient), SMS_FROM)


@pytest.fixture
def whatsapp(tclient: TestClient) -> Texter:
    return Texter(TwilioPlayer(tclient), WA_FROM)


def sent_to(twilio_rest: TwilioFake, to: str) -> list[str]:
    return [r.one("Body") for r in twilio_rest.of("create_message") if r.one("To") == to]


async def test_first_message_is_triaged_into_a_chat_contact(sms: Texter,
                                                             routing: FakeRouting) -> None:
    reply = await sms.send("My mum has dementia and I don't know where to start")
    (contact,) = routing.contacts.values()
    assert (contact.request.channel, contact.request.medium) == (Channel.CHAT, Medium.SMS)
    assert contact.request.skill == "dementia" and contact.request.address == SMS_FROM
    assert contact.request.external_ref.startswith("SM")
    assert "expert in dementia" in reply and "You are next in the queue." in reply
    assert "Reply BYE to finish" in reply


async def test_a_retried_message_changes_nothing(sms: Texter, routing: FakeRouting) -> None:
    await sms.send("we have been evicted", sid="SM" + "5" * 32)
    again = await sms.send("we have been evicted", sid="SM" + "5" * 32)
    assert again == ""
    assert len(routing.contacts) == 1 and routing.relayed == []


async def test_conversation_both_ways(sms: Texter, routing: FakeRouting, tel: Telephony,
                                      twilio_rest: TwilioFake) -> None:
    await sms.send("I'm a carer for my husband")
    (cid,) = routing.contacts
    assert await sms.send("he has stopped eating") == ""
    assert routing.relayed == [(cid, "he has stopped eating")]
    await routing.assign(cid, NURSE)
    await routing.expert_says(cid, "Hello, I'm Sam. How long has this been going on?")
    await tel.idle()
    assert sent_to(twilio_rest, SMS_FROM) == [
        "You are now talking to an expert in carers support. Reply BYE to finish, or STOP to "
        "stop all messages.", "Hello, I'm Sam. How long has this been going on?"]
    assert {r.one("From") for r in twilio_rest.of("create_message")} == {NUMBER}
    await sms.send("about a week")
    assert routing.relayed[-1] == (cid, "about a week")
    assert len(routing.contacts) == 1


async def test_whatsapp_replies_go_out_on_whatsapp(whatsapp: Texter, routing: FakeRouting,
                                                   tel: Telephony,
                                                   twilio_rest: TwilioFake) -> None:
    await whatsapp.send("we are homeless tonight")
    (contact,) = routing.contacts.values()
    assert contact.request.medium is Medium.WHATSAPP
    await routing.expert_says(contact.view.contact_id, "Where are you now?")
    await tel.idle()
    (sent,) = twilio_rest.of("create_message")
    assert sent.one("To") == WA_FROM and sent.one("From") == "whatsapp:" + NUMBER


async def test_stop_ends_the_conversation_and_silences_the_number(
        sms: Texter, routing: FakeRouting, tel: Telephony, twilio_rest: TwilioFake) -> None:
    await sms.send("my mum has dementia")
    (cid,) = routing.contacts
    await routing.assign(cid, NURSE)
    assert await sms.send("STOP") == ""
    assert routing.state(cid) is ContactState.WRAPUP
    await routing.expert_says(cid, "Are you still there?")
    await tel.idle()
    assert "Are you still there?" not in sent_to(twilio_rest, SMS_FROM)
    assert await sms.send("hello?") == ""
    assert len(routing.contacts) == 1 and routing.relayed == []


async def test_start_resumes(sms: Texter, whatsapp: Texter, routing: FakeRouting) -> None:
    await sms.send("unsubscribe")
    assert await sms.send("START") == ""  # Twilio itself confirms on SMS
    await whatsapp.send("stop")
    assert "receive our messages again" in await whatsapp.send("yes")
    await sms.send("my mum has dementia")
    assert len(routing.contacts) == 1


async def test_stop_while_waiting_is_an_abandonment(sms: Texter, routing: FakeRouting) -> None:
    await sms.send("my mum has dementia")
    (cid,) = routing.contacts
    await sms.send("Cancel")
    assert routing.state(cid) is ContactState.ABANDONED


async def test_bye_closes_without_opting_out(sms: Texter, routing: FakeRouting,
                                             tel: Telephony, twilio_rest: TwilioFake) -> None:
    await sms.send("my mum has dementia")
    (cid,) = routing.contacts
    await routing.assign(cid, NURSE)
    assert await sms.send("bye!") == "Thank you. This conversation has ended."
    assert routing.state(cid) is ContactState.WRAPUP
    await sms.send("actually one more thing: we have been evicted")
    assert len(routing.contacts) == 2  # a new conversation, not silenced


async def test_the_expert_ends_it(sms: Texter, routing: FakeRouting, tel: Telephony,
                                  twilio_rest: TwilioFake) -> None:
    await sms.send("my mum has dementia")
    (cid,) = routing.contacts
    await routing.assign(cid, NURSE)
    await routing.complete(cid)
    await tel.idle()
    assert sent_to(twilio_rest, SMS_FROM)[-1] == ("This conversation has ended. Message us "
                                                  "again any time.")


async def test_cymraeg_gets_a_welsh_contact_and_reply(sms: Texter, routing: FakeRouting) -> None:
    reply = await sms.send("Cymraeg os gwelwch yn dda, mae gan mam dementia")
    (contact,) = routing.contacts.values()
    assert contact.request.language == "cy"
    assert "Rydym yn chwilio am arbenigwr dementia" in reply


async def test_unsigned_message_is_refused(tclient: TestClient, routing: FakeRouting) -> None:
    resp = await tclient.post("/twilio/messaging", data={"MessageSid": "SM1", "From": SMS_FROM,
                                                         "Body": "my mum has dementia"})
    assert resp.status == 403
    assert routing.contacts == {}


@pytest.mark.parametrize(("body", "opted_out", "expected"), [
    ("STOP", False, Keyword.OPT_OUT), (" stop. ", False, Keyword.OPT_OUT),
    ("Unsubscribe", False, Keyword.OPT_OUT), ("end", False, Keyword.OPT_OUT),
    ("quit!", False, Keyword.OPT_OUT), ("STOPALL", True, Keyword.OPT_OUT),
    ("start", True, Keyword.OPT_IN), ("UNSTOP", False, Keyword.OPT_IN),
    ("yes", True, Keyword.OPT_IN), ("yes", False, None),
    ("bye", False, Keyword.CLOSE), ("Hwyl", False, Keyword.CLOSE),
    ("please stop the eviction", False, None), ("", False, None), ("stop it now", False, None),
])
def test_keywords(body: str, opted_out: bool, expected: Keyword | None) -> None:
    assert keyword(body, opted_out=opted_out) is expected
