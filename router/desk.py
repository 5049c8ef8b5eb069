"""The engine as the expert desk uses it (a mixin of ``Engine``): status, offers, sessions,
their transcripts, messages, and the desk connections whose loss starts a short grace.

Every action names the acting expert; one expert can never see or act on another's offers or
sessions (``NotFound``, as if they did not exist). An expert's messages are stored in the
chat's transcript before the channel is told to deliver them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from base.config import Config
from base.errors import Conflict, InvalidInput, NotFound, Unavailable
from base.inputs import text_problem
from router import events as ev
from router.batch import Batch
from router.channels import EndSession, Step, transcript_lines
from router.core import RoutingCore
from router.live import LiveContact, News
from router.model import Channel, ContactState, OfferStatus, OfferView, Presence
from router.ports import ExpertMessage, TranscriptLine
from router.store import Store
from router.tables import MessageRow
from skills.snapshot import ExpertRecord

log = logging.getLogger("router.desk")
DeskSink = Callable[[dict[str, Any]], None]
MAX_MESSAGE = 2000
LOCAL = ZoneInfo("Europe/London")


def local_midnight(now: float) -> float:
    """The last midnight in Europe/London before ``now`` (epoch seconds): where "today" starts."""
    local = datetime.fromtimestamp(now, LOCAL)
    return datetime.combine(local.date(), time(0), LOCAL).timestamp()


def line_json(line: TranscriptLine) -> dict[str, Any]:
    return {"at": line.at, "sender": line.sender, "text": line.text}


@asynccontextmanager
async def _reading(what: str) -> AsyncIterator[None]:
    """A read the desk needs from the database: 503 (not a 500) when it does not answer."""
    try:
        yield
    except (sa.exc.SQLAlchemyError, OSError) as exc:
        log.warning("could not read %s (%s)", what, type(exc).__name__)
        raise Unavailable(f"{what} could not be read just now; try again") from None


AWAY_REASONS = {"break": "on a break", "training": "in training", "admin": "doing admin work",
                "other": "away"}
CHANNELS = frozenset(Channel)


def channels_taken(names: Iterable[str]) -> frozenset[Channel]:
    """The channels an expert takes, from their names; at least one."""
    try:
        found = frozenset(Channel(name) for name in names)
    except ValueError:
        raise InvalidInput("takes lists channels: voice, chat", field="takes") from None
    if not found:
        raise InvalidInput("take at least one channel (voice, chat), or go away",
                           field="takes")
    return found


class DeskActions:
    core: RoutingCore
    config: Config
    store: Store
    clock: Callable[[], float]
    _lock: asyncio.Lock
    _chat_lock: asyncio.Lock
    _quiet: Callable[[], AbstractAsyncContextManager[None]]
    _live: dict[str, LiveContact]
    _records: dict[str, ExpertRecord]
    _desired: dict[str, Presence]
    _resumable: dict[str, float]
    _away_reason: dict[str, str]
    _takes: dict[str, frozenset[Channel]]
    _refresh_expert: Callable[[str], Awaitable[None]]
    _desks: dict[str, list[DeskSink]]
    _timers: dict[str, float]
    _step: Step
    _arm: Callable[[], None]
    _end: EndSession
    _announce: Callable[[News], Awaitable[None]]
    _save_line: Callable[[MessageRow], Awaitable[bool]]
    effective: Callable[[str], tuple[Presence, str]]

    def _expert(self, expert_id: str) -> None:
        if self.core.expert(expert_id) is None:
            raise NotFound(f"expert {expert_id} is not in the routing pool (unknown or "
                           "inactive)", expert=expert_id)

    async def set_status(self, expert_id: str, status: str, *, reason: str | None = None,
                         takes: Iterable[str] | None = None) -> dict[str, Any]:
        """The expert's own choice: available, away (with one of ``AWAY_REASONS``) or
        offline, and optionally which channels they take (``voice``, ``chat``: an expert
        without a headset takes chats only). The rota may still keep them away."""
        self._expert(expert_id)
        try:
            presence = Presence(status)
        except ValueError:
            raise InvalidInput("status must be available, away or offline",
                               field="status") from None
        if reason is not None and (presence is not Presence.AWAY or reason not in AWAY_REASONS):
            raise InvalidInput(f"reason goes with away and is one of {', '.join(AWAY_REASONS)}",
                               field="reason")
        if takes is not None:
            self._takes[expert_id] = channels_taken(takes)
        self._desired[expert_id] = presence
        self._away_reason[expert_id] = AWAY_REASONS.get(reason or "", "")
        await self._refresh_expert(expert_id)
        return self.desk_state(expert_id)

    def desk_state(self, expert_id: str) -> dict[str, Any]:
        """What the engine holds for the expert's desk: state, offers, sessions, and each
        wrap-up with when it ends (``ends_at``, epoch seconds)."""
        self._expert(expert_id)
        view = self.core.expert(expert_id)
        assert view is not None
        record = self._records.get(expert_id)
        wrapups = [{"session_id": session_id, "ends_at": until}
                   for session_id, _contact, until in self.core.wrapping_up(expert_id)]
        return {"expert": expert_id, "name": record.name if record else "",
                "state": view.state.value,
                "presence": view.presence.value, "reason": view.reason,
                "requested": self._desired.get(expert_id, Presence.OFFLINE).value,
                "takes": sorted(c.value for c in self._takes.get(expert_id, CHANNELS)),
                "missed_offers": view.missed_offers,
                "load": {"voice": view.voice_load, "chat": view.chat_load},
                "offers": [self.offer_json(o) for o in self.core.pending_offers(expert_id)],
                "sessions": self.sessions_of(expert_id), "wrapups": wrapups,
                "desk_connected": bool(self._desks.get(expert_id))}

    async def desk_view(self, expert_id: str, *, transcripts: bool = False
                        ) -> dict[str, Any]:
        """``desk_state`` with ``today`` (the expert's sessions since midnight in London and
        their handle time) and, with ``transcripts``, each session's chat so far."""
        view = self.desk_state(expert_id)
        async with _reading("the desk's history"):
            view["today"] = await self._today(expert_id)
            if transcripts:
                for session in view["sessions"]:
                    session.update(await self._chat_so_far(session["contact"]["id"]))
        return view

    async def _today(self, expert_id: str) -> dict[str, Any]:
        """Sessions the expert started since local midnight (failed connections aside) and
        their handle time in seconds, a session still open counting until now."""
        now = self.clock()
        found = await self.store.sessions_since(expert_id, local_midnight(now))
        handled = sum((now if ended is None else ended) - started for started, ended in found)
        return {"sessions": len(found), "handle_s": round(max(handled, 0.0), 1)}

    async def _chat_so_far(self, contact_id: str) -> dict[str, Any]:
        """``transcript``: every line of the contact's chat, its first words first;
        ``messages``: the texts of the citizen's messages after their first words."""
        found = await self.store.transcript(contact_id)
        if found is None:
            return {"transcript": [], "messages": []}
        contact, rows = found
        return {"transcript": [line_json(line) for line in transcript_lines(contact, rows)],
                "messages": [row.text for row in rows if row.sender == "citizen"]}

    async def _with_chat(self, event: dict[str, Any]) -> dict[str, Any]:
        """A desk's ``session`` event with the chat so far; when the database cannot be read
        just now its ``transcript`` is None and the desk reads ``GET …/messages`` later."""
        try:
            async with _reading("the transcript"):
                return {**event, **await self._chat_so_far(event["contact"]["id"])}
        except Unavailable:
            return {**event, "transcript": None, "messages": []}

    async def _hello(self, expert_id: str) -> dict[str, Any]:
        """What a (re)connected desk is sent first: its whole state with each session's
        transcript; without ``today`` and transcripts (None) when the database does not
        answer, so the desk still connects."""
        try:
            return {"type": "hello", **await self.desk_view(expert_id, transcripts=True)}
        except Unavailable:
            return {"type": "hello", **self.desk_state(expert_id), "today": None}

    async def session_messages(self, expert_id: str, session_id: str
                               ) -> list[dict[str, Any]]:
        """The transcript of the expert's own session, connected or in wrap-up."""
        contact_id = self._own_session(expert_id, session_id)
        async with _reading("the transcript"):
            found = await self.store.transcript(contact_id)
        if found is None:
            raise NotFound(f"session {session_id} is not yours, unknown or over",
                           session=session_id)
        return [line_json(line) for line in transcript_lines(*found)]

    def _own_session(self, expert_id: str, session_id: str) -> str:
        """The contact of the expert's session (connected or in wrap-up); ``NotFound`` for
        anyone else's, an unknown one or one that is over."""
        found = self.core.session(session_id)
        if found is not None and found[1] == expert_id:
            return found[0]
        for wrapped, contact_id, _until in self.core.wrapping_up(expert_id):
            if wrapped == session_id:
                return contact_id
        raise NotFound(f"session {session_id} is not yours, unknown or over",
                       session=session_id)

    def offer_json(self, offer: OfferView) -> dict[str, Any]:
        """An offer as the desk shows it. ``contact.waited_s`` is the citizen's wait when the
        offer was made (add ``now - made_at`` for the wait so far), so a repeated accept answers
        exactly what the first one did."""
        contact = self._live.get(offer.contact_id)
        return {"id": offer.offer_id, "status": offer.status.value,
                "channel": offer.channel.value, "made_at": offer.made_at,
                "expires_at": offer.expires_at, "session_id": offer.session_id,
                "contact": contact.summary(offer.made_at) if contact
                else {"id": offer.contact_id}}

    def offers(self, expert_id: str) -> list[dict[str, Any]]:
        self._expert(expert_id)
        return [self.offer_json(o) for o in self.core.pending_offers(expert_id)]

    def sessions_of(self, expert_id: str) -> list[dict[str, Any]]:
        now = self.clock()
        found = []
        for contact in self._live.values():
            if contact.expert_id == expert_id and contact.session_id is not None:
                found.append({"id": contact.session_id, "state": contact.state.value,
                              "contact": contact.summary(now)})
        return found

    def _own_offer(self, expert_id: str, offer_id: str) -> OfferView:
        offer = self.core.offer(offer_id)
        if offer is None or offer.expert_id != expert_id:
            raise NotFound(f"offer {offer_id} is not yours or unknown", offer=offer_id)
        return offer

    async def accept(self, expert_id: str, offer_id: str) -> dict[str, Any]:
        """Idempotent: accepting again returns the same session; a rescinded, declined or
        expired offer is a 409."""
        self._own_offer(expert_id, offer_id)
        await self._step(ev.OfferAccepted(offer_id, expert_id))
        offer = self.core.offer(offer_id)
        assert offer is not None
        return self.offer_json(offer)

    async def decline(self, expert_id: str, offer_id: str) -> dict[str, Any]:
        offer = self._own_offer(expert_id, offer_id)
        if offer.status is not OfferStatus.PENDING:
            raise Conflict(f"offer {offer_id} was {offer.status.value}", offer=offer_id,
                           status=offer.status.value)

        def prepare(batch: Batch, _news: News) -> None:
            batch.closed_offers.append((offer_id, "declined", "declined by the expert"))

        await self._step(ev.OfferDeclined(offer_id, expert_id), prepare=prepare)
        closed = self.core.offer(offer_id)
        assert closed is not None
        return self.offer_json(closed)

    async def complete(self, expert_id: str, session_id: str, *,
                       distressing: bool = False) -> dict[str, Any]:
        """End the session (wrap-up starts, ending at ``wrapup_ends_at``, None with no
        wrap-up); on a session in wrap-up, end wrap-up early."""
        found = self.core.session(session_id)
        if found is not None and found[1] == expert_id:
            await self._end(found[0], session_id, by="expert", reason="completed by the "
                            "expert", distressing=distressing)
            ends = [until for wrapped, _contact, until in self.core.wrapping_up(expert_id)
                    if wrapped == session_id]
            return {"session_id": session_id, "ended": True, "state": self._state(expert_id),
                    "wrapup_ends_at": ends[0] if ends else None}
        if session_id in self.core.wrapups(expert_id):
            await self._step(ev.WrapUpEnded(expert_id, session_id))
            return {"session_id": session_id, "ended": True, "wrapup_ended": True,
                    "state": self._state(expert_id)}
        raise NotFound(f"session {session_id} is not yours, unknown or already over",
                       session=session_id)

    def _state(self, expert_id: str) -> str:
        view = self.core.expert(expert_id)
        return view.state.value if view else "offline"

    async def send_message(self, expert_id: str, session_id: str, text: str, *,
                           ref: str | None = None) -> None:
        """Store the expert's message in the transcript, have the channel deliver it, and
        show it on every desk of theirs (``sent``, with the writing desk's ``ref``)."""
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_MESSAGE:
            raise InvalidInput(f"text must be 1..{MAX_MESSAGE} characters", field="text")
        problem = text_problem(text)
        if problem is not None:
            raise InvalidInput(f"text {problem}", field="text")
        async with self._chat_lock:
            contact = self._connected(expert_id, session_id)
            line = MessageRow(contact_id=contact.id, at=self.clock(), sender="expert",
                              expert_id=expert_id, text=text.strip())
            await self._save_line(line)
            await self._announce(News(announcements=[ExpertMessage(contact.view(), line.text)]))
        event = {"type": "sent", "contact_id": contact.id, "session_id": session_id,
                 "sender": "expert", "at": line.at, "text": line.text, "ref": ref}
        for sink in list(self._desks.get(expert_id, ())):
            sink(event)

    def _connected(self, expert_id: str, session_id: str) -> LiveContact:
        found = self.core.session(session_id)
        if found is None or found[1] != expert_id:
            raise NotFound(f"session {session_id} is not yours or is over", session=session_id)
        contact = self._live.get(found[0])
        if contact is None or contact.state is not ContactState.CONNECTED:
            raise Conflict(f"session {session_id} is not connected", session=session_id)
        return contact

    async def mark_distressing(self, contact_id: str) -> None:
        """A supervisor marks a live session distressing: recovery follows its wrap-up."""
        contact = self._live.get(contact_id)
        if contact is None or contact.state is not ContactState.CONNECTED:
            raise Conflict(f"contact {contact_id} is not in a session", contact=contact_id)
        contact.distressing = True

    # -- desk connections ---------------------------------------------------------------------
    async def open_desk(self, expert_id: str, sink: DeskSink) -> Callable[[], None]:
        """Connect a desk WebSocket and send it its ``hello`` before anything else. With the
        core quiet (every step so far announced) and the chat lock, so no offer or message
        falls between what the hello shows and the events that follow it. Returns the
        disconnect function, as ``connect_desk``. An expert who was available before the
        engine (re)started is available again, if their desk is back within
        ``routing.desk_grace_s`` and they have not chosen otherwise since."""
        self._expert(expert_id)
        until = self._resumable.pop(expert_id, None)
        if until is not None and self.clock() <= until and expert_id not in self._desired:
            log.info("%s is available again: their desk came back after a restart", expert_id)
            await self.set_status(expert_id, Presence.AVAILABLE.value)
        async with self._quiet(), self._chat_lock:
            hello = await self._hello(expert_id)
            disconnect = self.connect_desk(expert_id, sink)
            sink(hello)
        return disconnect

    def connect_desk(self, expert_id: str, sink: DeskSink) -> Callable[[], None]:
        """A desk WebSocket opened: it hears this expert's events until the returned function
        is called; the last one closing starts the grace (``routing.desk_grace_s``)."""
        self._expert(expert_id)
        self._desks.setdefault(expert_id, []).append(sink)
        self._timers.pop("grace:" + expert_id, None)

        def disconnect() -> None:
            sinks = self._desks.get(expert_id, [])
            if sink in sinks:
                sinks.remove(sink)
            if not sinks:
                self._desks.pop(expert_id, None)
                grace = self.config.routing.desk_grace_s
                self._timers["grace:" + expert_id] = self.clock() + grace
                self._arm()

        return disconnect

    async def _grace_over(self, expert_id: str) -> None:
        if self._desks.get(expert_id):
            return
        view = self.core.expert(expert_id)
        if view is None or view.presence is Presence.OFFLINE:
            return
        self._desired[expert_id] = Presence.OFFLINE
        await self._step(ev.ExpertStatus(expert_id, Presence.OFFLINE,
                                         "desk disconnected"))

    def experts_by_state(self) -> Mapping[str, int]:
        return {state.value: n for state, n in self.core.experts_by_state().items()}
