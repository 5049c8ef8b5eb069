"""Web chat end to end on the real app: a citizen on ``/ws/chat``, an expert on ``/ws/expert``,
the real routing engine and database in between."""

from __future__ import annotations

from typing import Any

from aiohttp import ClientWebSocketResponse
from aiohttp.test_utils import TestClient

from expertline.app import DATABASE
from router.context import engine_of
from skills.models import SkillTerm
from skills.watch import EVERYTHING
from tests.conftest import TokenFactory
from tests.engine_support import seed_pool


async def next_of(ws: ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """The next pushed event of this type (others, e.g. state changes, are skipped)."""
    while True:
        event = await ws.receive_json(timeout=5)
        if event.get("type") == kind:
            return event


async def test_a_citizen_chats_with_an_expert_through_both_websockets(
        client: TestClient, auth: TokenFactory) -> None:
    db = client.app[DATABASE]
    await seed_pool(db)
    async with db.transaction() as session:
        session.add(SkillTerm(skill_id="dementia", term="dementia"))
    await engine_of(client.app)._reload_pool(EVERYTHING)
    token = (await auth("expert", expert="e-ann"))["Authorization"].split()[1]
    supervisor = await auth("supervisor", orgs={"nhs-a"})

    async with client.ws_connect(f"/ws/expert?access_token={token}") as desk, \
            client.ws_connect("/ws/chat") as citizen:
        await next_of(desk, "hello")
        await citizen.send_json({"type": "hello", "text": "my mum has dementia",
                                 "language": "en"})
        queued = await next_of(citizen, "queued")
        assert (queued["skill"], queued["position"]) == ("dementia", 1)
        await citizen.send_json({"type": "message", "text": "is anyone there?"})

        await desk.send_json({"action": "status", "status": "available"})
        offer = await next_of(desk, "offer")
        assert offer["contact"]["medium"] == "web"
        await desk.send_json({"action": "accept", "id": offer["offer_id"]})
        session = await next_of(desk, "session")
        assert session["messages"] == ["is anyone there?"]
        assert (await next_of(citizen, "connected"))["skill"] == "dementia"

        await desk.send_json({"action": "message", "id": session["session_id"],
                              "text": "Hello, I am Ann, a dementia nurse."})
        said = await next_of(citizen, "message")
        assert (said["from"], said["text"]) == ("expert", "Hello, I am Ann, a dementia nurse.")
        await citizen.send_json({"type": "message", "text": "thank you"})
        assert (await next_of(desk, "message"))["text"] == "thank you"

        await desk.send_json({"action": "complete", "id": session["session_id"]})
        assert (await next_of(citizen, "ended"))["by"] == "expert"

    detail = await (await client.get(f"/api/v1/contacts/{queued['contact_id']}",
                                     headers=supervisor)).json()
    assert [e["state"] for e in detail["events"]] == ["queued", "offered", "connected",
                                                      "wrapup"]
    assert detail["medium"] == "web" and detail["channel"] == "chat"
