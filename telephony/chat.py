"""Web chat for citizens: the ``/ws/chat`` WebSocket and a tiny page at ``/chat``.

The citizen sends JSON objects:
``{"type": "hello", "text": "what I need", "language": "en"|"cy"}`` opens a chat contact and
is answered ``{"type": "queued", "contact_id", "skill", "position", "estimated_wait_s",
"said"}``; ``{"type": "message", "text"}`` goes to the expert; ``{"type": "position"}`` asks
for the place again; ``{"type": "end"}`` finishes. The server pushes ``{"type": "connected"}``
when an expert takes the chat, ``{"type": "message", "from": "expert", "text"}`` and
``{"type": "ended", "by"}``. Mistakes get ``{"type": "error", "message"}`` and the socket
stays open. Closing the socket leaves the chat (abandoned if still waiting).
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from base.errors import BadRequest, DomainError
from base.inputs import parse_json
from base.limits import client_of, enforce
from router.ports import Medium, QueueInfo
from telephony.contacts import close_by_citizen, open_chat, queued_words
from telephony.prompts import CY, EN
from telephony.service import TELEPHONY, Telephony

log = logging.getLogger("telephony.chat")

PAGE = Path(__file__).parent / "static" / "chat.html"
MAX_TEXT = 2000
ORPHAN_REASON = "the citizen's chat was cut off when the service restarted"
MAX_FRAME = 16_384


class ChatError(Exception):
    """A citizen's mistake, told to them over the socket."""


class ChatSession:
    """One citizen's socket: at most one contact, opened by ``hello``."""

    def __init__(self, tel: Telephony, ws: web.WebSocketResponse) -> None:
        self.tel = tel
        self.ws = ws
        self.ref = f"web:{uuid.uuid4().hex}"
        self.contact_id: str | None = None
        self.sent = 0
        self.over = False

    async def receive(self, raw: str) -> None:
        try:
            await self._dispatch(_parse(raw))
        except (ChatError, DomainError) as exc:
            message = exc.message if isinstance(exc, DomainError) else str(exc)
            await self.ws.send_json({"type": "error", "message": message})

    async def _dispatch(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "hello":
            await self._hello(_text(frame), _language(frame))
        elif kind == "message":
            await self._message(_text(frame))
        elif kind == "position":
            await self._send_position(await self.tel.routing.position(self._contact()))
        elif kind == "end":
            await self._end()
        else:
            raise ChatError("type must be hello, message, position or end")

    async def _hello(self, text: str, lang: str) -> None:
        if self.contact_id is not None:
            raise ChatError("this chat has already started")
        ticket, skill = await open_chat(self.tel, medium=Medium.WEB, text=text, lang=lang,
                                        ref=self.ref)
        self.contact_id = ticket.contact_id
        self.tel.chats.attach(ticket.contact_id, self.ws)
        log.info("web chat: contact %s for %s", ticket.contact_id, skill)
        said = " ".join(queued_words(self.tel, lang, skill, ticket))
        await self.ws.send_json({"type": "queued", "contact_id": ticket.contact_id,
                                 "skill": skill, "said": said, **_queue(ticket.queue)})

    async def _message(self, text: str) -> None:
        contact_id = self._contact()
        self.sent += 1
        await self.tel.routing.relay_to_expert(contact_id, text, ref=f"{self.ref}:{self.sent}")

    async def _send_position(self, info: QueueInfo) -> None:
        await self.ws.send_json({"type": "position", **_queue(info)})

    async def _end(self) -> None:
        await self.leave(reason="citizen ended the chat")
        await self.ws.send_json({"type": "ended", "by": "citizen"})
        await self.ws.close()

    async def leave(self, *, reason: str) -> None:
        """Close the contact once (explicit end, or the socket went away)."""
        if self.contact_id is None or self.over:
            return
        self.over = True
        self.tel.chats.detach(self.contact_id)
        view = await self.tel.routing.get(self.contact_id)
        if view is not None:
            await close_by_citizen(self.tel.routing, view, reason=reason)

    def _contact(self) -> str:
        if self.contact_id is None or self.over:
            raise ChatError('say hello first: {"type": "hello", "text": "what you need"}')
        return self.contact_id


def _parse(raw: str) -> dict[str, Any]:
    try:
        frame = parse_json(raw)
    except BadRequest as exc:
        raise ChatError(f"send JSON objects: {exc.message}") from None
    if not isinstance(frame, dict):
        raise ChatError("send JSON objects")
    return frame


def _text(frame: dict[str, Any]) -> str:
    text = frame.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ChatError("text must be a non-empty string")
    if len(text) > MAX_TEXT:
        raise ChatError(f"text is longer than {MAX_TEXT} characters")
    return text.strip()


def _language(frame: dict[str, Any]) -> str:
    lang = frame.get("language", EN)
    if not isinstance(lang, str) or lang not in (EN, CY):
        raise ChatError("language must be en or cy")
    return lang


def _queue(info: QueueInfo) -> dict[str, Any]:
    return {"state": str(info.state), "position": info.position,
            "estimated_wait_s": info.estimated_wait_s}


async def socket(request: web.Request) -> web.WebSocketResponse:
    """``GET /ws/chat``: one citizen's chat."""
    tel = request.app[TELEPHONY]
    enforce(tel.chat_opens, client_of(request), "chats opened from your address")
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=MAX_FRAME)
    await ws.prepare(request)
    session = ChatSession(tel, ws)
    try:
        async for frame in ws:
            if frame.type is WSMsgType.TEXT:
                await session.receive(frame.data)
            elif frame.type is WSMsgType.BINARY:
                await ws.send_json({"type": "error", "message": "send text frames"})
    finally:
        try:
            await session.leave(reason="citizen closed the chat")
        except DomainError as exc:
            log.warning("web chat %s: could not close: %s", session.contact_id, exc)
    return ws


async def close_orphans(tel: Telephony) -> int:
    """On start: a web chat is carried by its citizen's socket, and no socket outlives the
    process that held it, so every open web chat left by a crash has nobody behind it. Each is
    closed as if the citizen had left (abandoned while waiting, ended when connected), so no
    expert is offered a citizen who has gone. Returns how many were closed."""
    closed = 0
    for view in await tel.routing.open_contacts(medium=Medium.WEB):
        if await close_by_citizen(tel.routing, view, reason=ORPHAN_REASON):
            closed += 1
    if closed:
        log.warning("closed %d web chats left open by a restart: their citizens are gone",
                    closed)
    return closed


async def page(_request: web.Request) -> web.FileResponse:
    """``GET /chat``: a page to try the web chat by hand."""
    return web.FileResponse(PAGE)
