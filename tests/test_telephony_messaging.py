"""SMS and WhatsApp end to end: signed inbound webhooks on a real server, the expert's side
sent through the real gateway to the local Twilio fake, opt-outs respected. Opt-outs are stored
as a keyed hash (the database's key of references), never a bare hash of the number; one stored
as a bare SHA-256 before that still holds, and is replaced by the keyed one once seen."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from sqlmodel import select

from base.config import RetentionConfig
from base.db import Database
from expertline.app import DATABASE
from expertline.governance.store import pseudonym_key
from expertline.schema import database
from router.ports import Channel, ContactState, ExpertEndpoint, Medium
from telephony.messaging import Keyword, keyword
from telephony.optouts import OptOuts, keyed_hash, legacy_hash
from telephony.service import TELEPHONY, Telephony
from telephony.tables import OptOutRow
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


# -- how an opt-out is stored ---------------------------------------------------------------------

EARLIER = datetime(2025, 3, 1, 12, tzinfo=UTC)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def stored(db: Database) -> dict[str, datetime]:
    """Every opt-out row: its hash and since when."""
    async with db.session() as session:
        rows = (await session.exec(select(OptOutRow))).all()
    return {r.address_hash: r.created_at.astimezone(UTC) if r.created_at.tzinfo
            else r.created_at.replace(tzinfo=UTC) for r in rows}


async def database_key(db: Database) -> bytes:
    async with db.transaction() as session:
        return await pseudonym_key(session, RetentionConfig())


async def add_legacy(db: Database, address: str) -> None:
    """An opt-out as it was stored before it was keyed: a bare SHA-256 of the address."""
    async with db.transaction() as session:
        session.add(OptOutRow(address_hash=_sha(address), created_at=EARLIER))


async def test_a_stop_is_stored_under_the_database_key_never_as_a_bare_hash(
        sms: Texter, whatsapp: Texter, tclient: TestClient, routing: FakeRouting) -> None:
    db = tclient.app[DATABASE]
    assert await sms.send("STOP") == ""
    assert await sms.send("my mum has dementia") == ""  # refused: no reply, no contact
    assert routing.contacts == {}
    key = await database_key(db)
    (found,) = await stored(db)
    assert found == keyed_hash(key, SMS_FROM) and len(found) == 64
    assert found != _sha(SMS_FROM) and found != legacy_hash(SMS_FROM)
    assert found != keyed_hash(b"another key", SMS_FROM)
    assert SMS_FROM.removeprefix("+") not in found
    await whatsapp.send("stop")
    assert set(await stored(db)) == {keyed_hash(key, SMS_FROM), keyed_hash(key, WA_FROM)}


async def test_a_legacy_opt_out_still_silences_and_is_rekeyed_when_seen(
        sms: Texter, tclient: TestClient, routing: FakeRouting) -> None:
    db = tclient.app[DATABASE]
    await add_legacy(db, SMS_FROM)
    assert await sms.send("my mum has dementia") == ""
    assert routing.contacts == {}
    # one check replaced it: the keyed hash instead, opted out since the same time
    assert await stored(db) == {keyed_hash(await database_key(db), SMS_FROM): EARLIER}
    assert await sms.send("hello?") == "" and routing.contacts == {}


async def test_a_legacy_opt_out_stops_the_experts_messages(
        sms: Texter, tclient: TestClient, routing: FakeRouting, tel: Telephony,
        twilio_rest: TwilioFake) -> None:
    await sms.send("my mum has dementia")
    (cid,) = routing.contacts
    db = tclient.app[DATABASE]
    await add_legacy(db, SMS_FROM)  # as if the STOP had come before the upgrade
    await routing.assign(cid, NURSE)
    await routing.expert_says(cid, "Are you still there?")
    await tel.idle()
    assert sent_to(twilio_rest, SMS_FROM) == []
    assert await stored(db) == {keyed_hash(await database_key(db), SMS_FROM): EARLIER}


async def test_start_removes_a_legacy_opt_out(sms: Texter, whatsapp: Texter,
                                              tclient: TestClient, routing: FakeRouting) -> None:
    db = tclient.app[DATABASE]
    await add_legacy(db, SMS_FROM)
    await add_legacy(db, WA_FROM)
    assert await sms.send("START") == ""
    assert "receive our messages again" in await whatsapp.send("yes")
    assert await stored(db) == {}
    await sms.send("my mum has dementia")
    assert len(routing.contacts) == 1


async def test_opt_outs_on_each_database(db_url: str) -> None:
    """``OptOuts`` alone, on SQLite and PostgreSQL: the key decides the hash; a legacy row holds
    and is rekeyed once; ``add`` writes the keyed hash only; ``discard`` removes both kinds."""
    async with database(db_url) as db:
        mine, theirs = OptOuts(db.session, b"key one"), OptOuts(db.session, b"key two")
        await mine.add(SMS_FROM)
        await mine.add(SMS_FROM)  # idempotent
        assert set(await stored(db)) == {keyed_hash(b"key one", SMS_FROM)}
        assert await mine.holds(SMS_FROM) and not await theirs.holds(SMS_FROM)
        await theirs.add(SMS_FROM)
        assert set(await stored(db)) == {keyed_hash(b"key one", SMS_FROM),
                                         keyed_hash(b"key two", SMS_FROM)}
        await theirs.discard(SMS_FROM)
        await add_legacy(db, WA_FROM)
        assert await mine.holds(WA_FROM)
        assert set(await stored(db)) == {keyed_hash(b"key one", SMS_FROM),
                                         keyed_hash(b"key one", WA_FROM)}
        assert await mine.holds(WA_FROM)  # still, from the keyed row
        await add_legacy(db, WA_FROM)  # both kinds at once: START removes both
        await mine.discard(WA_FROM)
        assert not await mine.holds(WA_FROM)
        assert set(await stored(db)) == {keyed_hash(b"key one", SMS_FROM)}
        await add_legacy(db, WA_FROM)  # STOP again over a legacy row: keyed only, same since
        await mine.add(WA_FROM)
        assert (await stored(db))[keyed_hash(b"key one", WA_FROM)] == EARLIER
        assert _sha(WA_FROM) not in await stored(db)
        await mine.discard(SMS_FROM)
        await mine.discard(WA_FROM)
        await add_legacy(db, SMS_FROM)
        await mine.discard(SMS_FROM)  # START with no check before it
        assert await stored(db) == {}


async def test_the_key_is_loaded_once_when_first_needed(sqlite_url: str) -> None:
    calls: list[int] = []

    async def load() -> bytes:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("the database is away")
        return b"loaded key"

    async with database(sqlite_url) as db:
        optouts = OptOuts(db.session, load)
        assert calls == []
        with pytest.raises(ConnectionError):
            await optouts.holds(SMS_FROM)
        await optouts.add(SMS_FROM)
        assert await optouts.holds(SMS_FROM) and not await optouts.holds(WA_FROM)
        assert len(calls) == 2  # the failure is not kept; the key is
        assert set(await stored(db)) == {keyed_hash(b"loaded key", SMS_FROM)}
    with pytest.raises(ValueError, match="empty"):
        OptOuts(db.session, b"")
