"""Loopback mode (no Twilio credentials): the whole call flow offline, and the simulated
caller behind ``expertline call`` playing it against a real server."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from base.cli import Parser
from base.errors import BadRequest
from expertline.cli import context_of
from router.ports import ContactState, ExpertEndpoint
from telephony.cli import register_cli
from telephony.gateway import LoopbackGateway
from telephony.service import GATEWAY, TELEPHONY
from telephony.simcall import CallScript, Outcome, SimulatedCall
from tests.telephony_support import PUBLIC_URL, FakeRouting, telephony_app, telephony_config

ClientMaker = Callable[..., Awaitable[TestClient]]
NURSE = ExpertEndpoint("nurse-1", phone="+447700900999")


@pytest.fixture
def routing() -> FakeRouting:
    return FakeRouting()


@pytest.fixture
async def tclient(aiohttp_client: ClientMaker, tmp_path: Path,
                  routing: FakeRouting) -> TestClient:
    return await aiohttp_client(telephony_app(telephony_config(tmp_path, twilio=False), routing))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def simulated(tclient: TestClient, script: CallScript, lines: list[str], *,
              sleep: Callable[[float], Awaitable[None]], clock: Clock) -> SimulatedCall:
    return SimulatedCall(tclient.session, base_url=str(tclient.make_url("")),
                         public_url=PUBLIC_URL, auth_token="", script=script, timeout_s=30,
                         poll_s=5, report=lines.append, sleep=sleep, clock=clock)


async def test_simulated_caller_is_bridged_when_an_expert_accepts(
        tclient: TestClient, routing: FakeRouting) -> None:
    lines: list[str] = []
    clock = Clock()
    tel = tclient.app[TELEPHONY]

    async def expert_accepts_while_on_hold(seconds: float) -> None:
        clock.now += seconds
        (cid,) = routing.contacts
        await routing.assign(cid, NURSE)
        await tel.idle()

    call = simulated(tclient, CallScript(say="my mum has dementia"), lines,
                     sleep=expert_accepts_while_on_hold, clock=clock)
    assert await call.run() is Outcome.BRIDGED
    assert any("hears: Welcome to Expertline" in line for line in lines)
    assert '  says: "my mum has dementia"' in lines
    assert any("You are next in the queue." in line for line in lines)
    assert any(line.startswith("bridged: talking to an expert") for line in lines)
    assert routing.state(call.contact_id) is ContactState.WRAPUP  # the caller hung up after
    gateway = tclient.app[GATEWAY]
    assert isinstance(gateway, LoopbackGateway)
    assert [s.action for s in gateway.sent] == ["redirect_call", "create_call"]
    assert gateway.sent[1].to == NURSE.phone


async def test_simulated_caller_gives_up_after_the_timeout(tclient: TestClient,
                                                           routing: FakeRouting) -> None:
    lines: list[str] = []
    clock = Clock()

    async def time_passes(seconds: float) -> None:
        clock.now += seconds

    call = simulated(tclient, CallScript(say="Cymraeg", digits=""), lines, sleep=time_passes,
                     clock=clock)
    call.script.inputs.append(("SpeechResult", "we have been evicted"))
    assert await call.run() is Outcome.ABANDONED
    contact = routing.contacts[call.contact_id]
    assert contact.view.state is ContactState.ABANDONED and contact.waited_s == 30.0
    assert contact.request.language == "cy"
    assert sum("hears: Chi sydd nesaf yn y ciw." in line for line in lines) == 6


async def test_simulated_caller_with_another_public_url_says_which_to_use(
        tclient: TestClient) -> None:
    async def no_wait(_seconds: float) -> None:
        return None

    call = SimulatedCall(tclient.session, base_url=str(tclient.make_url("")),
                         public_url="http://127.0.0.1:1", auth_token="",
                         script=CallScript(say="my mum has dementia"), timeout_s=30, poll_s=5,
                         report=[].append, sleep=no_wait, clock=Clock())
    with pytest.raises(RuntimeError, match=r"outside the public URL .*EXPERTLINE_PUBLIC_URL"):
        await call.run()


async def test_loopback_accepts_unsigned_webhooks(tclient: TestClient) -> None:
    resp = await tclient.post("/twilio/voice", data={"CallSid": "CA" + "1" * 32})
    assert resp.status == 200 and "<Gather" in await resp.text()


async def test_the_loopback_endpoint_reports_redirects(tclient: TestClient) -> None:
    gateway = tclient.app[GATEWAY]
    await gateway.redirect_call("CAabc", PUBLIC_URL + "/twilio/voice/join?c=c1")
    first = await (await tclient.get("/twilio/loopback/calls/CAabc")).json()
    second = await (await tclient.get("/twilio/loopback/calls/CAabc")).json()
    assert first == {"redirect": PUBLIC_URL + "/twilio/voice/join?c=c1", "ended": False}
    assert second["redirect"] is None


async def test_no_loopback_endpoint_when_twilio_is_on(aiohttp_client: ClientMaker,
                                                      tmp_path: Path,
                                                      routing: FakeRouting) -> None:
    client = await aiohttp_client(telephony_app(telephony_config(tmp_path, twilio=True),
                                                routing))
    assert (await client.get("/twilio/loopback/calls/CAabc")).status == 404


def parse(argv: list[str]) -> argparse.Namespace:
    parser = Parser()
    parser.add_argument("--config")
    register_cli(parser.add_subparsers(dest="command", required=True, parser_class=Parser))
    return parser.parse_args(argv)


def test_call_command_reports_an_unreachable_server_in_one_line() -> None:
    args = parse(["call", "--say", "my mum has dementia", "--url", "http://127.0.0.1:9",
                  "--timeout", "5"])
    with pytest.raises(BadRequest) as caught:
        args.func(args, context_of(args, {}))
    assert "cannot reach http://127.0.0.1:9" in caught.value.message
    assert "\n" not in caught.value.message


def test_call_command_refuses_a_bad_timeout() -> None:
    args = parse(["call", "--say", "help", "--timeout", "0"])
    with pytest.raises(BadRequest):
        args.func(args, context_of(args, {}))
