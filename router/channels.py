"""The engine as the channels use it: ``router.ports.RoutingPort`` (a mixin of ``Engine``).

Each method is one engine step (or a plain read): validate, hand an event to the core, commit,
announce. The port's rules hold: ``submit`` and ``relay_to_expert`` are idempotent on their
refs; calls on finished contacts are no-ops; unknown ids raise ``NotFound``.

A chat's transcript lives in the database (``contact_message``): the citizen's first words are
kept on the contact, each relayed message is stored (once per ref, the database's unique
``ref`` deciding) before the expert's desk hears of it. First words and messages are never
logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from base.config import Config
from base.errors import Conflict, InvalidInput, NotFound, Unavailable
from base.inputs import text_problem
from router import commands as cmd
from router import events as ev
from router.batch import Batch, StateChange, new_contact
from router.core import RoutingCore
from router.estimate import WaitEstimator
from router.live import LiveContact, News
from router.model import STAFFED, Channel, ContactSpec, ContactState
from router.ports import (
    ContactRequest,
    ContactTicket,
    ContactView,
    Ended,
    Medium,
    QueueInfo,
    TranscriptLine,
)
from router.store import Store
from router.tables import ContactRow, MessageRow

log = logging.getLogger("router.channels")
FIRST_WORDS_MAX = 1000
MESSAGE_MAX = 2000
REF_MAX = 160
RELAY_REFS_KEPT = 10_000

Prepare = Callable[[Batch, News], None]
"""Adds a step's own writes and news to what the core's commands produce."""


class Step(Protocol):
    """``Engine._step``: handle one event, commit, announce; returns the core's commands."""

    async def __call__(self, event: ev.Event, *,
                       prepare: Prepare | None = None) -> list[cmd.Command]: ...


class Commit(Protocol):
    """``Engine._commit``: translate and queue for the next group commit (the caller holds
    the lock); await ``Engine._saved`` on the result after letting the lock go."""

    def __call__(self, commands: list[cmd.Command], now: float,
                 prepare: Prepare | None = None) -> asyncio.Future[None]: ...


class EndSession(Protocol):
    """``ChannelPort._end``: end a session (wrap-up starts)."""

    async def __call__(self, contact_id: str, session_id: str, *, by: str, reason: str,
                       audit: tuple[str, str] | None = None,
                       distressing: bool = False) -> None: ...


class ChannelPort:
    core: RoutingCore
    config: Config
    store: Store
    clock: Callable[[], float]
    _live: dict[str, LiveContact]
    _refs: dict[str, str]
    _seq: int
    knows_skill: Callable[[str], bool]
    _relay_refs: dict[str, None]
    waits: WaitEstimator
    _told: dict[str, float]
    _desks: dict[str, list[Callable[[dict[str, Any]], None]]]
    _remember: Callable[[LiveContact], None]
    _step: Step
    _lock: asyncio.Lock
    _chat_lock: asyncio.Lock
    _announced: set[str]
    _arrivals: dict[str, asyncio.Future[None]]
    _commit: Commit
    _saved: Callable[[asyncio.Future[None]], Awaitable[None]]
    _fresh: Callable[[], Awaitable[None]]

    # -- new contacts -------------------------------------------------------------------------
    async def submit(self, request: ContactRequest, *, org: str | None = None,
                     accreditations: frozenset[str] = frozenset()) -> ContactTicket:
        existing = await self._existing(request.external_ref)
        if existing is not None:
            await self._arrived(existing)
            return ContactTicket(existing, False, await self.position(existing))
        org = org if org is not None else request.org
        if not self.knows_skill(request.skill):
            raise InvalidInput(f"unknown skill {request.skill!r}", field="skill")
        now = self.clock()
        contact = LiveContact(id=f"ct-{secrets.token_hex(8)}", seq=0, channel=request.channel,
                              medium=request.medium, skill=request.skill,
                              language=request.language or "en",
                              external_ref=request.external_ref, arrived_at=now,
                              priority=max(request.priority,
                                           self.config.staffing.priority_of(request.skill)),
                              address=request.address, first_words=first_words_of(request),
                              org=org)
        async with self._lock:
            await self._fresh()
            if request.external_ref in self._refs:  # a concurrent retry won the race
                contact_id = self._refs[request.external_ref]
            elif (same := self._open_conversation(request)) is not None:
                contact_id = same  # another message of the same conversation won the race
            else:
                self._arrive(contact, request, org, accreditations)
                contact_id = contact.id
        await self._arrived(contact_id)
        return ContactTicket(contact_id, contact_id == contact.id,
                             await self.position(contact_id))

    async def _arrived(self, contact_id: str) -> None:
        """Wait until the contact's arrival is saved (503 if it could not be): whoever learns
        of a contact, its own submitter or a retry that lost the race, hears of it only once
        it is in the database."""
        saving = self._arrivals.get(contact_id)
        if saving is not None:
            await self._saved(saving)

    def _arrive(self, contact: LiveContact, request: ContactRequest, org: str | None,
                accreditations: frozenset[str]) -> None:
        """Queue a new contact (the caller holds the lock); ``_arrived`` waits for it."""
        self._seq += 1
        contact.seq = self._seq
        spec = ContactSpec(id=contact.id, channel=contact.channel, skill=contact.skill,
                           arrived_at=contact.arrived_at, language=contact.language,
                           priority=contact.priority, org=org,
                           required_accreditations=accreditations)
        triage = request.triage
        row = new_contact(id=contact.id, seq=contact.seq, external_ref=contact.external_ref,
                          channel=contact.channel.value, medium=contact.medium.value,
                          skill=contact.skill, language=contact.language,
                          priority=contact.priority, org=org,
                          accreditations=sorted(accreditations), address=contact.address,
                          triage=None if triage is None else {
                              "method": triage.method, "score": triage.score,
                              "matched": list(triage.matched)},
                          first_words=contact.first_words,
                          state="queued", reason="arrived", arrived_at=contact.arrived_at)
        commands = self.core.handle(ev.ContactArrived(spec, contact.seq), contact.arrived_at)

        def prepare(batch: Batch, _news: News) -> None:
            self._remember(contact)
            batch.new_contacts.append(row)
            batch.changes.append(StateChange(contact.id, "queued", "arrived"))

        saving = self._commit(commands, contact.arrived_at, prepare)
        self._arrivals[contact.id] = saving
        saving.add_done_callback(lambda _done: self._arrivals.pop(contact.id, None))

    def _open_conversation(self, request: ContactRequest) -> str | None:
        """The open chat contact of the citizen behind ``request`` (same medium and address):
        one conversation per number, however many messages arrive at once."""
        if request.channel is not Channel.CHAT or not request.address:
            return None
        found = self._find_open(request.medium, request.address)
        return None if found is None else found.id

    async def _existing(self, external_ref: str) -> str | None:
        if external_ref in self._refs:
            return self._refs[external_ref]
        return await self.store.id_by_ref(external_ref)

    # -- reads --------------------------------------------------------------------------------
    async def get(self, contact_id: str) -> ContactView | None:
        live = self._live.get(contact_id)
        if live is not None:
            return live.view()
        row = await self.store.contact(contact_id)
        return None if row is None else _view_of(row)

    async def find_open(self, *, medium: Medium, address: str) -> ContactView | None:
        found = self._find_open(medium, address)
        return None if found is None else found.view()

    async def transcript(self, contact_id: str) -> list[TranscriptLine]:
        found = await self.store.transcript(contact_id)
        if found is None:
            raise NotFound(f"contact {contact_id} is unknown", contact=contact_id)
        return transcript_lines(*found)

    async def open_contacts(self, *, medium: Medium) -> list[ContactView]:
        return [c.view() for c in self._live.values()
                if c.medium is medium and c.state is not ContactState.WRAPUP]

    def _find_open(self, medium: Medium, address: str) -> LiveContact | None:
        for contact in self._live.values():
            if (contact.medium is medium and contact.address == address
                    and contact.state is not ContactState.WRAPUP):
                return contact
        return None

    async def position(self, contact_id: str) -> QueueInfo:
        live = self._live.get(contact_id)
        if live is None:
            row = await self.store.contact(contact_id)
            if row is None:
                raise NotFound(f"contact {contact_id} is unknown", contact=contact_id)
            return QueueInfo(ContactState(row.state))
        if live.state not in (ContactState.QUEUED, ContactState.CALLBACK):
            return QueueInfo(live.state)
        ahead = self.core.position(contact_id)
        place = None if ahead is None else ahead + 1
        serving, on_duty = self._staffed(contact_id, live)
        told = self.waits.told(place, serving)
        if told is not None:
            self._told.setdefault(contact_id, told)  # learned from when it is answered
        return QueueInfo(live.state, place, told, on_duty)

    def _staffed(self, contact_id: str, live: LiveContact) -> tuple[int, int]:
        """Experts working now (available, offered, busy or wrapping up) who take the
        contact's channel (a chat is no help from an expert who takes calls only) and hold its
        skill or a substitute: within the ring its wait has reached (whom a wait estimate
        counts on) and within the widest ring it may reach (who could answer it at all);
        ``RoutingCore.serving`` and ``on_duty``."""
        serving, on_duty = self.core.serving(contact_id), self.core.on_duty(contact_id)
        if serving is not None and on_duty is not None:
            return serving, on_duty
        states = self.core.holder_states(live.skill, live.channel)
        exact = sum(states[s] for s in STAFFED)
        return exact, exact

    def _known(self, contact_id: str) -> LiveContact | None:
        """The live contact; None when finished; ``NotFound`` when it never existed."""
        return self._live.get(contact_id)

    async def _require(self, contact_id: str) -> LiveContact | None:
        live = self._live.get(contact_id)
        if live is None and await self.store.contact(contact_id) is None:
            raise NotFound(f"contact {contact_id} is unknown", contact=contact_id)
        return live

    # -- the citizen's side -------------------------------------------------------------------
    async def abandon(self, contact_id: str, *, reason: str,
                      waited_s: float | None = None) -> None:
        live = await self._require(contact_id)
        if live is None or live.state in (ContactState.CONNECTED, ContactState.WRAPUP):
            return
        waited = waited_s if waited_s is not None else self.clock() - live.arrived_at

        def prepare(batch: Batch, _news: News) -> None:
            batch.updates[contact_id] = {"waited_s": max(waited, 0.0)}

        await self._step(ev.ContactAbandoned(contact_id, reason), prepare=prepare)

    async def requeue(self, contact_id: str, *, reason: str) -> None:
        live = await self._require(contact_id)
        if live is None:
            return
        view = self.core.contact(contact_id)
        if view is None:
            return
        if view.session_id is not None:
            session_id = view.session_id

            def prepare(batch: Batch, _news: News) -> None:
                batch.sessions_failed.append(session_id)

            await self._step(ev.SessionFailed(session_id, reason), prepare=prepare)
        elif view.offer_id is not None:
            await self._step(ev.OfferDeclined(view.offer_id))

    async def end_session(self, contact_id: str, *, by: str) -> None:
        live = await self._require(contact_id)
        if live is None or live.session_id is None or live.state is not ContactState.CONNECTED:
            return
        await self._end(contact_id, live.session_id, by=by, reason=f"ended by {by}")

    async def _end(self, contact_id: str, session_id: str, *, by: str, reason: str,
                   audit: tuple[str, str] | None = None, distressing: bool = False) -> None:
        """End a session: wrap-up starts; the desk hears of it; channels hear unless the
        citizen's side ended it (they know). ``audit`` (actor, action) records who did it."""
        live = self._live.get(contact_id)
        found = self.core.session(session_id)
        if found is None:
            return
        expert_id = found[1]
        distressing = distressing or (live is not None and live.distressing)

        def prepare(batch: Batch, news: News) -> None:
            batch.sessions_ended.append((session_id, by, distressing))
            news.desk.append((expert_id, {"type": "session_ended", "session_id": session_id,
                                          "contact_id": contact_id, "by": by,
                                          "reason": reason}))
            if audit is not None:
                batch.audits.append({"actor": audit[0], "action": audit[1],
                                     "entity": "session", "entity_id": session_id,
                                     "after": {"reason": reason, "contact": contact_id,
                                               "org": None if live is None else live.org,
                                               "expert": expert_id}})
            if live is not None and by != "citizen":
                news.announcements.append(Ended(live.view(), by, reason))

        await self._step(ev.SessionEnded(session_id, distressing), prepare=prepare)

    async def convert_to_callback(self, contact_id: str, *, number: str) -> QueueInfo:
        live = await self._require(contact_id)
        if live is None or not live.state.waiting:
            state = "finished" if live is None else live.state.value
            raise Conflict(f"contact {contact_id} is {state}: no callback", contact=contact_id)
        if not number:
            raise InvalidInput("a callback needs a number", field="number")
        async with self._lock:
            await self._fresh()
            live.callback_number = number
            queued = live.state is ContactState.QUEUED
            batch_state = ContactState.CALLBACK if queued else live.state

            def prepare(batch: Batch, _news: News) -> None:
                batch.updates[contact_id] = {"callback_number": number}
                if batch_state is not live.state:
                    live.state = batch_state
                    batch.changes.append(StateChange(contact_id, batch_state.value,
                                                     "callback requested"))

            saved = self._commit([], self.clock(), prepare)
        await self._saved(saved)
        return await self.position(contact_id)

    async def fail(self, contact_id: str, *, reason: str) -> None:
        live = await self._require(contact_id)
        if live is None or live.state is ContactState.WRAPUP:
            return
        live.failed = reason or "failed"
        if live.session_id is not None and live.state is ContactState.CONNECTED:
            await self._end(contact_id, live.session_id, by="system", reason=live.failed)
        else:
            await self._step(ev.ContactAbandoned(contact_id, live.failed))

    async def relay_to_expert(self, contact_id: str, text: str, *, ref: str) -> None:
        """Store the citizen's message in the transcript, then push it to the expert's desk
        if its session event was pushed (otherwise that event, still to come, carries it).
        Under the chat lock, so a desk's session event and this push never both carry it,
        nor neither."""
        if await self._require(contact_id) is None or ref in self._relay_refs:
            return
        await self._arrived(contact_id)
        async with self._chat_lock:
            live = self._live.get(contact_id)  # None: it finished meanwhile
            line = MessageRow(contact_id=contact_id, at=self.clock(), sender="citizen",
                              text=storable(text, MESSAGE_MAX), ref=ref_key(ref))
            if live is None or not line.text:  # nothing to keep, or nobody left to read it
                return
            added = await self._save_line(line)
            self._relayed(ref)
            if (added and live.expert_id is not None and live.session_id in self._announced
                    and live.state is ContactState.CONNECTED):
                event = {"type": "message", "contact_id": contact_id, "sender": "citizen",
                         "session_id": live.session_id, "at": line.at, "text": line.text}
                for sink in list(self._desks.get(live.expert_id, ())):
                    sink(event)

    def _relayed(self, ref: str) -> None:
        """Remember a stored ref: a quick answer to the channel's next retry of it."""
        self._relay_refs[ref] = None
        if len(self._relay_refs) > RELAY_REFS_KEPT:
            del self._relay_refs[next(iter(self._relay_refs))]

    async def _save_line(self, line: MessageRow) -> bool:
        """Store one transcript line (False: its ref was stored already); 503 when the
        database does not answer."""
        try:
            return await self.store.add_message(line)
        except Exception as exc:
            log.warning("could not save a chat message for contact %s (%s)", line.contact_id,
                        type(exc).__name__)
            raise Unavailable("the chat message could not be saved; try again") from None


def transcript_lines(contact: ContactRow, rows: list[MessageRow]) -> list[TranscriptLine]:
    """A contact's chat, oldest first: its first words (when it has some), then its messages."""
    first = ([TranscriptLine(contact.arrived_at, "citizen", contact.first_words)]
             if contact.first_words else [])
    return first + [TranscriptLine(r.at, r.sender, r.text) for r in rows]


def first_words_of(request: ContactRequest) -> str:
    """The citizen's own words from triage (a chat's first message, what a caller said to the
    IVR), trimmed and cut to what the contact keeps."""
    return "" if request.triage is None else storable(request.triage.text, FIRST_WORDS_MAX)


def storable(text: str, limit: int) -> str:
    """``text`` trimmed and cut to ``limit`` characters, without what no database can store
    (NUL characters; lone surrogates become U+FFFD)."""
    clean = text.replace("\x00", "").encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return clean.strip()[:limit]


def ref_key(ref: str) -> str:
    """The ref as stored: a ref too long or unstorable for the column is kept as its hash."""
    if len(ref) <= REF_MAX and text_problem(ref) is None:
        return ref
    return "sha256:" + hashlib.sha256(ref.encode("utf-8", "surrogatepass")).hexdigest()


def _view_of(row: ContactRow) -> ContactView:
    from router.ports import Channel

    return ContactView(row.id, Channel(row.channel), Medium(row.medium), row.skill,
                       row.language, ContactState(row.state), row.external_ref, row.address,
                       row.callback_number)
