"""The citizens' open web chats by contact id, so the expert's side can reach them.

A ``WebChat`` outlives the socket that opened it: when the page reloads or the connection drops,
the chat waits (``chat.resume_window_s``) with no socket, and a new socket that brings its
resume token takes it back (``telephony.chat``). Meanwhile the expert's messages are not lost:
they are in the contact's transcript, which the new socket is sent first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from router.ports import Announcement, Assigned, Ended, ExpertMessage, ShownExpert
from telephony import prompts

log = logging.getLogger("telephony.chat")

Frame = dict[str, Any]
ENDED_KEYS = {"citizen": "webchat_ended_citizen", "expert": "webchat_ended_expert"}


@dataclass(eq=False)
class WebChat:
    """One citizen's chat contact, with or without a socket just now."""

    contact_id: str
    ref: str  # the contact's external ref: the stem of its relayed messages' refs
    lang: str
    ws: web.WebSocketResponse | None = None
    generation: int = 0  # bumped when a socket comes or goes: older window timers do nothing
    held: list[Frame] | None = None  # frames kept back while a socket is being attached
    told: tuple[Any, ...] | None = None  # the place in the queue last sent
    shown: ShownExpert | None = None  # the expert, once connected
    expires_at: float = 0.0  # the resume token's expiry, as last written
    ticking: bool = False

    @property
    def present(self) -> bool:
        return self.ws is not None and not self.ws.closed


def connected_frame(lang: str, shown: ShownExpert) -> Frame:
    """Who the citizen is talking to: only what the expert agreed to show."""
    return {"type": "connected",
            "expert": {"name": shown.name, "role": shown.role,
                       "organisation": shown.organisation},
            "text": prompts.connected_sentence(lang, shown)}


def ended_frame(lang: str, by: str) -> Frame:
    return {"type": "ended", "by": by,
            "text": prompts.text(lang, ENDED_KEYS.get(by, "webchat_ended_system"))}


class ChatHub:
    """Open web chats by contact id."""

    def __init__(self) -> None:
        self._chats: dict[str, WebChat] = {}
        self.closing = False

    def open(self, contact_id: str, *, ref: str, lang: str) -> WebChat:
        """The contact's chat, registered now if it was not."""
        chat = self._chats.get(contact_id)
        if chat is None:
            chat = self._chats[contact_id] = WebChat(contact_id, ref, lang)
        return chat

    def get(self, contact_id: str) -> WebChat | None:
        return self._chats.get(contact_id)

    def holds(self, chat: WebChat) -> bool:
        """Is ``chat`` still open here (not ended, not closed for want of its citizen)?"""
        return self._chats.get(chat.contact_id) is chat

    def remove(self, chat: WebChat) -> None:
        if self.holds(chat):
            del self._chats[chat.contact_id]

    def present(self) -> list[WebChat]:
        """Chats with a socket now."""
        return [chat for chat in self._chats.values() if chat.present]

    async def send(self, chat: WebChat, frame: Frame) -> None:
        """To the chat's socket (held back while one is being attached; dropped when there is
        none: what the expert writes is in the transcript a returning socket is sent)."""
        if chat.held is not None:
            chat.held.append(frame)
            return
        await send(chat.ws, frame)

    async def release(self, chat: WebChat, *, expert_lines: list[str],
                      connected_sent: bool) -> None:
        """Send what was held back while the socket was attached, except what the socket was
        already sent: the expert's messages that reached the transcript it was given (the
        longest run of the transcript's last expert lines that the held messages begin with)
        and a second ``connected``. Closes the socket if the chat ended meanwhile."""
        held, chat.held = chat.held or [], None
        said = [f["text"] for f in held if f["type"] == "message"]
        overlap = next((k for k in range(min(len(said), len(expert_lines)), 0, -1)
                        if expert_lines[-k:] == said[:k]), 0)
        for frame in held:
            if frame["type"] == "message" and overlap:
                overlap -= 1
            elif not (frame["type"] == "connected" and connected_sent):
                await send(chat.ws, frame)
        if not self.holds(chat) and chat.ws is not None:
            await chat.ws.close()

    async def deliver(self, event: Announcement) -> None:
        chat = self._chats.get(event.contact_id)
        if chat is None:
            return
        if isinstance(event, Assigned):
            chat.shown = event.shown
            await self.send(chat, connected_frame(chat.lang, event.shown))
        elif isinstance(event, ExpertMessage):
            await self.send(chat, {"type": "message", "from": "expert", "text": event.text})
        elif isinstance(event, Ended):
            self.remove(chat)
            await self.send(chat, ended_frame(chat.lang, event.by))
            if chat.held is None and chat.ws is not None:
                await chat.ws.close()

    async def close(self) -> None:
        """Shutting down: every socket is closed (1001, the page comes back and resumes);
        the chats are not, and their tokens stay valid for the rest of their window."""
        self.closing = True
        chats, self._chats = list(self._chats.values()), {}
        for chat in chats:
            if chat.ws is not None and not chat.ws.closed:
                await chat.ws.close(code=1001, message=b"server shutting down")

    def __repr__(self) -> str:
        return f"<ChatHub {len(self._chats)} open, {len(self.present())} with a socket>"


async def send(ws: web.WebSocketResponse | None, frame: Frame) -> None:
    """Send if the socket is open; a socket closing under us is not an error (the chat waits
    for its citizen to come back)."""
    if ws is None or ws.closed:
        return
    try:
        await ws.send_json(frame)
    except ConnectionError as exc:
        log.info("web chat socket went while sending: %s", exc)
