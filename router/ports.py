"""The ports the routing engine offers: what the channels and the scheduler may ask of it.

``RoutingPort`` is the engine as the channels (``telephony/``) use it; ``AvailabilityPort`` is the
engine as the scheduler uses it; the plain data they exchange is defined here too. The channels
and the scheduler import this module and never the engine itself, so they also work against an
in-memory double in tests; the router never imports them.

Rules every ``RoutingPort`` implementation keeps (the channels rely on them):

* ``submit`` is idempotent on ``ContactRequest.external_ref`` (a CallSid, a MessageSid, a web
  chat session id): a second submit with the same ref returns the existing contact with
  ``created=False`` and changes nothing.
* ``abandon``, ``end_session``, ``requeue`` and ``fail`` on a contact that is already finished
  (completed, abandoned, failed) are no-ops; on an unknown id they raise ``NotFound``
  (``base.errors``). ``relay_to_expert`` is idempotent on ``ref``.
* Every transition is committed before its announcement is delivered; listeners are awaited in
  order per contact and must return quickly (telephony hands the work to its own tasks).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from router.model import Channel, ContactState
from skills.graph import TriageMatch

__all__ = [
    "Announcement", "Assigned", "AvailabilityPort", "Channel", "ContactRequest", "ContactState",
    "ContactTicket", "ContactView", "Ended", "ExpertEndpoint", "ExpertMessage", "Floor",
    "FloorPort", "Listener", "Medium", "OnDuty", "OnShift", "QueueInfo", "Rescinded",
    "RoutingPort", "ShownExpert", "TranscriptLine", "Triage", "TriageInfo", "TriageMatch",
]

class Medium(StrEnum):
    PHONE = "phone"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    WEB = "web"


@dataclass(frozen=True, slots=True)
class TriageInfo:
    """How the skill was chosen: ``method`` is speech, digits, text or default."""

    method: str
    score: float = 0.0
    matched: tuple[str, ...] = ()
    text: str = ""  # the citizen's own words: keep out of logs


@dataclass(frozen=True, slots=True)
class ContactRequest:
    """A new contact. ``language`` is an ISO 639-1 code (en, cy); ``address`` the citizen's
    number (``+44…`` or ``whatsapp:+44…``), empty for web chat; ``org`` the organisation
    whose line it came in on (None: the shared national line, routable to anyone), so only
    its experts and those of organisations sharing with it may take it."""

    channel: Channel
    medium: Medium
    skill: str
    language: str
    external_ref: str
    address: str = ""
    priority: int = 0
    triage: TriageInfo | None = None
    org: str | None = None


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """Where a contact stands. ``position`` is 1-based among waiting contacts that compete for
    the same experts (None when not waiting); ``estimated_wait_s`` is a wait the contact will
    probably not exceed (8 in 10 do not: ``router.estimate``), None when the engine has no
    honest estimate (too little history, nobody staffed within its ring yet)."""

    state: ContactState
    position: int | None = None
    estimated_wait_s: float | None = None
    # experts staffed now (available, offered, busy or wrapping up) who could answer the
    # contact: they take its channel and hold its skill or a substitute its rings may reach
    # (``RoutingCore.on_duty``; 0: nobody who could answer is on duty); None when the contact
    # is not waiting. The wait estimate counts only those within the ring its wait has
    # reached (``RoutingCore.serving``).
    experts_on_duty: int | None = None


@dataclass(frozen=True, slots=True)
class ContactTicket:
    contact_id: str
    created: bool
    queue: QueueInfo


@dataclass(frozen=True, slots=True)
class ContactView:
    """A contact as the channels see it."""

    contact_id: str
    channel: Channel
    medium: Medium
    skill: str
    language: str
    state: ContactState
    external_ref: str
    address: str = ""
    callback_number: str = ""  # set once the contact became a callback


@dataclass(frozen=True, slots=True)
class ExpertEndpoint:
    """How to reach an expert's audio: the first non-empty of Twilio Client identity, SIP
    address and phone number is dialled (a phone hears a whisper and presses 1)."""

    expert_id: str
    phone: str = ""
    client_identity: str = ""
    sip_address: str = ""


@dataclass(frozen=True, slots=True)
class ShownExpert:
    """What the citizen may be told about their expert: only what the expert agreed to show
    (an empty name means "an expert"; an empty organisation, none)."""

    name: str = ""
    role: str = ""
    organisation: str = ""


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    """One line of a chat: ``sender`` is citizen, expert or system; ``at`` epoch seconds."""

    at: float
    sender: str
    text: str


@dataclass(frozen=True, slots=True)
class Assigned:
    """An expert accepted the contact on the desk: the channel connects them now."""

    contact: ContactView
    expert: ExpertEndpoint
    waited_s: float = 0.0
    shown: ShownExpert = ShownExpert()

    @property
    def contact_id(self) -> str:
        return self.contact.contact_id


@dataclass(frozen=True, slots=True)
class Rescinded:
    """An offer was withdrawn before the expert accepted; the contact keeps its place."""

    contact: ContactView
    expert_id: str
    reason: str = ""

    @property
    def contact_id(self) -> str:
        return self.contact.contact_id


@dataclass(frozen=True, slots=True)
class Ended:
    """The contact's session or life ended elsewhere (desk, supervisor, watchdog):
    ``by`` is expert, citizen or system. The channel hangs up / closes the conversation."""

    contact: ContactView
    by: str
    reason: str = ""

    @property
    def contact_id(self) -> str:
        return self.contact.contact_id


@dataclass(frozen=True, slots=True)
class ExpertMessage:
    """An expert wrote to a chat contact (web, SMS or WhatsApp); the channel delivers it."""

    contact: ContactView
    text: str

    @property
    def contact_id(self) -> str:
        return self.contact.contact_id


Announcement = Assigned | Rescinded | Ended | ExpertMessage
Listener = Callable[[Announcement], Awaitable[None]]


@runtime_checkable
class RoutingPort(Protocol):
    """The routing engine as the channels use it. All methods are coroutines but ``subscribe``."""

    async def submit(self, request: ContactRequest) -> ContactTicket:
        """Queue a new contact (idempotent on ``request.external_ref``)."""
        ...

    async def get(self, contact_id: str) -> ContactView | None:
        """The contact, or None when unknown."""
        ...

    async def find_open(self, *, medium: Medium, address: str) -> ContactView | None:
        """The citizen's open chat contact on this medium and address (waiting or connected;
        not in wrap-up or finished), if any."""
        ...

    async def open_contacts(self, *, medium: Medium) -> list[ContactView]:
        """Every contact on ``medium`` still waiting or connected (not in wrap-up, not
        finished): what a channel checks its citizens against after a restart."""
        ...

    async def position(self, contact_id: str) -> QueueInfo:
        """Live position and an honest wait estimate."""
        ...

    async def abandon(self, contact_id: str, *, reason: str,
                      waited_s: float | None = None) -> None:
        """The citizen left while waiting (or while an offer was pending: it is rescinded)."""
        ...

    async def requeue(self, contact_id: str, *, reason: str) -> None:
        """The assigned expert could not be connected: the contact goes back to its place."""
        ...

    async def end_session(self, contact_id: str, *, by: str) -> None:
        """The conversation ended (``by`` citizen or expert): the expert starts wrap-up."""
        ...

    async def convert_to_callback(self, contact_id: str, *, number: str) -> QueueInfo:
        """Keep the contact's place but call the citizen back on ``number`` (E.164)."""
        ...

    async def fail(self, contact_id: str, *, reason: str) -> None:
        """Give up on the contact (e.g. a callback nobody answered), with a record of why."""
        ...

    async def relay_to_expert(self, contact_id: str, text: str, *, ref: str) -> None:
        """A citizen's chat message for the expert desk (idempotent on ``ref``, across
        restarts too: a ref is stored once, for good, so it must be unique to the message);
        it joins the contact's transcript before any desk hears of it. ``Unavailable`` when
        the database cannot store it just now (retry with the same ref)."""
        ...

    async def transcript(self, contact_id: str) -> list[TranscriptLine]:
        """The contact's chat so far, oldest first (its first words, then every message either
        way); empty for a contact with none, ``NotFound`` for an unknown one."""
        ...

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Deliver announcements to ``listener``; returns the unsubscribe function."""
        ...


Triage = Callable[[str], Sequence[TriageMatch]]
"""The skills graph's triage of free text, best first (what the IVR and the chats use)."""


# -- the scheduler's port --------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OnShift:
    """An expert on shift now. ``ends_at`` is epoch seconds; ``voice_ok`` is False in the last
    minutes of the shift (config ``scheduler.no_voice_offer_last_min``): no new voice offers."""

    expert_id: str
    ends_at: float
    voice_ok: bool = True


@runtime_checkable
class AvailabilityPort(Protocol):
    async def apply_rota(self, on_shift: Mapping[str, OnShift], rostered: frozenset[str]) -> None:
        """``rostered``: every expert with a rota (others are not restricted by it). A rostered
        expert missing from ``on_shift`` is off shift: no new offers, they finish what they
        have. Idempotent: the same picture twice changes nothing."""
        ...


# -- the floor now, for the scheduler's breach alerts (scheduler.alerts) ----------------------
@dataclass(frozen=True, slots=True)
class OnDuty:
    """An expert working now (available, offered, busy or wrapping up) and the skills they
    hold; ``idle`` when available (free for a contact now)."""

    expert_id: str
    name: str
    org: str
    skills: frozenset[str]
    idle: bool


@dataclass(frozen=True, slots=True)
class Floor:
    """The routing engine's picture of now: ``at`` its clock (epoch seconds), the contacts
    queued per skill (``waiting``; a skill nobody waits for may be absent), the experts
    ``on_duty``, and the organisations of the active experts holding each skill (``orgs``)."""

    at: float
    waiting: Mapping[str, int]
    on_duty: tuple[OnDuty, ...]
    orgs: Mapping[str, frozenset[str]]


@runtime_checkable
class FloorPort(Protocol):
    """Read-only: what the scheduler's breach alerts ask of the routing engine."""

    def floor(self) -> Floor:
        """The picture of now (no I/O)."""
        ...

    def related(self, skill: str, max_cost: float) -> tuple[str, ...]:
        """The other skills within substitution cost ``max_cost`` of ``skill`` in the skills
        graph (an expert holding one may take its contacts), cheapest first; empty for a skill
        the graph does not hold."""
        ...
