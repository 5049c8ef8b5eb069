"""``/ws/expert``: the expert desk's live channel (token auth by the app's middleware).

The server pushes, first, ``hello``: the desk's whole state as ``GET /api/v1/me`` answers it
(``name``, ``state``, ``offers``, ``sessions``, ``wrapups`` with their ``ends_at``, ``today``),
each session with its ``transcript`` so far; a reconnected desk needs nothing else. Then:

* ``offer`` (``offer_id``, ``expires_at``, ``contact`` with the citizen's ``first_words``),
  ``rescind``, ``state``;
* ``session`` when an offer was accepted: ``session_id``, ``offer_id``, ``contact``,
  ``transcript`` (every line so far, ``{"at", "sender", "text"}``, first words first; None
  when it could not be read just now: ``GET /api/v1/me/sessions/{id}/messages``) and
  ``messages`` (the citizen's texts after their first words, for older desks);
* ``message`` (a citizen wrote: ``contact_id``, ``session_id``, ``sender``, ``at``, ``text``);
* ``sent`` (the expert wrote, from this desk or another of theirs: the same fields, and the
  ``ref`` the writing desk gave its ``message`` action, if any, so it can skip its own line);
* ``session_ended`` (``session_id``, ``contact_id``, ``by``, ``reason`` and, when a wrap-up
  follows, ``wrapup_ends_at``: epoch seconds).

The desk sends actions ``{"action": "status"|"accept"|"decline"|"complete"|"message", "id": …,
…}`` and gets ``{"type": "result", "action", "ok": true, …}`` or ``{"type": "error", "code",
"message"}`` back. Each connection has its own outbound queue, so a slow desk never holds up
routing. Closing the last connection starts the desk grace. The socket lasts no longer than the
session or token it was opened with (``base.socket_auth``): on sign-out, or at the first check
after it expired or was revoked, the server closes it with 4401 and the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from base.errors import BadRequest, DomainError, InvalidInput
from base.http import Fields
from base.inputs import parse_json
from base.socket_auth import held
from router.context import engine_of, me
from router.desk import MAX_MESSAGE
from router.engine import Engine

log = logging.getLogger("router.desk")
QUEUE_LIMIT = 1000
MAX_FRAME = 16 * 1024


async def expert_socket(request: web.Request) -> web.WebSocketResponse:
    expert_id = me(request)
    engine = engine_of(request.app)
    engine.desk_state(expert_id)  # NotFound before the upgrade for an expert not in the pool
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=MAX_FRAME)
    await ws.prepare(request)
    outbox = Outbox(ws, expert_id)
    disconnect = await engine.open_desk(expert_id, outbox.push)  # pushes the hello first
    writer = asyncio.ensure_future(_write(ws, outbox.queue))
    try:
        with held(request, ws) as used:
            async for frame in ws:
                if frame.type is not WSMsgType.TEXT:
                    continue
                used()  # the expert at work: not idle
                outbox.push(await _act(engine, expert_id, frame.data))
    finally:
        disconnect()
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        await outbox.closed()
    return ws


class Outbox:
    """One desk connection's outgoing events. A desk too slow to take them is never sent a
    partial picture: when the queue is full the socket is closed (1013, try again later), so
    the desk reconnects and reads its whole state again in the ``hello``."""

    def __init__(self, ws: web.WebSocketResponse, expert_id: str) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_LIMIT)
        self._ws = ws
        self._expert_id = expert_id
        self._closing: asyncio.Task[bool] | None = None

    def push(self, event: dict[str, Any]) -> None:
        if self._closing is not None:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            log.warning("desk of %s fell %d events behind: closing it so it reconnects",
                        self._expert_id, QUEUE_LIMIT)
            self._closing = asyncio.ensure_future(self._ws.close(
                code=WSCloseCode.TRY_AGAIN_LATER, message=b"fell behind: reconnect"))

    async def closed(self) -> None:
        if self._closing is not None:
            await self._closing


async def _write(ws: web.WebSocketResponse, outbox: asyncio.Queue[dict[str, Any]]) -> None:
    while not ws.closed:
        event = await outbox.get()
        try:
            await ws.send_json(event)
        except (ConnectionResetError, RuntimeError):
            return


async def _act(engine: Engine, expert_id: str, data: str) -> dict[str, Any]:
    try:
        body = parse_json(data)
    except BadRequest as exc:
        return _error(exc.code, f"send one JSON object per frame: {exc.message}")
    if not isinstance(body, dict) or not isinstance(body.get("action"), str):
        return _error("bad_request", 'each frame needs an "action"')
    action = body["action"]
    try:
        result = await _dispatch(engine, expert_id, action, body)
    except DomainError as exc:
        return {"type": "error", "action": action, **exc.to_json()["error"]}
    return {"type": "result", "action": action, "ok": True, "result": result}


async def _dispatch(engine: Engine, expert_id: str, action: str, body: dict[str, Any]) -> Any:
    ident = str(body.get("id", ""))
    if action == "status":
        fields = Fields(body, allowed={"action", "status", "reason", "takes"})
        return await engine.set_status(expert_id, fields.str("status", required=True) or "",
                                       reason=fields.str("reason", max_len=16),
                                       takes=fields.list_of_str("takes", max_len=8))
    if action == "accept":
        return await engine.accept(expert_id, ident)
    if action == "decline":
        return await engine.decline(expert_id, ident)
    if action == "complete":
        return await engine.complete(expert_id, ident,
                                     distressing=body.get("distressing") is True)
    if action == "message":
        text = body.get("text")
        if not isinstance(text, str):
            raise InvalidInput(f"text must be 1..{MAX_MESSAGE} characters", field="text")
        ref = body.get("ref")
        await engine.send_message(expert_id, ident, text,
                                  ref=ref if isinstance(ref, str) and len(ref) <= 64 else None)
        return {"sent": True}
    raise BadRequest(f"unknown action {action!r}: status, accept, decline, complete, message")


def _error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}
