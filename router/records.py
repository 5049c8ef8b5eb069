"""Mutable per-expert and per-contact records of the routing core (internal).

The core owns these; the outside world sees them through the frozen views in ``router.model``.
"""

from __future__ import annotations

from dataclasses import dataclass

from router.model import (
    MAX_PROFICIENCY,
    Channel,
    ContactSpec,
    ContactState,
    ContactView,
    ExpertProfile,
    ExpertState,
    ExpertView,
    Presence,
)

VOICE, CHAT = Channel.VOICE, Channel.CHAT
FREE = "free"  # index mode of an expert with nothing in progress who takes both channels
# index mode of an expert with nothing in progress who takes only that channel (the desk's
# "What you take", or the rota's last minutes of a shift, left the other one at capacity 0)
FREE_ONLY = {VOICE: "free-voice", CHAT: "free-chat"}
OPEN_MODES = {VOICE: (FREE, FREE_ONLY[VOICE], VOICE), CHAT: (FREE, FREE_ONLY[CHAT], CHAT)}
"""Per channel, the index modes of the available experts who would take one more contact on
it: free and taking it, or already on it with room to spare."""
BOTH = 3
"""``takes`` of an expert who takes calls and chats (nearly everyone)."""
NOT_TAKING = {VOICE: (0, 2), CHAT: (0, 1)}
"""Per channel, the ``takes`` of the experts who do not take it."""
QueueKey = tuple[float, float, int, str]
Bucket = dict[str, "ExpertRec"]  # available experts in the order they became available
Membership = list[tuple["Slot", Bucket, int]]  # an expert's (slot, bucket, level) in the index


def takes(profile: ExpertProfile) -> int:
    """The channels ``profile`` takes: 0 neither, 1 voice only, 2 chat only, 3 both (a
    channel at capacity 0 is not taken)."""
    return (1 if profile.voice_capacity else 0) | (2 if profile.chat_capacity else 0)


@dataclass(frozen=True, slots=True)
class WrapUp:
    """A slot held after a session; ``exclusive`` (recovery) blocks every channel."""

    until: float
    channel: Channel
    exclusive: bool
    contact_id: str


@dataclass(frozen=True, slots=True)
class OfferRec:
    offer_id: str
    contact_id: str
    expert_id: str
    channel: Channel
    made_at: float
    expires_at: float


@dataclass(frozen=True, slots=True)
class SessionRec:
    session_id: str
    offer_id: str
    contact_id: str
    expert_id: str
    channel: Channel
    started_at: float


class Slot:
    """Available experts holding one skill, for one mode and language: ``levels[p][load]`` is
    a bucket, ``by_level[p]`` the number of experts at proficiency ``p``."""

    __slots__ = ("by_level", "count", "levels")

    def __init__(self) -> None:
        self.count = 0
        self.levels: list[list[Bucket]] = [[] for _ in range(MAX_PROFICIENCY + 1)]
        self.by_level = [0] * (MAX_PROFICIENCY + 1)

    def bucket(self, level: int, load: int) -> Bucket:
        loads = self.levels[level]
        while len(loads) <= load:
            loads.append({})
        return loads[load]


class HotPath:
    """Per-expert references the hot path finds once per profile (router/state.py,
    indexes.py, matching.py): the index buckets per (mode, load), the queue lists the
    expert-side search reads per channel, and the per-skill state counters. The structures
    they point into are never replaced or dropped, so the references stay valid."""

    __slots__ = ("holders", "lanes", "memberships", "profile")

    def __init__(self, profile: ExpertProfile) -> None:
        self.profile = profile
        self.memberships: dict[tuple[str, int], Membership] = {}
        self.lanes: dict[Channel, tuple[list[QueueKey], ...]] | None = None
        self.holders: list[dict[ExpertState, int]] | None = None


class ExpertRec:
    """An expert's live state. ``used`` counts the slots taken per channel by offers, sessions
    and wrap-ups; ``indexed`` is the (mode, load) under which the expert sits in the
    availability index (None = not there), ``member`` the buckets holding it and ``since``
    when it was filed there (its idle clock)."""

    __slots__ = ("_cache", "exclusive", "id", "indexed", "member", "missed", "offers",
                 "presence", "profile", "reason", "sessions", "since", "state", "used",
                 "wrapups")

    def __init__(self, profile: ExpertProfile, presence: Presence) -> None:
        self.id = profile.id
        self.profile = profile
        self.presence = presence
        self.state = ExpertState.OFFLINE
        self.reason = ""
        self.missed = 0
        self.exclusive = 0
        self.offers: dict[str, Channel] = {}
        self.sessions: dict[str, Channel] = {}
        self.wrapups: dict[str, WrapUp] = {}
        self.used: dict[Channel, int] = {VOICE: 0, CHAT: 0}
        self.indexed: tuple[str, int] | None = None
        self.member: Membership = []
        self.since = 0.0
        self._cache: HotPath | None = None

    def __repr__(self) -> str:
        return f"<Expert {self.id} {self.state} used={dict(self.used)}>"

    def hot(self) -> HotPath:
        """What the hot path works out from the profile, kept until the profile is replaced."""
        cache = self._cache
        if cache is None or cache.profile is not self.profile:
            cache = self._cache = HotPath(self.profile)
        return cache

    def forget_hot(self) -> None:
        """Drop the cache (an expert going offline), so its memory follows the experts online."""
        self._cache = None

    def open_load(self, channel: Channel) -> int | None:
        """The current load if the expert can take one more contact on ``channel``, else None."""
        if self.presence is not Presence.AVAILABLE or self.exclusive:
            return None
        if self.used[CHAT if channel is VOICE else VOICE]:
            return None
        load = self.used[channel]
        return load if load < self.profile.capacity(channel) else None

    def open_channels(self) -> tuple[Channel, ...]:
        """The channels on which the expert would take one more contact right now."""
        return tuple(ch for ch in (VOICE, CHAT) if self.open_load(ch) is not None)

    def placement(self) -> tuple[str, int] | None:
        """Where the expert belongs in the availability index: with nothing in progress
        (FREE, 0) if it takes both channels, (FREE_ONLY[channel], 0) if it takes only one;
        (channel, load) with room for more on that channel; or None."""
        if self.presence is not Presence.AVAILABLE or self.exclusive:
            return None
        voice, chat = self.used[VOICE], self.used[CHAT]
        profile = self.profile
        if not voice and not chat:
            if profile.voice_capacity:
                return (FREE if profile.chat_capacity else FREE_ONLY[VOICE], 0)
            return (FREE_ONLY[CHAT], 0) if profile.chat_capacity else None
        if not chat:
            return (VOICE, voice) if voice < profile.voice_capacity else None
        if not voice:
            return (CHAT, chat) if chat < profile.chat_capacity else None
        return None

    def derived_state(self) -> ExpertState:
        if self.sessions:
            return ExpertState.BUSY
        if self.offers:
            return ExpertState.OFFERED
        if self.wrapups:
            return ExpertState.WRAPUP
        return ExpertState(self.presence.value)

    def view(self) -> ExpertView:
        return ExpertView(self.id, self.state, self.presence, self.used[VOICE], self.used[CHAT],
                          self.missed, self.reason, self.open_channels())


class ContactRec:
    """A contact's live state: its static queue ``key`` (its place), current ``step``, cooldown
    ``excluded`` experts (id -> until) and the escalation wake-up it is waiting for."""

    __slots__ = ("excluded", "expert_id", "key", "offer_id", "placed", "seq", "servers",
                 "servers_for", "session_id", "spec", "state", "step", "wake_at")

    def __init__(self, spec: ContactSpec, seq: int, key: QueueKey) -> None:
        self.spec = spec
        self.seq = seq
        self.key = key
        self.state = ContactState.QUEUED
        self.step = 0
        self.offer_id: str | None = None
        self.session_id: str | None = None
        self.expert_id: str | None = None
        self.excluded: dict[str, float] = {}
        self.wake_at: float | None = None
        self.placed: list[list[QueueKey]] = []  # servable lists holding the key (when queued)
        # the step lists of every skill that may serve it, cheapest first (see CoreState._place)
        self.servers: list[list[list[QueueKey]]] = []
        self.servers_for: object = None  # the pool index ``servers`` was found for

    def __repr__(self) -> str:
        return f"<Contact {self.spec.id} {self.state} step={self.step}>"

    def view(self) -> ContactView:
        s = self.spec
        return ContactView(s.id, self.state, s.channel, s.skill, s.priority, s.arrived_at,
                           self.seq, self.step, self.offer_id, self.expert_id, self.session_id)
