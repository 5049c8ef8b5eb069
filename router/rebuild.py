"""From the database's live rows to what the engine runs on: the core's ``Snapshot`` and the
shell's ``LiveContact``s. Used on start and whenever a step could not be saved, so the core is
always rebuilt from what the database holds (DESIGN: the database is the source of truth).
Pure: rows in, plain data out.
"""

from __future__ import annotations

from router.live import LiveContact
from router.model import Channel, ContactSpec, ContactState, ExpertProfile
from router.ports import Medium
from router.snapshot import RestoredContact, RestoredOffer, RestoredSession, Snapshot
from router.store import Live
from router.tables import ContactRow


def snapshot_of(live: Live, experts: tuple[ExpertProfile, ...]) -> Snapshot:
    """What ``RoutingCore.restore`` needs: live contacts in arrival order, pending offers and
    open sessions, and the active experts' profiles."""
    return Snapshot(
        experts=experts,
        contacts=tuple(RestoredContact(spec_of(r), r.seq, core_state(r.state))
                       for r in live.contacts),
        offers=tuple(RestoredOffer(o.id, o.contact_id, o.expert_id, o.made_at, o.expires_at)
                     for o in live.offers),
        sessions=tuple(RestoredSession(s.id, s.offer_id, s.contact_id, s.expert_id,
                                       s.started_at) for s in live.sessions))


def live_contacts(live: Live) -> list[LiveContact]:
    """The shell's view of each live contact, with the session it is in, if any."""
    sessions = {s.contact_id: s for s in live.sessions}
    found = []
    for row in live.contacts:
        contact = live_of(row)
        session = sessions.get(row.id)
        if session is not None and contact.state is ContactState.CONNECTED:
            contact.session_id, contact.expert_id = session.id, session.expert_id
        found.append(contact)
    return found


def core_state(state: str) -> ContactState:
    """The core keeps a callback contact queued."""
    return ContactState.QUEUED if state == "callback" else ContactState(state)


def spec_of(row: ContactRow) -> ContactSpec:
    return ContactSpec(id=row.id, channel=Channel(row.channel), skill=row.skill,
                       arrived_at=row.arrived_at, language=row.language or None,
                       priority=row.priority, org=row.org,
                       required_accreditations=frozenset(row.accreditations or ()))


def live_of(row: ContactRow) -> LiveContact:
    return LiveContact(id=row.id, seq=row.seq, channel=Channel(row.channel),
                       medium=Medium(row.medium), skill=row.skill, language=row.language,
                       external_ref=row.external_ref, arrived_at=row.arrived_at,
                       priority=row.priority, address=row.address,
                       callback_number=row.callback_number, state=ContactState(row.state),
                       expert_id=row.expert_id)
