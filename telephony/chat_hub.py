"""Open citizen web-chat sockets by contact id, so the expert's side can reach them."""

from __future__ import annotations

from aiohttp import web

from router.ports import Announcement, Assigned, Ended, ExpertMessage


class ChatHub:
    """Open citizen sockets by contact id, for the expert's side to reach them."""

    def __init__(self) -> None:
        self._sockets: dict[str, web.WebSocketResponse] = {}

    def attach(self, contact_id: str, ws: web.WebSocketResponse) -> None:
        self._sockets[contact_id] = ws

    def detach(self, contact_id: str) -> None:
        self._sockets.pop(contact_id, None)

    async def deliver(self, event: Announcement) -> None:
        ws = self._sockets.get(event.contact_id)
        if ws is None or ws.closed:
            return
        if isinstance(event, Assigned):
            await ws.send_json({"type": "connected", "skill": event.contact.skill})
        elif isinstance(event, ExpertMessage):
            await ws.send_json({"type": "message", "from": "expert", "text": event.text})
        elif isinstance(event, Ended):
            self.detach(event.contact_id)
            await ws.send_json({"type": "ended", "by": event.by})
            await ws.close()

    async def close(self) -> None:
        sockets, self._sockets = list(self._sockets.values()), {}
        for ws in sockets:
            await ws.close(code=1001, message=b"server shutting down")

    def __repr__(self) -> str:
        return f"<ChatHub {len(self._sockets)} open>"
