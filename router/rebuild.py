"""From the database's live rows to what the engine runs on: the core's ``Snapshot`` and the
shell's ``LiveContact``s. Used on start and whenever a step could not be saved, so the core is
always rebuilt from what the database holds (DESIGN: the database is the source of truth).
Pure: rows in, plain data out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from router.live import LiveContact
from router.model import Channel, ContactSpec, ContactState, ExpertProfile
from router.ports import Medium
from router.snapshot import RestoredContact, RestoredOffer, RestoredSession, Snapshot
from router.store import Live
from router.tables import ContactRow

OPEN = ("queued", "offered", "connected", "callback")
CORE_OPEN = (ContactState.QUEUED, ContactState.OFFERED, ContactState.CONNECTED)


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
                       expert_id=row.expert_id, first_words=row.first_words, org=row.org)


def disagreements(live: Live, snapshot: Snapshot, shell: Iterable[LiveContact]) -> list[str]:
    """Every way the router (the core's ``snapshot`` and the shell's live contacts) and the
    database's ``live`` rows differ, contact by contact: open contacts and their states,
    pending offers, open sessions. Empty when they agree."""
    pairs: dict[str, tuple[Mapping[str, object], Mapping[str, object]]] = {
        "contact": ({r.id: core_state(r.state) for r in live.contacts if r.state in OPEN},
                    {c.spec.id: c.state for c in snapshot.contacts if c.state in CORE_OPEN}),
        "offer": ({o.id: (o.contact_id, o.expert_id) for o in live.offers},
                  {o.offer_id: (o.contact_id, o.expert_id) for o in snapshot.offers}),
        "session": ({s.id: (s.contact_id, s.expert_id) for s in live.sessions},
                    {s.session_id: (s.contact_id, s.expert_id) for s in snapshot.sessions}),
        "shell contact": ({r.id: ContactState(r.state) for r in live.contacts},
                          {c.id: c.state for c in shell}),
    }
    found = []
    for name, (stored, held) in pairs.items():
        for key in sorted(set(stored) | set(held)):
            if stored.get(key) != held.get(key):
                found.append(f"{name} {key}: database {_plain(stored.get(key))}, "
                             f"router {_plain(held.get(key))}")
    return found


def _plain(value: object) -> str:
    if isinstance(value, ContactState):
        return value.value
    if isinstance(value, tuple):
        return "/".join(str(v) for v in value)
    return "absent" if value is None else str(value)
