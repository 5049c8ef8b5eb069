"""Events the routing core accepts: ``RoutingCore.handle(event, now)``.

Every event is safe to deliver more than once (at-least-once shells, Twilio retries, late
timers): a duplicate changes nothing and returns no commands, except where noted.
"""

from __future__ import annotations

from dataclasses import dataclass

from router.model import ContactSpec, ExpertProfile, Pool, Presence


@dataclass(frozen=True, slots=True)
class ContactArrived:
    """A contact joins the queue. ``seq`` (optional) is its persisted arrival sequence, which
    breaks ties between contacts with the same ``arrived_at``; the core numbers it otherwise."""

    contact: ContactSpec
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class ContactAbandoned:
    """The citizen hung up or left while queued or offered (a pending offer is rescinded)."""

    contact_id: str
    reason: str = "abandoned"


@dataclass(frozen=True, slots=True)
class ContactMoved:
    """A supervisor sends a waiting contact to another ``skill`` and/or ``priority``. It keeps
    its arrival time, so its wait and its escalation carry on; a pending offer is rescinded.
    ``NotFound`` for an unknown contact, ``Conflict`` for one no longer waiting."""

    contact_id: str
    skill: str
    priority: int
    reason: str = "moved"


@dataclass(frozen=True, slots=True)
class ExpertOnline:
    """An expert signs in (or reconnects) and becomes available with this profile."""

    profile: ExpertProfile


@dataclass(frozen=True, slots=True)
class ExpertStatus:
    """An expert sets their presence. ``away``/``offline`` rescind their pending offers (the
    contacts go back to their place); sessions carry on."""

    expert_id: str
    status: Presence
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ProfileChanged:
    """A supervisor changed an expert (skills, languages, accreditations, capacity). Unknown
    experts are registered offline. Pending offers that are no longer eligible are rescinded."""

    profile: ExpertProfile


@dataclass(frozen=True, slots=True)
class OfferAccepted:
    """The expert accepts. Unknown, rescinded, declined or expired offers raise ``Conflict``;
    accepting twice returns no commands (see ``RoutingCore.offer`` for the result)."""

    offer_id: str
    expert_id: str | None = None


@dataclass(frozen=True, slots=True)
class OfferDeclined:
    """The expert declines: the contact keeps its place, the expert's missed count grows."""

    offer_id: str
    expert_id: str | None = None


@dataclass(frozen=True, slots=True)
class OfferTimedOut:
    """The offer's timer fired (the core also expires offers by itself once ``now`` passes)."""

    offer_id: str


@dataclass(frozen=True, slots=True)
class SessionEnded:
    """A call or chat ended. ``distressing`` adds the configured recovery time to wrap-up, during
    which the expert takes nothing on any channel."""

    session_id: str
    distressing: bool = False


@dataclass(frozen=True, slots=True)
class SessionFailed:
    """The accepted contact could not be connected (the expert's phone did not answer): the
    session is dropped without wrap-up, the contact goes back to its place and the expert
    counts a missed offer (and is not offered this contact again for the cooldown)."""

    session_id: str
    reason: str = "not connected"


@dataclass(frozen=True, slots=True)
class WrapUpEnded:
    """Wrap-up is over: its timer fired, or the expert ended it early. ``session_id`` None ends
    all of the expert's wrap-ups."""

    expert_id: str
    session_id: str | None = None


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed: escalate waiting contacts, expire offers and wrap-ups, solve due batches."""


@dataclass(frozen=True, slots=True)
class PoolChanged:
    """New substitutes and sharing agreements from the skills pool; every waiting contact is
    re-evaluated and offers that break a withdrawn sharing agreement are rescinded."""

    pool: Pool


Event = (ContactArrived | ContactAbandoned | ContactMoved | ExpertOnline | ExpertStatus
         | ProfileChanged | OfferAccepted | OfferDeclined | OfferTimedOut | SessionEnded
         | SessionFailed | WrapUpEnded | Tick | PoolChanged)
