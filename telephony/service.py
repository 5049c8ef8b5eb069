"""``Telephony``: the channels' long-lived state, one per application, under a typed AppKey.

It holds the configuration-derived helpers (URLs, speech locales, IVR rules, signature check),
the outbound gateway, the bounded idempotency memories, the background task runner and its
``schedule``, the phone ``Connector`` (with its bridges' table), the web chat hub and the chats'
resume tokens. The routing port is looked up through a function each time, because the engine
starts after this object is made.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from aiohttp import web

from base.config import Config
from base.db import Guard, Sessions
from base.errors import DomainError
from base.limits import RateLimit
from router.ports import Listener, RoutingPort, Triage
from telephony.bridge_store import BridgeStore
from telephony.chat_hub import ChatHub
from telephony.chat_resume import ResumeTokens
from telephony.connect import Connector
from telephony.dedup import CallIndex, RecentKeys, Replies
from telephony.gateway import Gateway
from telephony.ivr import IvrRules
from telephony.optouts import OptOutKey, OptOuts
from telephony.prompts import CY, EN
from telephony.signature import SignatureCheck
from telephony.tasks import Schedule, Tasks
from telephony.twiml import Speech
from telephony.urls import Urls

log = logging.getLogger("telephony")


class BookCallback(Protocol):
    """The scheduler's scheduled callbacks, as the channels book one for a citizen out of
    hours (``scheduler.service.Scheduler.book_callback``); returns the booking's id. Booking
    twice with the same ``ref`` (a CallSid, a chat id) books once."""

    async def __call__(self, *, number: str, skill: str, language: str, due_at: float,
                       org: str | None, ref: str) -> str: ...


class Telephony:
    def __init__(self, *, config: Config, routing: Callable[[], RoutingPort], triage: Triage,
                 gateway: Gateway, sessions: Sessions, optout_key: OptOutKey,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time,
                 schedule: Schedule | None = None, guard: Guard | None = None,
                 book_callback: BookCallback | None = None) -> None:
        self.config = config
        self.sessions = sessions
        self.book_callback = book_callback  # None: out of hours, only the message
        self.triage = triage
        self.gateway = gateway
        self._routing = routing
        self.urls = Urls(config.server.public_url)
        self.speech = Speech({EN: config.voice.language, CY: config.voice.welsh_language})
        self.rules = IvrRules(menu=config.voice.menu, general_skill=config.voice.general_skill,
                              min_confidence=config.voice.triage_min_confidence)
        self.signatures = SignatureCheck(public_url=config.server.public_url,
                                         auth_token=config.twilio.auth_token)
        self.replies = Replies(clock=clock)
        self.messages_seen = RecentKeys(clock=clock)
        self.calls = CallIndex(clock=clock, ttl_s=6 * 3600, size=100_000)
        self.optouts = OptOuts(sessions, optout_key)
        self.chat_opens = RateLimit(config.limits.chat_opens_per_min)
        self.message_senders = RateLimit(config.limits.messages_per_number_per_min)
        self.tasks = Tasks()
        self.schedule: Schedule = schedule or self.tasks.later
        self.wall_clock = wall_clock
        self.connector = Connector(config=config, urls=self.urls, gateway=gateway,
                                   routing=routing, schedule=self.schedule,
                                   store=BridgeStore(sessions, clock=wall_clock, guard=guard),
                                   wall_clock=wall_clock)
        self.chats = ChatHub()
        self.resume_tokens = ResumeTokens(sessions, clock=wall_clock,
                                          window_s=config.chat.resume_window_s)
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def routing(self) -> RoutingPort:
        return self._routing()

    def now(self) -> datetime:
        """The wall clock as an aware instant (what local rules are decided at)."""
        return datetime.fromtimestamp(self.wall_clock(), UTC)

    def start(self, listener: Listener) -> None:
        """Hand the routing engine's announcements to ``listener`` (call once the engine
        runs; ``telephony.announcements.listener`` routes each to its channel)."""
        if self._unsubscribe is None:
            self._unsubscribe = self.routing.subscribe(listener)

    async def idle(self) -> None:
        """Wait for all background work (announcement handling, retries that are due)."""
        await self.tasks.idle()

    async def close(self) -> None:
        """Stop listening, cancel background work, close chat sockets (their chats stay
        resumable for a window from now, so a restart loses nobody) and the gateway. Safe
        twice."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        await self.tasks.close()
        present = [chat.contact_id for chat in self.chats.present()]
        try:
            await self.resume_tokens.extend(present)
        except DomainError as exc:
            log.warning("web chats' resume tokens not extended at shutdown: %s", exc)
        await self.chats.close()
        await self.gateway.close()

    def __repr__(self) -> str:
        mode = "twilio" if self.config.twilio.enabled else "loopback"
        return (f"<Telephony {mode} {self.urls.base} {self.tasks!r} {self.connector!r} "
                f"{self.chats!r}>")


TELEPHONY = web.AppKey("telephony", Telephony)
GATEWAY = web.AppKey("twilio_gateway", Gateway)
