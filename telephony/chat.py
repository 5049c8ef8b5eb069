"""Web chat for citizens: the ``/ws/chat`` WebSocket (and a tiny page at ``/chat`` to try it).

This docstring is the protocol the citizen's page is written against. Every frame is one JSON
object with a ``type``. Every sentence the server writes for the citizen (``text`` and
``message`` below) is in the chat's language, English or Welsh; the page shows each ``text`` as
a system message.

The page sends:

* ``{"type": "hello", "text": "what I need", "language": "en"|"cy", "org"?}`` opens a chat
  (language defaults to en; the expert is matched on it). ``org`` puts it on an
  organisation's line (``/chat?org=ID``; ignored unless config.toml has ``[local.ID]``).
* ``{"type": "callback", "number"}`` after ``closed``: ring me on this UK number when it opens.
* ``{"type": "resume", "token", "language"?}`` takes an open chat back on a new socket (after a
  reload or a dropped connection); ``language``, when given, is the page's: the chat carries
  on in it from the first frame (after a switch of language), and an error is worded in it.
* ``{"type": "message", "text"}`` goes to the expert (at most 2000 characters).
* ``{"type": "position"}`` asks for the place in the queue now.
* ``{"type": "language", "language": "en"|"cy"}`` writes later lines in that language.
* ``{"type": "end"}`` ends the chat at once (and its resume token).

The server sends:

* ``{"type": "queued", "contact_id", "skill", "state", "position", "estimated_wait_s",
  "experts_on_duty", "resume_token", "resume_window_s", "text"}`` answers ``hello``; its
  ``text`` starts with the 999 sentence (``telephony.prompts.safety``). Keep
  ``resume_token`` (sessionStorage): it is the only way back into this chat (null in the rare
  case it could not be stored: the chat goes on but cannot be taken back).
* ``{"type": "resumed", "contact_id", "skill", "language", "resume_window_s", "text"}``
  answers ``resume``, followed by ``{"type": "transcript", "lines": [{"at", "from":
  "you"|"expert"|"system", "text"}]}`` (the whole chat so far, oldest first, ``at`` in epoch
  seconds; the citizen's first words come first), then the state now: a ``position`` frame
  while waiting, or ``connected``. ``language`` is the chat's (the last one chosen); the token
  stays the same. (A chat taken back after a restart may not know who its expert is: its
  ``connected`` then names "an expert".)
* ``{"type": "position", "state", "position", "estimated_wait_s", "experts_on_duty",
  "text"}`` whenever a waiting chat's place, wait or the number of experts on duty changes
  (checked every ``chat.position_every_s``), and in answer to ``position``. ``position`` and
  ``estimated_wait_s`` may be null (no honest estimate); ``experts_on_duty`` is null when
  unknown and 0 when nobody who could take the chat is on duty (``text`` then says so, and
  to call 999 if someone is in danger). No more once an expert has the chat.
* ``{"type": "connected", "expert": {"name", "role", "organisation"}, "text"}`` when an
  expert takes the chat: only what the expert agreed to show (an empty name: "an expert").
* ``{"type": "message", "from": "expert", "text"}``: the expert wrote.
* ``{"type": "language", "language", "text"}`` answers ``language``.
* ``{"type": "ended", "by": "citizen"|"expert"|"system", "text"}``; the server then closes
  the socket.
* ``{"type": "system", "text"}``: anything else the citizen is told. Today only that the chat
  was taken back in another window; the server then closes this socket (code 4001).
* ``{"type": "closed", "skill", "opens_at", "callback", "text"}`` answers ``hello`` instead
  of ``queued`` when the organisation's line is closed (``[local.ID]``) and has no partner
  open to take it: ``text`` is the 999 sentence, its out-of-hours message and when it opens
  (``opens_at``, ISO, or null), then, when ``callback`` is true, the offer to ring the
  citizen then; nothing is queued. ``{"type": "callback_booked", "text"}`` answers a
  ``callback``, and the server closes the socket.
* ``{"type": "error", "code", "message"}``: a mistake; the socket stays open. ``code`` is one
  of ``invalid`` (not JSON, wrong type, bad text or language), ``not_started`` (hello or
  resume first), ``already_started``, ``resume_unknown``, ``resume_expired`` (left for longer
  than the window), ``resume_ended`` (the chat has ended), or a server error's code
  (``unavailable`` …: try again). After a ``resume_*`` error, start a new chat with ``hello``.

Leaving. An ``end`` closes the chat at once (abandoned while waiting, ended when connected).
A socket that goes without ``end`` (reload, lost signal, server restart: close code 1001)
does not: the chat waits ``chat.resume_window_s`` (120 s by default) for a ``resume`` with its
token, and only then is closed as the citizen leaving. The expert's messages meanwhile are in
the transcript the returning socket is sent. A chat open when the service stops or crashes is
kept after the restart for the rest of its window; one whose token has expired is closed.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from base.errors import BadRequest, DomainError
from base.inputs import parse_json
from base.limits import client_of, enforce
from router.ports import ContactState, Medium, QueueInfo, ShownExpert, TranscriptLine
from telephony import local, prompts
from telephony.chat_hub import WebChat, connected_frame, ended_frame, send
from telephony.contacts import Closed, close_by_citizen, closed_words, open_chat, queued_words
from telephony.numbers import uk_callback_number
from telephony.prompts import CY, EN
from telephony.service import TELEPHONY, Telephony
from telephony.tasks import Job

log = logging.getLogger("telephony.chat")

PAGE = Path(__file__).parent / "static" / "chat.html"
MAX_TEXT = 2000
MAX_FRAME = 16_384
ORPHAN_REASON = "the citizen's chat was cut off when the service restarted"
TAKEN_ELSEWHERE = 4001  # close code: the chat was resumed on another socket
SENDERS = {"citizen": "you", "expert": "expert", "system": "system"}
TYPES = ("hello", "resume", "message", "position", "language", "end", "callback")


class ChatError(Exception):
    """A citizen's mistake, told to them over the socket in their language."""

    def __init__(self, code: str, key: str, **values: object) -> None:
        super().__init__(key)
        self.code, self.key, self.values = code, key, values


class ChatSession:
    """One citizen's socket: it starts a chat (``hello``) or takes one back (``resume``)."""

    def __init__(self, tel: Telephony, ws: web.WebSocketResponse) -> None:
        self.tel = tel
        self.ws = ws
        self.nonce = secrets.token_hex(4)  # this socket's messages get their own refs
        self.chat: WebChat | None = None
        self.lang = EN  # before there is a chat: the language errors are written in
        self.sent = 0
        self.over = False
        self.closed: tuple[Closed, str] | None = None  # a closed line's answer, and its ref

    @property
    def language(self) -> str:
        return self.chat.lang if self.chat is not None else self.lang

    async def receive(self, raw: str) -> None:
        try:
            await self._dispatch(_parse(raw))
        except ChatError as exc:
            await self.error(exc.code, prompts.text(self.language, exc.key, **exc.values))
        except DomainError as exc:
            log.warning("web chat %s: %s", self._contact_id(), exc.message)
            await self.error(exc.code, prompts.text(self.language, "webchat_trouble"))

    async def error(self, code: str, message: str) -> None:
        await send(self.ws, {"type": "error", "code": code, "message": message})

    async def _dispatch(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "hello":
            lang = _language(frame)
            if self.chat is None:
                self.lang = lang  # a mistake in the first words is told in their language
            await self._hello(_text(frame), lang, local.line_named(self.tel, frame.get("org")))
        elif kind == "resume":
            await self._resume(frame.get("token"), _language(frame),
                               switch="language" in frame)
        elif kind == "message":
            await self._message(_text(frame))
        elif kind == "position":
            chat = self._chat()
            await self._send_place(chat, await self.tel.routing.position(chat.contact_id))
        elif kind == "language":
            await self._switch(_language(frame, required=True))
        elif kind == "end":
            await self._end()
        elif kind == "callback":
            await self._callback(frame.get("number"))
        else:
            raise ChatError("invalid", "webchat_bad_type")

    # -- starting, and coming back ------------------------------------------------------------
    async def _hello(self, text: str, lang: str, org: str | None) -> None:
        self._not_started()
        self.lang = lang
        ref = f"web:{uuid.uuid4().hex}"
        opened = await open_chat(self.tel, medium=Medium.WEB, text=text, lang=lang, ref=ref,
                                 org=org)
        if isinstance(opened, Closed):
            await self._closed(opened, lang, ref)
            return
        ticket, skill = opened.ticket, opened.skill
        chat = self._attach(self.tel.chats.open(ticket.contact_id, ref=ref, lang=lang))
        start_ticking(self.tel, chat)
        log.info("web chat: contact %s for %s", ticket.contact_id, skill)
        try:
            token: str | None = None
            try:
                token, chat.expires_at = await self.tel.resume_tokens.issue(ticket.contact_id)
            except DomainError as exc:  # the chat goes on; only a reload would lose it
                log.warning("web chat %s: no resume token: %s", ticket.contact_id, exc)
            chat.told = _place_key(ticket.queue)
            await send(self.ws, {
                "type": "queued", "contact_id": ticket.contact_id, "skill": skill,
                **_place(ticket.queue), "resume_token": token,
                "resume_window_s": self.tel.resume_tokens.window_s,
                "text": " ".join(queued_words(self.tel, lang, opened))})
        finally:
            await self.tel.chats.release(chat, expert_lines=[], connected_sent=False)

    async def _resume(self, token: object, lang: str, *, switch: bool = False) -> None:
        """Take the chat back; with ``switch`` (the page named its language) it carries on in
        ``lang``, so even the first frames after a language switch are in the new one."""
        self._not_started()
        self.lang = lang
        tel = self.tel
        row = await tel.resume_tokens.find(token)
        if row is None:
            raise ChatError("resume_unknown", "webchat_resume_unknown")
        view = await tel.routing.get(row.contact_id)
        known = tel.chats.get(row.contact_id)
        if not switch:  # else the page's language: the citizen chose it (a switch reloads)
            if known is not None:
                self.lang = known.lang
            elif view is not None and view.language in (EN, CY):
                self.lang = view.language
        if row.expires_at <= tel.wall_clock():
            raise ChatError("resume_expired", "webchat_resume_expired")
        if view is None or not _open(view.state):
            raise ChatError("resume_ended", "webchat_resume_ended")
        chat = tel.chats.open(view.contact_id, ref=view.external_ref, lang=self.lang)
        chat.lang = self.lang  # later lines too (the expert's are relayed in it)
        _take_from_other_socket(tel, chat, self.ws)
        self._attach(chat)
        start_ticking(tel, chat)
        log.info("web chat %s: resumed", chat.contact_id)
        lines: list[TranscriptLine] = []
        connected = False
        try:
            chat.expires_at = await tel.resume_tokens.extend([chat.contact_id])
            lines = await tel.routing.transcript(chat.contact_id)
            info = await tel.routing.position(chat.contact_id)
            await send(self.ws, {
                "type": "resumed", "contact_id": chat.contact_id, "skill": view.skill,
                "language": chat.lang, "resume_window_s": tel.resume_tokens.window_s,
                "text": prompts.text(chat.lang, "webchat_resumed")})
            await send(self.ws, {"type": "transcript", "lines": [_line(x) for x in lines]})
            if info.state is ContactState.CONNECTED:
                connected = True
                await send(self.ws, connected_frame(chat.lang, chat.shown or ShownExpert()))
            else:
                await self._send_place(chat, info)
        finally:
            await tel.chats.release(
                chat, expert_lines=[x.text for x in lines if x.sender == "expert"],
                connected_sent=connected)

    async def _closed(self, closed: Closed, lang: str, ref: str) -> None:
        """The line is closed: say so, and when it opens; offer to ring the citizen then."""
        opens = closed.state.opens_at
        offer = opens is not None and self.tel.book_callback is not None
        self.closed = (closed, ref) if offer else None
        log.info("web chat: %s is closed for %s", closed.org, closed.skill)
        await send(self.ws, {
            "type": "closed", "skill": closed.skill, "callback": offer,
            "opens_at": None if opens is None else opens.isoformat(),
            "text": " ".join(closed_words(self.tel, lang, closed, offer=offer))})

    async def _callback(self, number: object) -> None:
        """Book the callback a closed line offered, on the UK number given."""
        if self.closed is None or self.over or self.tel.book_callback is None:
            raise ChatError("invalid", "webchat_bad_type")
        (closed, ref), opens = self.closed, self.closed[0].state.opens_at
        valid = uk_callback_number(number) if isinstance(number, str) else None
        if valid is None or opens is None:
            raise ChatError("invalid", "chat_callback_invalid")
        booked = await self.tel.book_callback(number=valid, skill=closed.skill, language=self.lang,
                                              due_at=opens.timestamp(), org=closed.org, ref=ref)
        log.info("web chat: scheduled callback %s booked for when %s opens", booked, closed.org)
        self.over = True
        await send(self.ws, {"type": "callback_booked", "text": prompts.text(
            self.lang, "chat_callback_booked", last3=prompts.last_digits(valid),
            **local.when(self.tel, self.lang, opens))})
        await self.ws.close()

    def _attach(self, chat: WebChat) -> WebChat:
        """This socket carries ``chat`` now; frames for it are held until it has been told
        where it stands (``ChatHub.release``)."""
        self.chat = chat
        chat.ws = self.ws
        chat.generation += 1
        chat.held = []
        return chat

    def _not_started(self) -> None:
        if self.chat is not None or self.over:
            raise ChatError("already_started", "webchat_started")

    # -- while it lasts -----------------------------------------------------------------------
    async def _message(self, text: str) -> None:
        chat = self._chat()
        self.sent += 1
        await self.tel.routing.relay_to_expert(chat.contact_id, text,
                                               ref=f"{chat.ref}:{self.nonce}:{self.sent}")

    async def _send_place(self, chat: WebChat, info: QueueInfo) -> None:
        chat.told = _place_key(info)
        await send(self.ws, _position_frame(chat.lang, info))

    async def _switch(self, lang: str) -> None:
        self.lang = lang
        if self.chat is not None:
            self.chat.lang = lang
        await send(self.ws, {"type": "language", "language": lang,
                             "text": prompts.text(lang, "webchat_language")})

    async def _end(self) -> None:
        chat = self._chat()
        await close_chat(self.tel, chat, reason="citizen ended the chat", forget=True)
        self.over = True
        await send(self.ws, ended_frame(chat.lang, "citizen"))
        await self.ws.close()

    async def gone(self) -> None:
        """The socket went without ``end``: the chat waits a window for its citizen."""
        if self.chat is not None and not self.over:
            await dropped(self.tel, self.chat, self.ws)

    def _chat(self) -> WebChat:
        if self.chat is None or self.over or not self.tel.chats.holds(self.chat):
            raise ChatError("not_started", "webchat_not_started")
        return self.chat

    def _contact_id(self) -> str:
        return "-" if self.chat is None else self.chat.contact_id


# -- the chat without its socket: windows, position checks, restarts ---------------------------
async def dropped(tel: Telephony, chat: WebChat, ws: web.WebSocketResponse) -> None:
    """``ws`` went: unless another socket has the chat, it waits ``chat.resume_window_s``."""
    if chat.ws is not ws or not tel.chats.holds(chat) or tel.chats.closing:
        return
    chat.ws = None
    chat.generation += 1
    window = tel.resume_tokens.window_s
    tel.schedule(window, chat.contact_id, _window_job(tel, chat, chat.generation))
    log.info("web chat %s: socket gone, waiting %gs for the citizen", chat.contact_id, window)
    try:
        chat.expires_at = await tel.resume_tokens.extend([chat.contact_id])
    except DomainError as exc:  # the token keeps its last expiry; the window still runs
        log.warning("web chat %s: resume token not extended: %s", chat.contact_id, exc)


def _window_job(tel: Telephony, chat: WebChat, generation: int) -> Job:
    return lambda: _window_over(tel, chat, generation)


async def _window_over(tel: Telephony, chat: WebChat, generation: int) -> None:
    if chat.generation != generation or chat.ws is not None or not tel.chats.holds(chat):
        return  # taken back, or ended, meanwhile
    window = tel.resume_tokens.window_s
    log.info("web chat %s: not taken back within %gs, closing", chat.contact_id, window)
    try:
        await close_chat(tel, chat, reason=f"the citizen's web chat went and was not taken "
                                           f"back within {window:g} s")
    except DomainError as exc:  # try again shortly: nobody must wait for a citizen who went
        log.warning("web chat %s: could not close, will retry: %s", chat.contact_id, exc)
        tel.schedule(_tick_every(tel), chat.contact_id, _window_job(tel, chat, generation))


async def close_chat(tel: Telephony, chat: WebChat, *, reason: str,
                     forget: bool = False) -> None:
    """The citizen left (``end``, or a window passed): abandon or end the contact, then
    delete (``forget``) or expire its token."""
    view = await tel.routing.get(chat.contact_id)
    if view is not None:
        await close_by_citizen(tel.routing, view, reason=reason)
    tel.chats.remove(chat)
    tokens = tel.resume_tokens
    try:
        await (tokens.forget(chat.contact_id) if forget else tokens.expire(chat.contact_id))
        await tokens.purge(unless_recent=True)
    except DomainError as exc:  # the contact is closed: a resume is refused as ended
        log.warning("web chat %s: resume token not retired: %s", chat.contact_id, exc)


def start_ticking(tel: Telephony, chat: WebChat) -> None:
    """Check the chat now and then while a socket has it: push its place when it changes
    (until an expert has it) and keep its resume token a window ahead."""
    if chat.ticking:
        return
    chat.ticking = True
    tel.schedule(_tick_every(tel), chat.contact_id, lambda: _tick(tel, chat))


def _tick_every(tel: Telephony) -> float:
    return min(tel.config.chat.position_every_s, tel.resume_tokens.window_s / 2)


async def _tick(tel: Telephony, chat: WebChat) -> None:
    if not chat.present or not tel.chats.holds(chat):
        chat.ticking = False
        return
    try:
        if chat.shown is None:
            info = await tel.routing.position(chat.contact_id)
            key = _place_key(info)
            if info.state in (ContactState.QUEUED, ContactState.CALLBACK) and key != chat.told:
                chat.told = key
                await tel.chats.send(chat, _position_frame(chat.lang, info))
        if chat.expires_at - tel.wall_clock() < tel.resume_tokens.window_s / 2:
            chat.expires_at = await tel.resume_tokens.extend([chat.contact_id])
    except DomainError as exc:
        log.warning("web chat %s: check failed: %s", chat.contact_id, exc)
    tel.schedule(_tick_every(tel), chat.contact_id, lambda: _tick(tel, chat))


def _take_from_other_socket(tel: Telephony, chat: WebChat, ws: web.WebSocketResponse) -> None:
    """A chat resumed while another socket still has it (a second window): that socket is
    told and closed, in the background, so one window carries the chat."""
    other = chat.ws
    if other is None or other is ws or other.closed:
        return
    chat.ws = None
    tel.tasks.spawn(f"{chat.contact_id}:elsewhere", _send_elsewhere, other, chat.lang)


async def _send_elsewhere(ws: web.WebSocketResponse, lang: str) -> None:
    await send(ws, {"type": "system", "text": prompts.text(lang, "webchat_elsewhere")})
    await ws.close(code=TAKEN_ELSEWHERE, message=b"chat taken back in another window")


async def close_orphans(tel: Telephony) -> int:
    """On start: a web chat is carried by its citizen's socket, and no socket outlives the
    process that held it. A chat whose resume token has not expired is kept for the rest of
    its window (its citizen's page is probably reconnecting); every other open web chat is
    closed as if the citizen had left (abandoned while waiting, ended when connected), so no
    expert is offered a citizen who has gone. Returns how many were closed."""
    live = await tel.resume_tokens.live()
    now = tel.wall_clock()
    closed = kept = 0
    for view in await tel.routing.open_contacts(medium=Medium.WEB):
        until = live.get(view.contact_id)
        if until is not None:
            lang = view.language if view.language in (EN, CY) else EN
            chat = tel.chats.open(view.contact_id, ref=view.external_ref, lang=lang)
            chat.expires_at = until
            tel.schedule(max(until - now, 0.0), chat.contact_id,
                         _window_job(tel, chat, chat.generation))
            kept += 1
        elif await close_by_citizen(tel.routing, view, reason=ORPHAN_REASON):
            await tel.resume_tokens.expire(view.contact_id)
            closed += 1
    await tel.resume_tokens.purge()
    if closed:
        log.warning("closed %d web chats left open by a restart: their citizens are gone",
                    closed)
    if kept:
        log.info("kept %d web chats open after the restart for their citizens to come back",
                 kept)
    return closed


# -- frames ------------------------------------------------------------------------------------
def _parse(raw: str) -> dict[str, Any]:
    try:
        frame = parse_json(raw)
    except BadRequest:
        raise ChatError("invalid", "webchat_bad_json") from None
    if not isinstance(frame, dict):
        raise ChatError("invalid", "webchat_bad_json")
    return frame


def _text(frame: dict[str, Any]) -> str:
    text = frame.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ChatError("invalid", "webchat_empty")
    if len(text) > MAX_TEXT:
        raise ChatError("invalid", "webchat_too_long", n=MAX_TEXT)
    return text.strip()


def _language(frame: dict[str, Any], *, required: bool = False) -> str:
    lang = frame.get("language", None if required else EN)
    if not isinstance(lang, str) or lang not in (EN, CY):
        raise ChatError("invalid", "webchat_bad_language")
    return lang


def _open(state: ContactState) -> bool:
    return state.waiting or state is ContactState.CONNECTED


def _place(info: QueueInfo) -> dict[str, Any]:
    return {"state": str(info.state), "position": info.position,
            "estimated_wait_s": info.estimated_wait_s, "experts_on_duty": info.experts_on_duty}


def _place_key(info: QueueInfo) -> tuple[Any, ...]:
    return (info.state, info.position, info.estimated_wait_s, info.experts_on_duty)


def _position_frame(lang: str, info: QueueInfo) -> dict[str, Any]:
    return {"type": "position", **_place(info),
            "text": " ".join(prompts.chat_queue_sentences(lang, info))}


def _line(line: TranscriptLine) -> dict[str, Any]:
    return {"at": line.at, "from": SENDERS.get(line.sender, "system"), "text": line.text}


# -- the socket --------------------------------------------------------------------------------
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
                await session.error("invalid", prompts.text(session.language,
                                                            "webchat_binary"))
    finally:
        await session.gone()
    return ws


async def page(_request: web.Request) -> web.FileResponse:
    """``GET /chat``: a page to try the web chat by hand."""
    return web.FileResponse(PAGE)
