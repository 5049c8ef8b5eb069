"""Plain data of the routing core: contacts, experts, configuration, pool data and decisions.

Everything here is a frozen dataclass or a string enum, so the shell can persist it, the
simulator can build it and tests can compare it. Validation happens at construction and raises
``base.errors.InvalidInput`` (422) naming the field.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from base.errors import InvalidInput

MIN_PROFICIENCY = 1
MAX_PROFICIENCY = 5
POLICIES = ("exact", "graph", "optimal")
ESCALATIONS = ("fixed", "target")  # router.escalation


class Channel(StrEnum):
    """How the citizen reaches us. An expert on voice takes no chat, and vice versa."""

    VOICE = "voice"
    CHAT = "chat"


CHANNELS = (Channel.VOICE, Channel.CHAT)


class Presence(StrEnum):
    """What the expert asked for (or was set to): only ``available`` experts get offers."""

    AVAILABLE = "available"
    AWAY = "away"
    OFFLINE = "offline"


class ExpertState(StrEnum):
    """What an expert is doing, derived from presence, offers, sessions and wrap-ups.

    Precedence: ``busy`` (any session) > ``offered`` > ``wrapup`` > presence. A chat expert who is
    ``busy`` with spare chat capacity still receives chat offers.
    """

    OFFLINE = "offline"
    AVAILABLE = "available"
    OFFERED = "offered"
    BUSY = "busy"
    WRAPUP = "wrapup"
    AWAY = "away"


STAFFED = (ExpertState.AVAILABLE, ExpertState.OFFERED, ExpertState.BUSY, ExpertState.WRAPUP)
"""The states of an expert at work (signed in and not away): who counts as on duty."""


class ContactState(StrEnum):
    """The contact states the API reports (the core keeps a callback contact ``queued``; the shell
    tells the two apart)."""

    QUEUED = "queued"
    OFFERED = "offered"
    CONNECTED = "connected"
    WRAPUP = "wrapup"
    COMPLETED = "completed"
    ABANDONED = "abandoned"
    CALLBACK = "callback"
    FAILED = "failed"

    @property
    def waiting(self) -> bool:
        """Still waiting for an expert (the citizen can abandon it)."""
        return self in (ContactState.QUEUED, ContactState.OFFERED, ContactState.CALLBACK)

    @property
    def finished(self) -> bool:
        return self in (ContactState.COMPLETED, ContactState.ABANDONED, ContactState.FAILED)


class OfferStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    RESCINDED = "rescinded"


def _channel(value: Any) -> Channel:
    try:
        return Channel(value)
    except ValueError:
        raise InvalidInput(f"channel must be voice or chat, not {value!r}") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactSpec:
    """A citizen's request. ``skill`` drives routing and escalation; ``extra_skills`` are wanted
    too and raise the match score of experts who hold them, but are never required.

    ``org`` is the organisation the contact belongs to (None = the national line, routable to
    anyone); ``priority``: higher is more urgent; ``arrived_at`` in seconds on the core's clock.
    """

    id: str
    channel: Channel
    skill: str
    arrived_at: float
    language: str | None = None
    priority: int = 0
    org: str | None = None
    required_accreditations: frozenset[str] = frozenset()
    extra_skills: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "channel", _channel(self.channel))
        object.__setattr__(self, "required_accreditations",
                           frozenset(self.required_accreditations))
        object.__setattr__(self, "extra_skills", tuple(self.extra_skills))
        if not self.id or not self.skill:
            raise InvalidInput("a contact needs an id and a skill")


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpertProfile:
    """Who an expert is: proficiency 1..5 per skill, languages spoken, accreditations with their
    expiry time (None = never expires; one expired at ``now`` does not count) and capacity per
    channel (voice excludes chat)."""

    id: str
    skills: Mapping[str, int]
    org: str | None = None
    languages: frozenset[str] = frozenset()
    accreditations: Mapping[str, float | None] = field(default_factory=dict)
    voice_capacity: int = 1
    chat_capacity: int = 3

    def __post_init__(self) -> None:
        object.__setattr__(self, "languages", frozenset(self.languages))
        for skill, level in self.skills.items():
            if not isinstance(level, int) or not MIN_PROFICIENCY <= level <= MAX_PROFICIENCY:
                raise InvalidInput(f"proficiency of {self.id} in {skill} must be 1..5",
                                   expert=self.id, skill=skill)
        if self.voice_capacity < 0 or self.chat_capacity < 0:
            raise InvalidInput(f"capacities of {self.id} must be >= 0", expert=self.id)

    def capacity(self, channel: Channel) -> int:
        return self.voice_capacity if channel is Channel.VOICE else self.chat_capacity


@dataclass(frozen=True, slots=True)
class Step:
    """One ring of the bullseye: from ``after_s`` of waiting, substitute skills up to
    ``max_cost`` are acceptable from experts at ``min_proficiency`` or better."""

    after_s: float
    max_cost: float
    min_proficiency: int


DEFAULT_STEPS = (Step(0, 0.0, 4), Step(30, 0.5, 3), Step(90, 1.5, 2), Step(180, 3.0, 1))


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoreWeights:
    """Weights of the match score (see ``router.policies.score``)."""

    proficiency: float = 1.0
    cost: float = 1.0
    idle: float = 0.5
    occupancy: float = 0.5
    extra: float = 0.25
    priority: float = 1.0  # optimal policy: weight of effective priority in the assignment
    idle_cap_s: float = 600.0

    def __post_init__(self) -> None:
        if self.idle_cap_s <= 0:
            raise InvalidInput("weights.idle_cap_s must be > 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutingConfig:
    """How the core routes. Times in seconds; ``priority_aging_per_min`` is added to a waiting
    contact's priority per minute of wait (graph and optimal policies).

    ``reoffer_cooldown_s``: an expert who declined or missed a contact is not offered that same
    contact again for this long. ``batch_window_s`` (optimal): collect free experts and contacts
    for this long before solving the batch (0 = solve at the end of every event).
    ``candidate_limit`` caps the candidates kept in a decision, ``scan_limit`` the experts examined
    per decision once one eligible expert is found, ``batch_limit`` the contacts per batch.
    ``common_language``: the language nearly every expert speaks; it only saves index work
    (any value routes the same). ``closed_offers_kept``: how many closed offers the core
    remembers, so that a repeated accept answers as the first did and a late one gets 409
    "was expired" rather than "unknown".

    ``escalation``: ``fixed`` reaches each step at its ``after_s``; ``target`` at shares of the
    contact's skill's service-level target (``targets``, skill -> seconds, else ``target_s``),
    adapted to the live queue (``router.escalation``).
    """

    policy: str = "graph"
    steps: tuple[Step, ...] = DEFAULT_STEPS
    escalation: str = "fixed"
    target_s: float = 20.0
    targets: tuple[tuple[str, float], ...] = ()
    offer_timeout_s: float = 20.0
    max_missed_offers: int = 3
    wrapup_s: float = 60.0
    recovery_s: float = 300.0
    priority_aging_per_min: float = 0.1
    weights: ScoreWeights = ScoreWeights()
    reoffer_cooldown_s: float = 60.0
    batch_window_s: float = 0.0
    batch_limit: int = 64
    candidate_limit: int = 5
    scan_limit: int = 32
    common_language: str | None = "en"
    closed_offers_kept: int = 100_000

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise InvalidInput(f"routing policy must be one of {', '.join(POLICIES)}")
        object.__setattr__(self, "steps", tuple(self.steps))
        _check_steps(self.steps)
        if self.escalation not in ESCALATIONS:
            raise InvalidInput(f"routing.escalation must be one of {', '.join(ESCALATIONS)}")
        object.__setattr__(self, "targets", tuple(sorted(dict(self.targets).items())))
        if self.target_s <= 0 or any(t <= 0 for _, t in self.targets):
            raise InvalidInput("service-level targets must be > 0 s")
        for name in ("offer_timeout_s", "batch_limit", "candidate_limit", "scan_limit",
                     "closed_offers_kept"):
            if getattr(self, name) <= 0:
                raise InvalidInput(f"routing.{name} must be > 0")
        for name in ("wrapup_s", "recovery_s", "reoffer_cooldown_s", "batch_window_s",
                     "max_missed_offers", "priority_aging_per_min"):
            if getattr(self, name) < 0:
                raise InvalidInput(f"routing.{name} must be >= 0")

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> RoutingConfig:
        """Build from any object with the same attribute names (e.g. the ``[routing]`` section
        of ``base.config``); steps only need ``after_s``, ``max_cost``, ``min_proficiency``.
        Unknown attributes are ignored, missing ones keep their defaults."""
        values: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            if hasattr(settings, name):
                values[name] = getattr(settings, name)
        if "steps" in values:
            values["steps"] = tuple(Step(float(s.after_s), float(s.max_cost),
                                         int(s.min_proficiency)) for s in values["steps"])
        values.update(overrides)
        return cls(**values)


def _check_steps(steps: tuple[Step, ...]) -> None:
    """Steps must start at 0 s and widen monotonically: later steps allow at least as much."""
    if not steps or steps[0].after_s != 0:
        raise InvalidInput("routing.steps must start with a step at after_s = 0")
    for step in steps:
        if not MIN_PROFICIENCY <= step.min_proficiency <= MAX_PROFICIENCY or step.max_cost < 0:
            raise InvalidInput("routing.steps: min_proficiency 1..5 and max_cost >= 0")
    for before, after in itertools.pairwise(steps):
        if not (after.after_s > before.after_s and after.max_cost >= before.max_cost
                and after.min_proficiency <= before.min_proficiency):
            raise InvalidInput("routing.steps must widen: after_s increasing, max_cost not "
                               "decreasing, min_proficiency not increasing")


@dataclass(frozen=True, slots=True, kw_only=True)
class Pool:
    """Pool data precomputed by the skills graph, swapped at runtime with ``PoolChanged``.

    ``substitutes``: skill -> (substitute skill, cost) pairs (the skill itself at cost 0 is
    implied); ``sharing``: unordered organisation pairs allowed to share contacts.
    """

    substitutes: Mapping[str, tuple[tuple[str, float], ...]] = field(default_factory=dict)
    sharing: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True, slots=True)
class Candidate:
    """An eligible expert considered for a contact, with the match that made it eligible."""

    expert_id: str
    skill: str
    cost: float
    proficiency: int
    score: float


@dataclass(frozen=True, slots=True)
class Decision:
    """Why a contact was offered to an expert, or why nobody was eligible (``chosen`` None).

    ``step`` is the 0-based escalation step the contact was at; ``candidates`` the best few
    considered, best first.
    """

    contact_id: str
    at: float
    step: int
    policy: str
    candidates: tuple[Candidate, ...]
    chosen: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class ContactView:
    """A read-only view of one contact in the core."""

    id: str
    state: ContactState
    channel: Channel
    skill: str
    priority: int
    arrived_at: float
    seq: int
    step: int
    offer_id: str | None
    expert_id: str | None
    session_id: str | None


@dataclass(frozen=True, slots=True)
class ExpertView:
    """A read-only view of one expert in the core; ``open_channels``: the channels on which it
    would take one more contact right now."""

    id: str
    state: ExpertState
    presence: Presence
    voice_load: int
    chat_load: int
    missed_offers: int
    reason: str
    open_channels: tuple[Channel, ...] = ()


@dataclass(frozen=True, slots=True)
class OfferView:
    """A pending or recently closed offer."""

    offer_id: str
    contact_id: str
    expert_id: str
    channel: Channel
    made_at: float
    expires_at: float
    status: OfferStatus
    session_id: str | None = None


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Live figures for one (channel, skill) queue."""

    channel: Channel
    skill: str
    waiting: int
    longest_wait_s: float
    holders: int
    available: int
