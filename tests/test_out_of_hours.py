"""Local rules on the channels: calls (signed webhooks, the real twilio library's TwiML), web
chats (a real WebSocket) and texts on an organisation's line, decided on an injected clock
(the manual scheduler's: never the real time), with the data-sharing agreements and the
scheduled callbacks in the real database. The routing engine is the telephony test double."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient
from sqlmodel import select

from base.config import Config, load_config
from expertline.app import DATABASE
from router.ports import ContactState
from scheduler.service import Scheduler
from scheduler.tables import ScheduledCallbackRow
from skills.models import Organisation, SharingAgreement
from telephony import prompts
from tests.telephony_support import (
    AUTH_TOKEN,
    FakeRouting,
    ManualScheduler,
    PhoneCall,
    TwilioPlayer,
    spoken,
    telephony_app,
    telephony_config,
)
from tests.twilio_fake import TwilioFake

ClientMaker = Callable[..., Awaitable[TestClient]]
LONDON = ZoneInfo("Europe/London")
KINGSMERE, CALEDON, MEMORY_LANE = "+442079460001", "+441312345678", "+443001110000"
NATIONAL = "+443000000000"
SAFETY_SPOKEN = prompts.safety("en", spoken=True)
SAFETY_WRITTEN = prompts.safety("en", spoken=False)
KINGSMERE_CLOSED = "Kingsmere's advice line is closed. It is open 8 am to 8 pm on weekdays."
LOCAL = """
[local.kingsmere-council]
numbers = ["+442079460001"]
hours = {daily = "08:00-20:00", sat = "closed", sun = "closed"}
closed_on_bank_holidays = true
out_of_hours_message = "Kingsmere's advice line is closed. It is open 8 am to 8 pm on weekdays."
greeting = "Welcome to Kingsmere's advice line."
priority = 3

[local.nhs-caledon]
nation = "scotland"
numbers = ["+441312345678"]
hours = {daily = "08:00-20:00"}
closed_on_bank_holidays = true

[local.memory-lane-alliance]
numbers = ["+443001110000"]
hours = {daily = "09:00-17:00"}
fallback = "org:nhs-north-pennine"
out_of_hours_message = "Memory Lane's helpline is closed."
"""


def epoch(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2026, 4, day, hour, minute, tzinfo=LONDON).timestamp()


EASTER_MONDAY_10AM = epoch(6, 10)  # a bank holiday in England, not in Scotland
TUESDAY_10AM, TUESDAY_6PM, TUESDAY_9PM = epoch(7, 10), epoch(7, 18), epoch(7, 21)


@pytest.fixture
def routing() -> FakeRouting:
    return FakeRouting()


@pytest.fixture
def clock() -> ManualScheduler:
    return ManualScheduler(start=TUESDAY_9PM)


@pytest.fixture
async def twilio_rest() -> AsyncIterator[TwilioFake]:
    from tests.telephony_support import ACCOUNT

    fake = await TwilioFake(ACCOUNT, AUTH_TOKEN).start()
    yield fake
    await fake.close()


@pytest.fixture
def config(tmp_path: Path, twilio_rest: TwilioFake) -> Config:
    (tmp_path / "local.toml").write_text(LOCAL)
    local = load_config(tmp_path / "local.toml", {}).local
    config = telephony_config(tmp_path, twilio=True, api_url=twilio_rest.url)
    return dataclasses.replace(config, local=local)


@pytest.fixture
def holder() -> dict[str, Scheduler]:
    return {}


@pytest.fixture
async def tclient(aiohttp_client: ClientMaker, config: Config, routing: FakeRouting,
                  clock: ManualScheduler, holder: dict[str, Scheduler]) -> TestClient:
    """The channels, with the scheduler's real callback booking on the same database and
    clock; the data-sharing agreement between Memory Lane and North Pennine in force."""

    async def book(**booking: object) -> str:
        return await holder["scheduler"].book_callback(**booking)  # type: ignore[arg-type]

    app = telephony_app(config, routing, schedule=clock, book_callback=book)
    client = await aiohttp_client(app)
    holder["scheduler"] = Scheduler(
        sessions=app[DATABASE].session, config=config, availability=lambda: None,
        routing=lambda: routing, clock=lambda: datetime.fromtimestamp(clock.time(), LONDON))
    async with app[DATABASE].session() as session, session.begin():
        for org in ("memory-lane-alliance", "nhs-north-pennine", "kingsmere-council"):
            session.add(Organisation(id=org, name=org))
        session.add(SharingAgreement(org_a="memory-lane-alliance", org_b="nhs-north-pennine",
                                     purpose="dementia advice line overflow",
                                     starts_on=date(2024, 4, 1)))
    return client


@pytest.fixture
def player(tclient: TestClient) -> TwilioPlayer:
    return TwilioPlayer(tclient)


class LineCall(PhoneCall):
    """A call to one of the numbers (``called``), as Twilio reports it to each webhook."""

    def __init__(self, player: TwilioPlayer, n: int, called: str) -> None:
        super().__init__(player, f"CA{n:032d}")
        self.called = called

    def params(self, **extra: str) -> dict[str, str]:
        return {**super().params(), "To": self.called, **extra}


async def call_and_say(player: TwilioPlayer, called: str, words: str, n: int = 1):
    call = LineCall(player, n, called)
    greeting = await call.dial_in()
    return call, greeting, await call.say(greeting.find("Gather"), words)


# -- 999 first, in every call --------------------------------------------------------------------
@pytest.mark.parametrize("called", [NATIONAL, KINGSMERE, CALEDON])
async def test_every_call_starts_with_the_999_sentence(player: TwilioPlayer,
                                                       called: str) -> None:
    greeting = await LineCall(player, 1, called).dial_in()
    first = greeting.find("Say")
    assert first is not None and first.text == SAFETY_SPOKEN
    assert "hang up and call 999" in SAFETY_SPOKEN and "NHS 111" in SAFETY_SPOKEN
    assert first.attrib["language"] == "en-GB"
    assert greeting.find("Gather").find("Say").text != SAFETY_SPOKEN  # it cannot be talked over


async def test_the_welsh_path_starts_with_the_999_sentence_in_welsh(player: TwilioPlayer) -> None:
    call = LineCall(player, 1, NATIONAL)
    welsh = await call.press((await call.dial_in()).find("Gather"), "9")
    first = welsh.find("Say")
    assert first.text == prompts.safety("cy", spoken=True)
    assert "999" in first.text and first.attrib["language"] == "cy-GB"
    assert spoken(welsh)[1].startswith("Croeso i Expertline")


# -- open: as today, on the organisation's line ---------------------------------------------------
async def test_an_open_organisation_greets_in_its_own_words_and_routes_as_usual(
        player: TwilioPlayer, routing: FakeRouting, clock: ManualScheduler) -> None:
    clock.now = TUESDAY_10AM
    call, greeting, queued = await call_and_say(player, KINGSMERE, "we have been evicted")
    assert spoken(greeting)[1:3] == ["Welcome to Kingsmere's advice line.",
                                     "In a few words, please tell us what you need help with."]
    assert queued.find("Enqueue") is not None
    request = routing.by_ref(call.sid).request
    assert (request.skill, request.org, request.priority) == ("housing-homelessness",
                                                              "kingsmere-council", 3)
    assert spoken(queued) == ["Thank you. We are finding you an expert in housing homelessness."]


async def test_the_national_line_is_untouched_whatever_the_hour(
        player: TwilioPlayer, routing: FakeRouting) -> None:
    call, greeting, queued = await call_and_say(player, NATIONAL, "my mum has dementia")
    assert spoken(greeting)[1].startswith("Welcome to Expertline.")
    assert queued.find("Enqueue") is not None
    request = routing.by_ref(call.sid).request
    assert (request.org, request.priority) == (None, 0)


# -- closed --------------------------------------------------------------------------------------
async def test_an_out_of_hours_call_hears_the_organisations_message_and_a_callback_offer(
        player: TwilioPlayer, routing: FakeRouting) -> None:
    _call, _greeting, closed = await call_and_say(player, KINGSMERE, "we have been evicted")
    assert closed.find("Enqueue") is None and routing.contacts == {}
    said = spoken(closed)
    assert said[:2] == [KINGSMERE_CLOSED, "We open again at 8 am tomorrow."]
    gather = closed.find("Gather")
    assert "To be called back then on the number ending 1 2 3, press 1." in gather.find("Say").text
    assert gather.attrib["action"].startswith(
        "https://expertline.example.org/twilio/voice/out-of-hours-callback?")


async def test_an_english_bank_holiday_closes_england_while_scotland_routes_as_usual(
        player: TwilioPlayer, routing: FakeRouting, clock: ManualScheduler) -> None:
    clock.now = EASTER_MONDAY_10AM
    _call, _greeting, english = await call_and_say(player, KINGSMERE, "my mum has dementia", 1)
    assert spoken(english)[:2] == [KINGSMERE_CLOSED, "We open again at 8 am tomorrow."]
    assert english.find("Enqueue") is None
    scottish, _greeting, queued = await call_and_say(player, CALEDON, "my mum has dementia", 2)
    assert queued.find("Enqueue") is not None
    assert routing.by_ref(scottish.sid).request.org == "nhs-caledon"


async def test_the_standard_words_when_an_organisation_has_none(
        player: TwilioPlayer, clock: ManualScheduler) -> None:
    clock.now = epoch(7, 6, 30)
    _call, _greeting, closed = await call_and_say(player, CALEDON, "my mum has dementia")
    assert spoken(closed)[:2] == ["Sorry, this service is closed just now.",
                                  "We open again at 8 am today."]


async def test_the_partner_fallback_routes_to_the_partners_experts(
        player: TwilioPlayer, routing: FakeRouting, clock: ManualScheduler) -> None:
    clock.now = TUESDAY_6PM
    call, _greeting, queued = await call_and_say(player, MEMORY_LANE, "my mum has dementia")
    assert queued.find("Enqueue") is not None
    request = routing.by_ref(call.sid).request
    assert (request.org, request.skill) == ("nhs-north-pennine", "dementia")
    assert spoken(queued) == ["Memory Lane's helpline is closed.",
                              "We are passing you to a partner service that can help.",
                              "Thank you. We are finding you an expert in dementia."]


async def test_without_an_agreement_in_force_the_partner_is_not_used(
        player: TwilioPlayer, tclient: TestClient, routing: FakeRouting,
        clock: ManualScheduler) -> None:
    clock.now = TUESDAY_6PM
    async with tclient.app[DATABASE].session() as session, session.begin():
        agreement = (await session.exec(select(SharingAgreement))).one()
        agreement.ends_on = date(2026, 4, 6)  # ended yesterday
        session.add(agreement)
    _call, _greeting, closed = await call_and_say(player, MEMORY_LANE, "my mum has dementia")
    assert closed.find("Enqueue") is None and routing.contacts == {}
    assert spoken(closed)[:2] == ["Memory Lane's helpline is closed.",
                                  "We open again at 9 am tomorrow."]


async def test_the_callback_fallback_books_a_scheduled_callback_for_the_opening(
        player: TwilioPlayer, tclient: TestClient, routing: FakeRouting,
        clock: ManualScheduler, holder: dict[str, Scheduler]) -> None:
    call, _greeting, closed = await call_and_say(player, KINGSMERE, "we have been evicted")
    done = await call.press(closed.find("Gather"), "1")
    assert spoken(done) == ["Thank you. We will call you on the number ending 1 2 3 at 8 am "
                            "tomorrow. Goodbye."]
    assert done.find("Hangup") is not None
    again = await call.press(closed.find("Gather"), "1")  # a retried webhook books once
    assert spoken(again) == spoken(done)
    async with tclient.app[DATABASE].session() as session:
        (row,) = (await session.exec(select(ScheduledCallbackRow))).all()
    assert (row.number, row.skill, row.language, row.state) == (
        "+447700900123", "housing-homelessness", "en", "pending")
    assert row.due_at == epoch(8, 8)
    # when it opens, the scheduler submits it on Kingsmere's line, at its priority
    sched = holder["scheduler"]
    assert await sched.run_due_callbacks() == []
    clock.now = epoch(8, 8)
    assert await sched.run_due_callbacks() == [row.id]
    (contact,) = routing.contacts.values()
    assert (contact.request.org, contact.request.priority) == ("kingsmere-council", 3)
    assert contact.view.state is ContactState.CALLBACK
    assert contact.view.callback_number == "+447700900123"


async def test_a_typed_number_is_taken_and_silence_says_goodbye(
        player: TwilioPlayer, tclient: TestClient) -> None:
    call, _greeting, closed = await call_and_say(player, KINGSMERE, "we have been evicted")
    wrong = await call.press(closed.find("Gather"), "0909#")
    assert spoken(wrong)[0] == "Sorry, that number was not recognised."
    typed = await call.press(wrong.find("Gather"), "07700900456#")
    assert "number ending 4 5 6" in spoken(typed)[0]
    silent = LineCall(player, 2, KINGSMERE)
    gather = (await silent.say((await silent.dial_in()).find("Gather"),
                               "my mum has dementia")).find("Gather")
    bye = await silent.silence(gather)
    assert spoken(bye) == ["Please contact us again when we are open. Goodbye."]
    async with tclient.app[DATABASE].session() as session:
        rows = (await session.exec(select(ScheduledCallbackRow))).all()
    assert [r.number for r in rows] == ["+447700900456"]


# -- web chat ------------------------------------------------------------------------------------
async def hello(tclient: TestClient, text: str, **extra: str):
    ws = await tclient.ws_connect("/ws/chat")
    await ws.send_json({"type": "hello", "text": text, "language": "en", **extra})
    return ws, await ws.receive_json(timeout=5)


@pytest.mark.parametrize("org", [None, "kingsmere-council", "not-a-line"])
async def test_every_chats_first_message_starts_with_the_999_sentence(
        tclient: TestClient, routing: FakeRouting, clock: ManualScheduler,
        org: str | None) -> None:
    clock.now = TUESDAY_10AM
    ws, first = await hello(tclient, "my mum has dementia", **({"org": org} if org else {}))
    assert first["type"] == "queued"
    assert first["text"].startswith(SAFETY_WRITTEN + " Thank you.")
    assert routing.contacts[first["contact_id"]].request.org == (
        "kingsmere-council" if org == "kingsmere-council" else None)
    await ws.close()


async def test_a_closed_line_tells_the_chat_and_books_the_callback_it_asks_for(
        tclient: TestClient, routing: FakeRouting) -> None:
    ws, closed = await hello(tclient, "we have been evicted", org="kingsmere-council")
    assert closed == {
        "type": "closed", "skill": "housing-homelessness", "callback": True,
        "opens_at": "2026-04-08T08:00:00+01:00",
        "text": f"{SAFETY_WRITTEN} {KINGSMERE_CLOSED} We open again at 8 am tomorrow. If you "
                "would like us to ring you then, send us your phone number."}
    assert routing.contacts == {}
    await ws.send_json({"type": "callback", "number": "premium 0909"})
    refused = await ws.receive_json(timeout=5)
    assert (refused["type"], refused["code"]) == ("error", "invalid")
    await ws.send_json({"type": "callback", "number": "07700 900123"})
    assert await ws.receive_json(timeout=5) == {
        "type": "callback_booked",
        "text": "Thank you. We will ring you on the number ending 1 2 3 at 8 am tomorrow."}
    async with tclient.app[DATABASE].session() as session:
        (row,) = (await session.exec(select(ScheduledCallbackRow))).all()
    assert (row.number, row.created_by, row.due_at) == ("+447700900123",
                                                        "line:kingsmere-council", epoch(8, 8))
    await ws.close()


async def test_a_closed_line_passes_the_chat_to_its_partner(
        tclient: TestClient, routing: FakeRouting, clock: ManualScheduler) -> None:
    clock.now = TUESDAY_6PM
    ws, queued = await hello(tclient, "my mum has dementia", org="memory-lane-alliance")
    assert queued["type"] == "queued"
    assert routing.contacts[queued["contact_id"]].request.org == "nhs-north-pennine"
    assert queued["text"].startswith(
        f"{SAFETY_WRITTEN} Memory Lane's helpline is closed. We are passing you to a partner "
        "service that can help. Thank you.")
    await ws.close()


# -- texts ---------------------------------------------------------------------------------------
async def test_a_text_to_a_closed_line_is_told_so_and_queues_nothing(
        player: TwilioPlayer, routing: FakeRouting) -> None:
    root = await player.post("/twilio/messaging", {
        "MessageSid": "SM" + "1" * 32, "From": "+447700900123", "To": KINGSMERE,
        "Body": "we have been evicted"})
    body = root.find("Message").text
    assert body == (f"{SAFETY_WRITTEN} {KINGSMERE_CLOSED} We open again at 8 am tomorrow. "
                    "Please contact us again when we are open.")
    assert routing.contacts == {}
