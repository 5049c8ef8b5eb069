"""Support for the telephony tests: the routing TEST DOUBLE, a keyword triage, a manual
scheduler, Twilio's webhook side, and a bare application with ``telephony.wiring.setup``.

``FakeRouting`` is a TEST DOUBLE of ``router.ports.RoutingPort``, an in-memory stand-in for
the routing engine. It exists only because ``router/engine.py`` is being written in parallel:
replace it with the real engine (on a real database) once that lands. It keeps the port's
rules (idempotent submit and relay, no-op on finished contacts, NotFound on unknown ids,
contacts keep their place when requeued) and lets a test act as the expert desk:
``assign``, ``expert_says``, ``complete``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientWebSocketResponse, web
from aiohttp.test_utils import TestClient
from sqlmodel.ext.asyncio.session import AsyncSession

import telephony.wiring
from base.config import Config, load_config
from base.db import Guard
from base.errors import Conflict, NotFound
from base.http import error_middleware
from expertline import schema
from expertline.app import DATABASE
from expertline.governance.store import key_source
from router.ports import (
    Announcement,
    Assigned,
    ContactRequest,
    ContactState,
    ContactTicket,
    ContactView,
    Ended,
    ExpertEndpoint,
    ExpertMessage,
    Listener,
    Medium,
    QueueInfo,
    ShownExpert,
    TranscriptLine,
)
from telephony.gateway import Gateway
from telephony.optouts import OptOutKey
from telephony.service import BookCallback
from telephony.signature import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, sign


@dataclass
class FakeContact:
    view: ContactView
    request: ContactRequest
    seq: int
    reasons: list[str] = field(default_factory=list)
    waited_s: float | None = None
    expert_id: str | None = None


class FakeRouting:
    """In-memory routing port. ``seconds_per_place`` makes the wait estimate (None: unknown);
    ``on_duty`` is what ``QueueInfo.experts_on_duty`` says of a waiting contact (None:
    unknown). Each contact keeps a transcript: its first words, then both sides' messages."""

    def __init__(self, *, seconds_per_place: float | None = 90.0,
                 on_duty: int | None = None) -> None:
        self.contacts: dict[str, FakeContact] = {}
        self.relayed: list[tuple[str, str]] = []
        self.lines: dict[str, list[TranscriptLine]] = {}
        self.seconds_per_place = seconds_per_place
        self.on_duty = on_duty
        self._at = itertools.count(1_796_000_000)
        self._refs: dict[str, str] = {}
        self._relay_refs: set[str] = set()
        self._listeners: list[Listener] = []
        self._ids = itertools.count(1)

    # -- the port ---------------------------------------------------------------------------
    async def submit(self, request: ContactRequest) -> ContactTicket:
        existing = self._refs.get(request.external_ref)
        if existing is not None:
            return ContactTicket(existing, False, await self.position(existing))
        n = next(self._ids)
        contact_id = f"c{n:04d}"
        view = ContactView(contact_id, request.channel, request.medium, request.skill,
                           request.language, ContactState.QUEUED, request.external_ref,
                           request.address)
        self.contacts[contact_id] = FakeContact(view, request, n)
        self._refs[request.external_ref] = contact_id
        first = request.triage.text if request.triage is not None else ""
        self.lines[contact_id] = [self._line("citizen", first)] if first else []
        return ContactTicket(contact_id, True, await self.position(contact_id))

    async def get(self, contact_id: str) -> ContactView | None:
        found = self.contacts.get(contact_id)
        return None if found is None else found.view

    async def find_open(self, *, medium: Medium, address: str) -> ContactView | None:
        for contact in self.contacts.values():
            view = contact.view
            if view.medium is medium and view.address == address and not view.state.finished \
                    and view.state is not ContactState.WRAPUP:
                return view
        return None

    async def open_contacts(self, *, medium: Medium) -> list[ContactView]:
        return [c.view for c in self.contacts.values() if c.view.medium is medium
                and not c.view.state.finished and c.view.state is not ContactState.WRAPUP]

    async def position(self, contact_id: str) -> QueueInfo:
        contact = self._contact(contact_id)
        state = contact.view.state
        if state is not ContactState.QUEUED and state is not ContactState.CALLBACK:
            return QueueInfo(state)
        ahead = [c for c in self.contacts.values() if c.view.state.waiting and c.seq < contact.seq]
        place = len(ahead) + 1
        estimate = None if self.seconds_per_place is None else place * self.seconds_per_place
        return QueueInfo(state, place, estimate, self.on_duty)

    async def abandon(self, contact_id: str, *, reason: str,
                      waited_s: float | None = None) -> None:
        contact = self._contact(contact_id)
        if contact.view.state.finished:
            return
        contact.waited_s = waited_s
        self._set(contact, ContactState.ABANDONED, reason)

    async def requeue(self, contact_id: str, *, reason: str) -> None:
        contact = self._contact(contact_id)
        if contact.view.state.finished:
            return
        back = ContactState.CALLBACK if contact.view.callback_number else ContactState.QUEUED
        contact.expert_id = None
        self._set(contact, back, reason)

    async def end_session(self, contact_id: str, *, by: str) -> None:
        contact = self._contact(contact_id)
        if contact.view.state is ContactState.CONNECTED:
            self._set(contact, ContactState.WRAPUP, f"ended by {by}")

    async def convert_to_callback(self, contact_id: str, *, number: str) -> QueueInfo:
        contact = self._contact(contact_id)
        if not contact.view.state.waiting:
            raise Conflict(f"contact {contact_id} is {contact.view.state}")
        contact.view = dataclasses.replace(contact.view, callback_number=number)
        self._set(contact, ContactState.CALLBACK, "callback requested")
        return await self.position(contact_id)

    async def fail(self, contact_id: str, *, reason: str) -> None:
        contact = self._contact(contact_id)
        if not contact.view.state.finished:
            self._set(contact, ContactState.FAILED, reason)

    async def relay_to_expert(self, contact_id: str, text: str, *, ref: str) -> None:
        self._contact(contact_id)
        if ref not in self._relay_refs:
            self._relay_refs.add(ref)
            self.relayed.append((contact_id, text))
            self.lines[contact_id].append(self._line("citizen", text))

    async def transcript(self, contact_id: str) -> list[TranscriptLine]:
        self._contact(contact_id)
        return list(self.lines[contact_id])

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    # -- the expert desk, played by the test -----------------------------------------------
    def offer(self, contact_id: str, expert_id: str) -> None:
        """The engine offered the contact to an expert's desk (no announcement: telephony
        acts only once the expert accepts)."""
        contact = self._contact(contact_id)
        contact.expert_id = expert_id
        self._set(contact, ContactState.OFFERED, f"offered to {expert_id}")

    async def assign(self, contact_id: str, expert: ExpertEndpoint,
                     waited_s: float = 75.0, shown: ShownExpert | None = None) -> None:
        """An expert accepted the contact on the desk (``shown``: what they agreed the
        citizen may be told of them)."""
        contact = self._contact(contact_id)
        contact.expert_id = expert.expert_id
        self._set(contact, ContactState.CONNECTED, f"accepted by {expert.expert_id}")
        await self._announce(Assigned(contact.view, expert, waited_s, shown or ShownExpert()))

    async def expert_says(self, contact_id: str, text: str, *, announce: bool = True) -> None:
        """The expert writes: the line joins the transcript, then is announced (``announce``
        False: the announcement is still on its way)."""
        self.lines[contact_id].append(self._line("expert", text))
        if announce:
            await self._announce(ExpertMessage(self._contact(contact_id).view, text))

    async def complete(self, contact_id: str, by: str = "expert") -> None:
        contact = self._contact(contact_id)
        self._set(contact, ContactState.WRAPUP, f"completed by {by}")
        await self._announce(Ended(contact.view, by))

    async def give_up(self, contact_id: str, reason: str = "watchdog") -> None:
        """The engine itself failed the contact (e.g. its watchdog)."""
        await self.fail(contact_id, reason=reason)
        await self._announce(Ended(self._contact(contact_id).view, "system", reason))

    def state(self, contact_id: str) -> ContactState:
        return self._contact(contact_id).view.state

    def by_ref(self, ref: str) -> FakeContact:
        return self.contacts[self._refs[ref]]

    # -- internals ---------------------------------------------------------------------------
    def _contact(self, contact_id: str) -> FakeContact:
        try:
            return self.contacts[contact_id]
        except KeyError:
            raise NotFound(f"no contact {contact_id}") from None

    def _line(self, sender: str, text: str) -> TranscriptLine:
        return TranscriptLine(float(next(self._at)), sender, text)

    def _set(self, contact: FakeContact, state: ContactState, reason: str) -> None:
        contact.view = dataclasses.replace(contact.view, state=state)
        contact.reasons.append(reason)

    async def _announce(self, event: Announcement) -> None:
        for listener in list(self._listeners):
            await listener(event)


# -- triage: a stand-in for the skills graph's triage(text) -------------------------------------
@dataclass(frozen=True)
class Match:
    skill_id: str
    score: float
    matched: tuple[str, ...]


TERMS: dict[str, dict[str, float]] = {
    "dementia": {"dementia": 0.95, "forgetting": 0.6, "wandering": 0.3},
    "carers-support": {"carer": 0.9, "caring for": 0.7},
    "housing-homelessness": {"homeless": 0.95, "evicted": 0.8},
}


def keyword_triage(text: str) -> list[Match]:
    lowered = text.lower()
    found = []
    for skill, terms in TERMS.items():
        hits = [(term, score) for term, score in terms.items() if term in lowered]
        if hits:
            best = max(score for _, score in hits)
            found.append(Match(skill, best, tuple(term for term, _ in hits)))
    return found


# -- a scheduler the test runs by hand -----------------------------------------------------------
async def next_of(ws: ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """The next pushed event of this type (others, e.g. state changes, are skipped)."""
    while True:
        event = await ws.receive_json(timeout=5)
        if event.get("type") == kind:
            return event


class ManualScheduler:
    """Records ``schedule(delay_s, key, job)``; ``await run_due()`` runs what was scheduled,
    whatever its delay. It also keeps virtual time: ``time`` is a wall clock for the code under
    test, and ``await advance(s)`` moves it on, running each job as its time comes (jobs that
    jobs schedule too), in time order. No sleeps."""

    def __init__(self, start: float = 1_796_000_000.0) -> None:
        self.now = start
        self.jobs: list[tuple[float, str, Callable[[], Awaitable[None]]]] = []
        self._due: list[float] = []

    def __call__(self, delay_s: float, key: str, job: Callable[[], Awaitable[None]]) -> None:
        self.jobs.append((delay_s, key, job))
        self._due.append(self.now + delay_s)

    def time(self) -> float:
        return self.now

    async def run_due(self) -> list[float]:
        jobs, self.jobs, self._due = self.jobs, [], []
        for _, _, job in jobs:
            await job()
        return [delay for delay, _, _ in jobs]

    async def advance(self, seconds: float) -> None:
        until = self.now + seconds
        while self._due and min(self._due) <= until:
            i = self._due.index(min(self._due))
            self.now = max(self.now, self._due.pop(i))
            _, _, job = self.jobs.pop(i)
            await job()
        self.now = until

    def pending(self, key: str) -> int:
        """How many jobs wait under ``key``."""
        return sum(1 for _, k, _ in self.jobs if k == key)


async def eventually(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Yield to the event loop until ``condition`` holds: the server notices a socket closed
    by the client on its own schedule. Not a sleep: nothing here waits for time to pass."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the server did not get there"
        await asyncio.sleep(0)


# -- configuration and the application -----------------------------------------------------------
PUBLIC_URL = "https://expertline.example.org"
ACCOUNT, AUTH_TOKEN, NUMBER = "AC" + "2" * 32, "test-auth-token", "+443000000000"


def telephony_config(tmp_path: Any, *, twilio: bool, api_url: str = "https://api.twilio.com",
                     **sections: dict[str, Any]) -> Config:
    """The project defaults with a public URL that is NOT where the test server listens: the
    signature must be checked against the public URL, never the request's own host."""
    config = load_config(None, {}).replace(
        server={"public_url": PUBLIC_URL, "data_dir": str(tmp_path)},
        scheduler={"enabled": False})
    creds = {"account_sid": ACCOUNT, "auth_token": AUTH_TOKEN, "number": NUMBER,
             "api_url": api_url} if twilio else {"number": NUMBER}
    return config.replace(twilio=creds, **sections)


def telephony_app(config: Config, routing: FakeRouting, *,
                  gateway: Callable[[], Gateway] | None = None,
                  schedule: ManualScheduler | None = None,
                  guard: Guard | None = None,
                  book_callback: BookCallback | None = None,
                  optout_key: OptOutKey | None = None) -> web.Application:
    """A bare application with the real error middleware, a real database (opt-outs and chat
    resume tokens live there) and ``telephony.wiring.setup``. With a ``schedule`` its virtual
    time is also telephony's wall clock. The opt-outs' key is, as in the application, the
    database's key of references (``optout_key`` to give another)."""
    app = web.Application(middlewares=[error_middleware])

    async def database_ctx(app: web.Application) -> AsyncIterator[None]:
        async with schema.database(config.database_url) as db:
            app[DATABASE] = db
            yield

    def sessions() -> AsyncSession:  # the database opens after set-up
        return app[DATABASE].session()

    app.cleanup_ctx.append(database_ctx)
    key = optout_key if optout_key is not None else key_source(sessions, config.retention)
    telephony.wiring.setup(app, config=config, sessions=sessions, optout_key=key,
                           routing=lambda: routing, triage=keyword_triage, gateway=gateway,
                           schedule=schedule, guard=guard, book_callback=book_callback,
                           **({} if schedule is None else {"wall_clock": schedule.time}))
    return app


# -- Twilio's side of the webhooks ---------------------------------------------------------------
class TwilioPlayer:
    """Posts webhooks as Twilio would (form-encoded, signed against the public URL) to the
    test client and parses the TwiML it gets back."""

    def __init__(self, client: TestClient, *, token: str | None = AUTH_TOKEN) -> None:
        self.client = client
        self.token = token

    def path_of(self, url: str) -> str:
        return url[len(PUBLIC_URL):] if url.startswith(PUBLIC_URL) else url

    async def send(self, url: str, params: dict[str, str], *, signature: str | None = None,
                   token: str | None = None) -> Any:
        path = self.path_of(url)
        headers = {}
        if self.token is not None:
            headers[SIGNATURE_HEADER] = signature or sign(self.token, PUBLIC_URL + path, params)
        if token:
            headers[IDEMPOTENCY_HEADER] = token
        return await self.client.post(path, data=params, headers=headers)

    async def post(self, url: str, params: dict[str, str], **kwargs: Any) -> ET.Element:
        resp = await self.send(url, params, **kwargs)
        body = await resp.text()
        assert resp.status == 200, body
        assert resp.content_type == "text/xml"
        root = ET.fromstring(body)
        assert root.tag == "Response"
        return root


class PhoneCall:
    """One citizen's inbound call, as Twilio reports it to each webhook."""

    def __init__(self, player: TwilioPlayer, sid: str, caller: str = "+447700900123") -> None:
        self.player = player
        self.sid = sid
        self.caller = caller

    def params(self, **extra: str) -> dict[str, str]:
        return {"CallSid": self.sid, "AccountSid": ACCOUNT, "From": self.caller, "To": NUMBER,
                "CallStatus": "in-progress", "Direction": "inbound", **extra}

    async def post(self, url: str, **extra: str) -> ET.Element:
        return await self.player.post(url, self.params(**extra))

    async def dial_in(self) -> ET.Element:
        return await self.post("/twilio/voice", CallStatus="ringing")

    async def say(self, gather: ET.Element, speech: str, confidence: str = "0.9") -> ET.Element:
        return await self.post(gather.attrib["action"], SpeechResult=speech,
                               Confidence=confidence)

    async def press(self, gather: ET.Element, digits: str) -> ET.Element:
        return await self.post(gather.attrib["action"], Digits=digits)

    async def silence(self, gather: ET.Element) -> ET.Element:
        return await self.post(gather.attrib["action"])


def spoken(root: ET.Element) -> list[str]:
    """Every sentence a document says, in order, including inside Gather."""
    return [say.text or "" for say in root.iter("Say")]


def urls_in(root: ET.Element) -> list[str]:
    """Every URL a TwiML document names."""
    found = [el.text or "" for el in root.iter("Redirect")]
    for el in root.iter():
        found += [v for k, v in el.attrib.items() if k in ("action", "waitUrl",
                                                              "statusCallback")]
    return found
