"""Web chat end to end on the real app: a citizen on ``/ws/chat``, an expert on ``/ws/expert``,
the real routing engine and database in between (the transcript a resumed chat is sent is the
one the engine stored). Telephony's time is a manual scheduler's, so resume windows pass when
the test says, without sleeping."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import ClientWebSocketResponse
from aiohttp.test_utils import TestClient
from sqlmodel import col

from expertline.app import DATABASE
from router.context import engine_of
from router.ports import ShownExpert
from skills.models import Expert, SkillTerm
from skills.watch import EVERYTHING
from telephony import prompts
from telephony.service import TELEPHONY, Telephony
from tests.conftest import TokenFactory
from tests.engine_support import seed_pool
from tests.telephony_support import ManualScheduler, eventually, next_of


@pytest.fixture
async def desk_token(client: TestClient, auth: TokenFactory) -> str:
    """A pool where e-ann shows citizens only "Annie, Dementia nurse" (not her name, not her
    organisation), and her desk's token."""
    db = client.app[DATABASE]
    await seed_pool(db)
    async with db.transaction() as session:
        session.add(SkillTerm(skill_id="dementia", term="dementia"))
        await session.exec(sa.update(Expert).where(col(Expert.id) == "e-ann").values(
            public_name="Annie", public_role="Dementia nurse", show_organisation=False))
    await engine_of(client.app)._reload_pool(EVERYTHING)
    return (await auth("expert", expert="e-ann"))["Authorization"].split()[1]


ANNIE = {"type": "connected",
         "expert": {"name": "Annie", "role": "Dementia nurse", "organisation": ""},
         "text": "You are now chatting with Annie (Dementia nurse)."}


async def take(desk: ClientWebSocketResponse) -> dict[str, Any]:
    """The expert goes available and accepts the offer: the session."""
    await desk.send_json({"action": "status", "status": "available"})
    offer = await next_of(desk, "offer")
    assert offer["contact"]["medium"] == "web"
    await desk.send_json({"action": "accept", "id": offer["offer_id"]})
    return await next_of(desk, "session")


async def desk_says(desk: ClientWebSocketResponse, session_id: str, text: str) -> None:
    """The expert writes, and the engine has stored it (the desk's result says so)."""
    await desk.send_json({"action": "message", "id": session_id, "text": text})
    while (await next_of(desk, "result"))["action"] != "message":
        pass  # the results of the desk's earlier actions


async def test_a_citizen_chats_with_an_expert_through_both_websockets(
        client: TestClient, auth: TokenFactory, desk_token: str,
        scheduler: ManualScheduler) -> None:
    supervisor = await auth("supervisor", orgs={"nhs-a"})
    async with client.ws_connect(f"/ws/expert?access_token={desk_token}") as desk, \
            client.ws_connect("/ws/chat") as citizen:
        await next_of(desk, "hello")
        await citizen.send_json({"type": "hello", "text": "my mum has dementia",
                                 "language": "en"})
        queued = await next_of(citizen, "queued")
        assert (queued["skill"], queued["position"]) == ("dementia", 1)
        assert queued["experts_on_duty"] == 0  # Annie's desk is open but she is not working
        assert "Nobody is on duty just now." in queued["text"]
        await citizen.send_json({"type": "message", "text": "is anyone there?"})

        session = await take(desk)
        assert session["messages"] == ["is anyone there?"]
        assert await next_of(citizen, "connected") == ANNIE  # never "Ann", never e-ann

        await desk.send_json({"action": "message", "id": session["session_id"],
                              "text": "Hello, I am Annie, a dementia nurse."})
        said = await next_of(citizen, "message")
        assert (said["from"], said["text"]) == ("expert", "Hello, I am Annie, a dementia nurse.")
        await citizen.send_json({"type": "message", "text": "thank you"})
        assert (await next_of(desk, "message"))["text"] == "thank you"

        await desk.send_json({"action": "complete", "id": session["session_id"]})
        assert (await next_of(citizen, "ended"))["by"] == "expert"

    detail = await (await client.get(f"/api/v1/contacts/{queued['contact_id']}",
                                     headers=supervisor)).json()
    assert [e["state"] for e in detail["events"]] == ["queued", "offered", "connected",
                                                      "wrapup"]
    assert detail["medium"] == "web" and detail["channel"] == "chat"


async def test_what_the_expert_writes_shows_on_each_of_their_desks(
        client: TestClient, desk_token: str) -> None:
    """With the desk open on two devices, a line written on one shows on the other too (the
    writing desk, which shows it at once, knows it by the ref it gave)."""
    async with client.ws_connect(f"/ws/expert?access_token={desk_token}") as desk, \
            client.ws_connect(f"/ws/expert?access_token={desk_token}") as other:
        await next_of(desk, "hello")
        await next_of(other, "hello")
        citizen = await client.ws_connect("/ws/chat")
        await citizen.send_json({"type": "hello", "text": "my mum has dementia"})
        session = await take(desk)
        await desk.send_json({"action": "message", "id": session["session_id"],
                              "text": "Hello, this is Annie", "ref": "r-1"})
        seen = await next_of(other, "sent")
        assert (seen["session_id"], seen["sender"], seen["text"]) == (
            session["session_id"], "expert", "Hello, this is Annie")
        assert (await next_of(desk, "sent"))["ref"] == "r-1"  # its own: skipped by the page
        assert (await next_of(citizen, "message"))["text"] == "Hello, this is Annie"
        await citizen.close()


async def test_a_switch_of_language_words_the_resumed_chat_in_the_new_one(
        client: TestClient, desk_token: str) -> None:
    """The page switches language by reloading in the other one: the chat it takes back,
    from its very first frames, is in the language the citizen chose."""
    async with client.ws_connect(f"/ws/expert?access_token={desk_token}") as desk:
        await next_of(desk, "hello")
        citizen = await client.ws_connect("/ws/chat")
        await citizen.send_json({"type": "hello", "text": "my mum has dementia"})
        token = (await next_of(citizen, "queued"))["resume_token"]
        await take(desk)
        assert await next_of(citizen, "connected") == ANNIE
        await citizen.close()  # the citizen pressed Cymraeg: the page reloads in Welsh

        async with client.ws_connect("/ws/chat") as again:
            await again.send_json({"type": "resume", "token": token, "language": "cy"})
            resumed = await next_of(again, "resumed")
            assert resumed["language"] == "cy"
            assert resumed["text"] == prompts.text("cy", "webchat_resumed")
            welsh = await next_of(again, "connected")
            assert welsh["text"] == prompts.connected_sentence(
                "cy", ShownExpert("Annie", "Dementia nurse", "")) != ANNIE["text"]


async def test_a_reloaded_page_takes_the_chat_back_with_the_stored_transcript(
        client: TestClient, auth: TokenFactory, desk_token: str,
        scheduler: ManualScheduler) -> None:
    tel: Telephony = client.app[TELEPHONY]
    supervisor = await auth("supervisor", orgs={"nhs-a"})
    async with client.ws_connect(f"/ws/expert?access_token={desk_token}") as desk:
        await next_of(desk, "hello")
        citizen = await client.ws_connect("/ws/chat")
        await citizen.send_json({"type": "hello", "text": "my mum has dementia"})
        queued = await next_of(citizen, "queued")
        cid, token = queued["contact_id"], queued["resume_token"]
        await citizen.send_json({"type": "message", "text": "she keeps getting lost"})
        session = await take(desk)
        assert await next_of(citizen, "connected") == ANNIE
        await desk_says(desk, session["session_id"], "Is she safe right now?")
        assert (await next_of(citizen, "message"))["text"] == "Is she safe right now?"

        await citizen.close()  # the page reloads
        chat = tel.chats.get(cid)
        assert chat is not None
        await eventually(lambda: chat.ws is None)
        await desk_says(desk, session["session_id"], "Are you still there?")
        await scheduler.advance(60)

        async with client.ws_connect("/ws/chat") as again:
            await again.send_json({"type": "resume", "token": token})
            resumed = await next_of(again, "resumed")
            assert (resumed["contact_id"], resumed["language"]) == (cid, "en")
            lines = (await next_of(again, "transcript"))["lines"]
            assert [(x["from"], x["text"]) for x in lines] == [
                ("you", "my mum has dementia"), ("you", "she keeps getting lost"),
                ("expert", "Is she safe right now?"), ("expert", "Are you still there?")]
            assert await next_of(again, "connected") == ANNIE
            await again.send_json({"type": "message", "text": "yes, sorry"})
            assert (await next_of(desk, "message"))["text"] == "yes, sorry"

            await scheduler.advance(120)  # the window of the reload has passed: still on
            detail = await (await client.get(f"/api/v1/contacts/{cid}",
                                             headers=supervisor)).json()
            assert detail["state"] == "connected"
        # this time nobody comes back: the chat ends as the citizen leaving
        await eventually(lambda: chat.ws is None)
        await scheduler.advance(120)
        ended = await next_of(desk, "session_ended")
        assert (ended["contact_id"], ended["by"]) == (cid, "citizen")
    detail = await (await client.get(f"/api/v1/contacts/{cid}", headers=supervisor)).json()
    assert detail["state"] == "wrapup"
