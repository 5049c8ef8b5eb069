"""Snapshot and restore: how the shell rebuilds the core after a restart.

The shell persists every transition the core announces; on start it loads the live contacts
(with their arrival ``seq``, i.e. their place), the pending offers, the active sessions and the
expert profiles into a ``Snapshot`` and calls ``RoutingCore.restore``. Experts come back
offline: they get offers again once they reconnect (``ExpertOnline``). Pending offers stay
pending until they are accepted, declined or expire, so no offer is made twice; wrap-ups in
progress are not restored (their contacts complete).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from router import commands as cmd
from router.model import ContactSpec, ContactState, ExpertProfile
from router.records import ContactRec, OfferRec, SessionRec
from router.state import SequentialIds

if TYPE_CHECKING:
    from router.state import CoreState


@dataclass(frozen=True, slots=True)
class RestoredContact:
    """A live contact: ``state`` queued, offered, connected or wrapup."""

    spec: ContactSpec
    seq: int
    state: ContactState = ContactState.QUEUED


@dataclass(frozen=True, slots=True)
class RestoredOffer:
    offer_id: str
    contact_id: str
    expert_id: str
    made_at: float
    expires_at: float


@dataclass(frozen=True, slots=True)
class RestoredSession:
    session_id: str
    offer_id: str
    contact_id: str
    expert_id: str
    started_at: float


@dataclass(frozen=True, slots=True)
class Snapshot:
    experts: tuple[ExpertProfile, ...] = ()
    contacts: tuple[RestoredContact, ...] = ()
    offers: tuple[RestoredOffer, ...] = ()
    sessions: tuple[RestoredSession, ...] = ()


def take_snapshot(core: CoreState) -> Snapshot:
    contacts = sorted(core._contacts.values(), key=lambda c: c.seq)
    return Snapshot(
        experts=tuple(e.profile for e in core._experts.values()),
        contacts=tuple(RestoredContact(c.spec, c.seq, c.state) for c in contacts),
        offers=tuple(RestoredOffer(o.offer_id, o.contact_id, o.expert_id, o.made_at,
                                   o.expires_at) for o in core._offers.values()),
        sessions=tuple(RestoredSession(s.session_id, s.offer_id, s.contact_id, s.expert_id,
                                       s.started_at) for s in core._sessions.values()))


def restore_into(core: CoreState, snapshot: Snapshot, now: float) -> None:
    """Load ``snapshot`` into a fresh ``core`` (commands go to its buffer)."""
    for profile in snapshot.experts:
        core._register(profile)
    for restored in snapshot.contacts:
        _restore_contact(core, restored, now)
    for offer in snapshot.offers:
        _restore_offer(core, offer)
    for session in snapshot.sessions:
        _restore_session(core, session)
    for contact in list(core._contacts.values()):
        if contact.state is ContactState.OFFERED and contact.offer_id is None:
            core._requeue(contact, now, "restored without its offer")
        elif contact.state is ContactState.CONNECTED and contact.session_id is None:
            core._forget(contact, ContactState.COMPLETED, "restored without its session")
    for expert in core._experts.values():
        core._reindex(expert, now)
    if isinstance(core._ids, SequentialIds):
        core._ids.advance_past([o.offer_id for o in snapshot.offers]
                               + [s.session_id for s in snapshot.sessions])


def _restore_contact(core: CoreState, restored: RestoredContact, now: float) -> None:
    spec = restored.spec
    if restored.state not in (ContactState.QUEUED, ContactState.OFFERED,
                              ContactState.CONNECTED, ContactState.WRAPUP):
        return
    if restored.state is ContactState.WRAPUP:
        core._out.append(cmd.ContactStateChanged(spec.id, ContactState.COMPLETED,
                                                 "wrap-up interrupted by a restart"))
        return
    core._seq = max(core._seq, restored.seq)
    contact = ContactRec(spec, restored.seq, core.policy.queue_key(spec, restored.seq))
    core._contacts[spec.id] = contact
    if restored.state is ContactState.QUEUED:
        core._enqueue(contact, now)
    else:
        contact.state = restored.state
        contact.step = core.policy.step_for(spec.arrived_at, now, spec.skill)


def _restore_offer(core: CoreState, offer: RestoredOffer) -> None:
    contact = core._contacts.get(offer.contact_id)
    expert = core._experts.get(offer.expert_id)
    if (contact is None or expert is None or contact.state is not ContactState.OFFERED
            or contact.offer_id is not None):
        core._out.append(cmd.RescindOffer(offer.offer_id, offer.contact_id, offer.expert_id,
                                          "restored without its contact or expert"))
        return
    rec = OfferRec(offer.offer_id, contact.spec.id, expert.id, contact.spec.channel,
                   offer.made_at, offer.expires_at)
    core._offers[rec.offer_id] = rec
    contact.offer_id, contact.expert_id = rec.offer_id, expert.id
    expert.offers[rec.offer_id] = rec.channel
    expert.used[rec.channel] += 1
    core._push(core._timers, rec.expires_at, "offer", rec.offer_id)
    core._out.append(cmd.StartTimer(f"offer:{rec.offer_id}", rec.expires_at))


def _restore_session(core: CoreState, session: RestoredSession) -> None:
    contact = core._contacts.get(session.contact_id)
    expert = core._experts.get(session.expert_id)
    if contact is None or expert is None or contact.state is not ContactState.CONNECTED:
        return
    rec = SessionRec(session.session_id, session.offer_id, contact.spec.id, expert.id,
                     contact.spec.channel, session.started_at)
    core._sessions[rec.session_id] = rec
    contact.session_id, contact.expert_id = rec.session_id, expert.id
    expert.sessions[rec.session_id] = rec.channel
    expert.used[rec.channel] += 1
