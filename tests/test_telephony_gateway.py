"""The outbound gateway: the real twilio client against the local Twilio fake, and loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from base.config import TwilioConfig
from telephony.gateway import CallRequest, GatewayError, LoopbackGateway, TwilioGateway
from tests.twilio_fake import TwilioFake

ACCOUNT, TOKEN = "AC" + "1" * 32, "secret-token"


@pytest.fixture
async def fake() -> AsyncIterator[TwilioFake]:
    fake = await TwilioFake(ACCOUNT, TOKEN).start()
    yield fake
    await fake.close()


@pytest.fixture
async def gateway(fake: TwilioFake) -> AsyncIterator[TwilioGateway]:
    gw = TwilioGateway(TwilioConfig(account_sid=ACCOUNT, auth_token=TOKEN, number="+441000000000",
                                    api_url=fake.url))
    yield gw
    await gw.close()


CALL = CallRequest(to="+447700900111", from_="+441000000000",
                   url="https://x.example/twilio/voice/expert?c=c1",
                   status_callback="https://x.example/twilio/voice/status?c=c1&leg=expert")


async def test_create_call_sends_what_twilio_needs(fake: TwilioFake,
                                                   gateway: TwilioGateway) -> None:
    sid = await gateway.create_call(CALL)
    (sent,) = fake.of("create_call")
    assert sid.startswith("CA") and sid in fake.calls
    assert sent.path == f"/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
    assert sent.one("To") == "+447700900111" and sent.one("Url") == CALL.url
    assert sent.one("StatusCallback") == CALL.status_callback
    assert sent.form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert sent.one("Timeout") == "20"


async def test_redirect_and_end_update_the_call(fake: TwilioFake,
                                                gateway: TwilioGateway) -> None:
    sid = await gateway.create_call(CALL)
    await gateway.redirect_call(sid, "https://x.example/twilio/voice/join?c=c1")
    await gateway.end_call(sid)
    redirect, end = fake.of("update_call")
    assert redirect.target == sid and redirect.one("Url").endswith("/join?c=c1")
    assert redirect.one("Method") == "POST"
    assert end.form == {"Status": ["completed"]}
    assert fake.calls[sid].status == "completed"


async def test_redirecting_an_ended_call_is_a_gateway_error(fake: TwilioFake,
                                                             gateway: TwilioGateway) -> None:
    sid = await gateway.create_call(CALL)
    fake.hang_up(sid)
    with pytest.raises(GatewayError) as caught:
        await gateway.redirect_call(sid, "https://x.example/twilio/voice/join")
    assert caught.value.status == 400 and caught.value.code == 21220


async def test_send_message(fake: TwilioFake, gateway: TwilioGateway) -> None:
    sid = await gateway.send_message(to="whatsapp:+447700900222",
                                     from_="whatsapp:+441000000000", body="Hello")
    (sent,) = fake.of("create_message")
    assert sid.startswith("SM")
    assert sent.form == {"To": ["whatsapp:+447700900222"], "From": ["whatsapp:+441000000000"],
                         "Body": ["Hello"]}


async def test_wrong_credentials_are_refused(fake: TwilioFake) -> None:
    gw = TwilioGateway(TwilioConfig(account_sid=ACCOUNT, auth_token="wrong", api_url=fake.url))
    try:
        with pytest.raises(GatewayError) as caught:
            await gw.create_call(CALL)
    finally:
        await gw.close()
        await gw.close()  # safe twice
    assert caught.value.status == 401 and caught.value.code == 20003


async def test_unreachable_twilio_is_a_gateway_error() -> None:
    gw = TwilioGateway(TwilioConfig(account_sid=ACCOUNT, auth_token=TOKEN,
                                    api_url="http://127.0.0.1:9"))
    try:
        with pytest.raises(GatewayError):
            await gw.send_message(to="+447700900222", from_="+441000000000", body="x")
    finally:
        await gw.close()


async def test_loopback_records_and_keeps_redirects_for_the_caller() -> None:
    gw = LoopbackGateway()
    sid = await gw.create_call(CALL)
    await gw.redirect_call("CAcaller", "https://x.example/join")
    assert gw.take_redirect("CAcaller") == "https://x.example/join"
    assert gw.take_redirect("CAcaller") is None
    await gw.end_call(sid)
    assert gw.ended(sid)
    with pytest.raises(GatewayError):
        await gw.redirect_call(sid, "https://x.example/join")
    assert [s.action for s in gw.sent] == ["create_call", "redirect_call", "end_call"]
