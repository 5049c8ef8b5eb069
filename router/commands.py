"""Commands the routing core returns for the shell to carry out (persist, then announce).

An offer is pending from ``MakeOffer`` until ``Connected``, ``RescindOffer`` or the shell's own
``OfferDeclined``. Timer keys: ``offer:<offer_id>`` (deliver ``OfferTimedOut``),
``wrapup:<session_id>`` (deliver ``WrapUpEnded``) and ``tick`` (deliver ``Tick``); a new
``StartTimer`` with the same key replaces the old one. A shell may instead deliver a plain
``Tick`` at every timer: the core processes whatever is due at ``now`` on every event.
"""

from __future__ import annotations

from dataclasses import dataclass

from router.model import Channel, ContactState, Decision, ExpertState


@dataclass(frozen=True, slots=True)
class MakeOffer:
    offer_id: str
    contact_id: str
    expert_id: str
    channel: Channel
    expires_at: float
    decision: Decision


@dataclass(frozen=True, slots=True)
class RescindOffer:
    """Withdraw a pending offer: ``reason`` is abandoned, expired, offline, away, profile, pool."""

    offer_id: str
    contact_id: str
    expert_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Connected:
    """Bridge the contact to the expert: the offer was accepted and a session began."""

    session_id: str
    offer_id: str
    contact_id: str
    expert_id: str
    channel: Channel


@dataclass(frozen=True, slots=True)
class ExpertStateChanged:
    expert_id: str
    state: ExpertState
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ContactStateChanged:
    contact_id: str
    state: ContactState
    reason: str = ""


@dataclass(frozen=True, slots=True)
class StartTimer:
    key: str
    at: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    """The timer is no longer needed (delivering it anyway is harmless)."""

    key: str


@dataclass(frozen=True, slots=True)
class DecisionRecorded:
    """A decision that made no offer (nobody eligible), for the contact's history."""

    decision: Decision


@dataclass(frozen=True, slots=True)
class ContactRefiled:
    """A waiting contact now wants ``skill`` at ``priority`` (a supervisor moved it)."""

    contact_id: str
    skill: str
    priority: int


Command = (MakeOffer | RescindOffer | Connected | ExpertStateChanged | ContactStateChanged
           | StartTimer | CancelTimer | DecisionRecorded | ContactRefiled)
