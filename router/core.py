"""The routing core: a deterministic state machine with no I/O and no clock of its own.

    core = RoutingCore(RoutingConfig(policy="graph"), Pool(substitutes=..., sharing=...))
    commands = core.handle(ContactArrived(spec), now)

``handle(event, now)`` first validates the event (raising a ``base.errors`` error without
changing anything), then processes whatever fell due by ``now`` (offer expiries, wrap-up ends,
escalations, batches), applies the event and finally matches: contacts that became routable
are searched contact side (best expert by score), experts that gained capacity expert side
(highest-priority contact they may take). After every ``handle`` no waiting contact has an
eligible available expert at its current step (greedy policies; ``optimal`` with a batch window
settles when the window closes). ``now`` never goes backwards: an earlier value is clamped.

The same core runs in production (``router.engine`` owns the clock and persists commands) and in
the simulator (a virtual clock), so both measure the same routing.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from base.errors import Conflict, InvalidInput, NotFound
from router import commands as cmd
from router import events as ev
from router import explain
from router.indexes import PoolIndex
from router.matching import Scored, extra_share, hard_block
from router.model import (
    CHANNELS,
    Channel,
    ContactState,
    ContactView,
    Decision,
    ExpertProfile,
    ExpertState,
    ExpertView,
    OfferStatus,
    OfferView,
    Pool,
    Presence,
    QueueStats,
    RoutingConfig,
)
from router.policies import assign
from router.records import ContactRec, ExpertRec, SessionRec
from router.snapshot import Snapshot, restore_into, take_snapshot
from router.state import CoreState


class RoutingCore(CoreState):
    """Events in, commands out. See the module docstring; the state lives in ``CoreState``."""

    def __init__(self, config: RoutingConfig | None = None, pool: Pool | None = None, *,
                 ids: Callable[[str], str] | None = None) -> None:
        super().__init__(config, pool, ids=ids)
        self._batch_at: float | None = None
        self._batch_now = False
        self._handlers: dict[type[ev.Event], Callable[[Any, float], None]] = {
            ev.ContactArrived: self._on_arrived, ev.ContactAbandoned: self._on_abandoned,
            ev.ContactMoved: self._on_moved,
            ev.ExpertOnline: self._on_online, ev.ExpertStatus: self._on_status,
            ev.ProfileChanged: self._on_profile, ev.OfferAccepted: self._on_accepted,
            ev.OfferDeclined: self._on_declined, ev.OfferTimedOut: self._on_timed_out,
            ev.SessionEnded: self._on_session_ended,
            ev.SessionFailed: self._on_session_failed, ev.WrapUpEnded: self._on_wrap_up_ended,
            ev.Tick: self._on_tick, ev.PoolChanged: self._on_pool,
        }
        self._due: dict[str, Callable[[Any, float], None]] = {
            "offer": self._offer_due, "wrapup": self._wrap_up_due, "step": self._step_due,
            "batch": self._batch_due}

    # -- the one entry point -----------------------------------------------------------------
    def handle(self, event: ev.Event, now: float) -> list[cmd.Command]:
        """Apply ``event`` at time ``now`` (seconds) and return the commands to carry out."""
        handler = self._handlers.get(type(event))
        if handler is None:
            raise TypeError(f"not a routing event: {event!r}")
        now = max(now, self._now)
        self._validate(event, now)
        self._now = now
        out: list[cmd.Command] = []
        self._out = out
        self._advance(now)
        handler(event, now)
        self._settle(now)
        self._file_pending()
        self._arm_tick()
        return out

    def _validate(self, event: ev.Event, now: float) -> None:
        if isinstance(event, ev.OfferAccepted | ev.OfferDeclined):
            self._check_offer(event, now)
        elif isinstance(event, ev.ContactMoved):
            self._check_waiting(event.contact_id)
        elif isinstance(event, ev.ExpertStatus):
            if event.expert_id not in self._experts:
                raise NotFound(f"expert {event.expert_id} is unknown", expert=event.expert_id)
            if event.status not in set(Presence):
                raise InvalidInput(f"status must be available, away or offline, not "
                                   f"{event.status!r}")

    def _check_waiting(self, contact_id: str) -> None:
        contact = self._contacts.get(contact_id)
        if contact is None:
            raise NotFound(f"contact {contact_id} is not waiting (finished, or unknown)",
                           contact=contact_id)
        if contact.state not in (ContactState.QUEUED, ContactState.OFFERED):
            raise Conflict(f"contact {contact_id} is {contact.state.value}: only a waiting "
                           "contact can be moved", contact=contact_id)

    def _check_offer(self, event: ev.OfferAccepted | ev.OfferDeclined, now: float) -> None:
        """409 for unknown, closed (other than a repeated accept) or expired offers; 404 when
        the offer belongs to another expert."""
        offer = self._offers.get(event.offer_id) or self._closed.get(event.offer_id)
        if offer is None:
            raise Conflict(f"offer {event.offer_id} is unknown", offer=event.offer_id)
        if event.expert_id is not None and event.expert_id != offer.expert_id:
            raise NotFound(f"offer {event.offer_id} is not yours", offer=event.offer_id)
        if isinstance(event, ev.OfferDeclined):
            return
        status = getattr(offer, "status", OfferStatus.PENDING)
        if status is OfferStatus.PENDING and offer.expires_at <= now:
            status = OfferStatus.EXPIRED
        if status not in (OfferStatus.PENDING, OfferStatus.ACCEPTED):
            raise Conflict(f"offer {event.offer_id} was {status.value}", offer=event.offer_id,
                           status=status.value)

    def _advance(self, now: float) -> None:
        """Process every timer and wake-up due by ``now``, in time order."""
        timers, wakes = self._timers, self._wakes
        while True:
            t = timers[0][0] if timers else float("inf")
            w = wakes[0][0] if wakes else float("inf")
            if min(t, w) > now:
                return
            _, _, kind, ref = heapq.heappop(timers if t <= w else wakes)
            self._due[kind](ref, now)

    # -- due work ----------------------------------------------------------------------------
    def _offer_due(self, offer_id: str, now: float) -> None:
        offer = self._offers.get(offer_id)
        if offer is not None and offer.expires_at <= now:
            self._miss(offer, OfferStatus.EXPIRED, now)

    def _wrap_up_due(self, ref: tuple[str, str], now: float) -> None:
        expert = self._experts.get(ref[0])
        wrap = expert.wrapups.get(ref[1]) if expert else None
        if expert is not None and wrap is not None and wrap.until <= now:
            self._end_wrap_up(expert, ref[1], now)

    def _step_due(self, contact_id: str, now: float) -> None:
        contact = self._contacts.get(contact_id)
        if contact is None:
            return
        if contact.wake_at is not None and contact.wake_at <= now:
            contact.wake_at = None
        if contact.state is ContactState.QUEUED:
            for expert_id, until in list(contact.excluded.items()):
                if until <= now:
                    del contact.excluded[expert_id]
            self._restep(contact, now)
            self._dirty[contact_id] = None

    def _batch_due(self, _ref: object, _now: float) -> None:
        self._batch_now = True

    # -- events ------------------------------------------------------------------------------
    def _on_arrived(self, event: ev.ContactArrived, now: float) -> None:
        spec = event.contact
        if spec.id in self._contacts:
            return
        seq = event.seq if event.seq is not None else self._seq + 1
        self._seq = max(self._seq, seq)
        contact = self._contacts[spec.id] = ContactRec(spec, seq, self.policy.queue_key(spec, seq))
        self._enqueue(contact, now)

    def _on_abandoned(self, event: ev.ContactAbandoned, now: float) -> None:
        contact = self._contacts.get(event.contact_id)
        if contact is None:
            return
        if contact.state is ContactState.QUEUED:
            self._dequeue(contact)
        elif contact.state is ContactState.OFFERED:
            assert contact.offer_id is not None  # an offered contact has its offer
            offer = self._offers[contact.offer_id]
            expert = self._release(offer, OfferStatus.RESCINDED)
            self._out.append(cmd.RescindOffer(offer.offer_id, contact.spec.id, expert.id,
                                              event.reason))
            self._reindex(expert, now)
        else:
            return  # connected or wrapping up: the session ends through SessionEnded
        self._forget(contact, ContactState.ABANDONED, event.reason)

    def _on_moved(self, event: ev.ContactMoved, now: float) -> None:
        contact = self._contacts[event.contact_id]  # validated: queued or offered
        if contact.state is ContactState.OFFERED:
            assert contact.offer_id is not None  # an offered contact has its offer
            offer = self._offers[contact.offer_id]
            expert = self._release(offer, OfferStatus.RESCINDED)
            self._out.append(cmd.RescindOffer(offer.offer_id, contact.spec.id, expert.id,
                                              event.reason))
            self._reindex(expert, now)
        else:
            self._dequeue(contact)
        contact.spec = replace(contact.spec, skill=event.skill, priority=event.priority)
        contact.key = self.policy.queue_key(contact.spec, contact.seq)
        contact.servers, contact.servers_for, contact.wake_at = [], None, None
        contact.step = 0  # a new skill: its own schedule, from the contact's arrival
        self._out.append(cmd.ContactRefiled(contact.spec.id, event.skill, event.priority))
        self._requeue(contact, now, event.reason)

    def _on_online(self, event: ev.ExpertOnline, now: float) -> None:
        expert = self._experts.get(event.profile.id)
        if expert is None:
            expert = self._register(event.profile)
        elif expert.profile != event.profile:
            self._change_profile(expert, event.profile, now)
        expert.missed = 0
        self._set_presence(expert, Presence.AVAILABLE, "", now)

    def _on_status(self, event: ev.ExpertStatus, now: float) -> None:
        expert = self._experts[event.expert_id]
        presence = Presence(event.status)
        if presence is Presence.AVAILABLE:
            expert.missed = 0
        if presence is not expert.presence or event.reason != expert.reason:
            self._set_presence(expert, presence, event.reason, now)

    def _on_profile(self, event: ev.ProfileChanged, now: float) -> None:
        expert = self._experts.get(event.profile.id)
        if expert is None:
            self._register(event.profile)
        elif expert.profile != event.profile:
            self._change_profile(expert, event.profile, now)

    def _change_profile(self, expert: ExpertRec, profile: ExpertProfile, now: float) -> None:
        self._hold(expert, -1)
        expert.profile = profile
        self._hold(expert, 1)
        for offer_id in list(expert.offers):
            offer = self._offers[offer_id]
            if not self._still_eligible(self._contacts[offer.contact_id], expert, now):
                self._rescind(offer, "profile", now)
        self._reindex(expert, now, force=True)

    def _still_eligible(self, contact: ContactRec, expert: ExpertRec, now: float) -> bool:
        spec = contact.spec
        return (hard_block(spec, expert.profile, now, self._pool) is None
                and self._matcher.best_match(spec, expert.profile, contact.step) is not None)

    def _on_accepted(self, event: ev.OfferAccepted, now: float) -> None:
        offer = self._offers.get(event.offer_id)
        if offer is None:
            return  # a repeated accept: validated, nothing new to do
        session_id = self._ids("session")
        expert = self._release(offer, OfferStatus.ACCEPTED, session_id)
        session = SessionRec(session_id, offer.offer_id, offer.contact_id, expert.id,
                             offer.channel, now)
        self._sessions[session_id] = session
        expert.sessions[session_id] = offer.channel
        expert.used[offer.channel] += 1
        expert.missed = 0
        contact = self._contacts[offer.contact_id]
        contact.state, contact.session_id = ContactState.CONNECTED, session_id
        self._out.append(cmd.Connected(session_id, offer.offer_id, offer.contact_id, expert.id,
                                       offer.channel))
        self._out.append(cmd.ContactStateChanged(offer.contact_id, ContactState.CONNECTED))
        self._reindex(expert, now)

    def _on_declined(self, event: ev.OfferDeclined, now: float) -> None:
        offer = self._offers.get(event.offer_id)
        if offer is not None:
            self._miss(offer, OfferStatus.DECLINED, now)

    def _on_timed_out(self, event: ev.OfferTimedOut, now: float) -> None:
        offer = self._offers.get(event.offer_id)
        if offer is not None:
            self._miss(offer, OfferStatus.EXPIRED, now)

    def _on_session_ended(self, event: ev.SessionEnded, now: float) -> None:
        session = self._sessions.pop(event.session_id, None)
        if session is None:
            return
        expert = self._experts[session.expert_id]
        del expert.sessions[session.session_id]
        expert.used[session.channel] -= 1
        self._note_busy(now - session.started_at)
        self._wrap_up(expert, session, event.distressing, now)
        self._reindex(expert, now)

    def _on_session_failed(self, event: ev.SessionFailed, now: float) -> None:
        session = self._sessions.pop(event.session_id, None)
        if session is None:
            return
        expert = self._experts[session.expert_id]
        del expert.sessions[session.session_id]
        expert.used[session.channel] -= 1
        contact = self._contacts.get(session.contact_id)
        if contact is not None:
            contact.session_id = None
            self._back_in_place(contact, expert, event.reason, now)
        self._count_miss(expert, now)

    def _on_wrap_up_ended(self, event: ev.WrapUpEnded, now: float) -> None:
        expert = self._experts.get(event.expert_id)
        if expert is None:
            return
        ids = [event.session_id] if event.session_id is not None else list(expert.wrapups)
        for session_id in ids:
            if session_id in expert.wrapups:
                self._end_wrap_up(expert, session_id, now)

    def _on_tick(self, _event: ev.Tick, _now: float) -> None:
        """Nothing beyond what ``handle`` does for every event: process what is due."""

    def _on_pool(self, event: ev.PoolChanged, now: float) -> None:
        self._pool = self._matcher.pool = PoolIndex(event.pool, self.policy)
        for offer in list(self._offers.values()):
            expert = self._experts[offer.expert_id]
            if not self._still_eligible(self._contacts[offer.contact_id], expert, now):
                self._rescind(offer, "pool", now)
                self._reindex(expert, now)
        for contact_id, contact in self._contacts.items():
            if contact.state is ContactState.QUEUED:
                self._queues.unplace(contact.key, contact.placed)
                self._place(contact)
                self._dirty[contact_id] = None

    # -- matching ----------------------------------------------------------------------------
    def _settle(self, now: float) -> None:
        """Match everything that became routable during this event."""
        if self.policy.batch and (self._dirty or self._freed):
            window = self.config.batch_window_s
            if window > 0 and not self._batch_now:
                if self._batch_at is None:
                    self._batch_at = now + window
                    self._push(self._wakes, self._batch_at, "batch", None)
                return
            self._batch_now, self._batch_at = False, None
            self._solve_batch(now)
        self._greedy(now)

    def _greedy(self, now: float) -> None:
        """Freed experts first, each taking the first contact in queue order it may serve; then
        the contacts that arrived or escalated look among the experts still available. The
        other way round, a contact escalating at the instant an expert frees up would jump the
        queue ahead of an older one."""
        if self._freed:
            freed = list(self._freed)
            self._freed.clear()
            for expert_id in freed:
                self._match_expert(self._experts[expert_id], now)
        if self._dirty:
            dirty = [self._contacts[c] for c in self._dirty]
            self._dirty.clear()
            for contact in sorted(dirty, key=lambda c: c.key):
                if contact.state is ContactState.QUEUED:
                    self._match_contact(contact, now)

    def _match_contact(self, contact: ContactRec, now: float) -> None:
        """Contact side: offer to the best-scoring eligible expert, or record why nobody."""
        self._file_pending()
        tally: dict[str, set[str]] = {}
        top = self._matcher.experts_for(contact, now, self.config.candidate_limit, tally)
        step = self.policy.steps[contact.step]
        if top:
            reason = explain.best_score_reason(contact.spec, contact.step, step, top)
            decision = explain.offered(contact.spec, now, contact.step, self.policy.name, top,
                                       reason)
            self._make_offer(contact, top[0].expert, decision, now)
            return
        self._out.append(cmd.DecisionRecorded(self._nobody(contact, now, tally)))

    def _nobody(self, contact: ContactRec, now: float, tally: dict[str, set[str]]) -> Decision:
        spec = contact.spec
        return explain.nobody(spec, now, contact.step, self.policy.steps[contact.step],
                              self.policy.name, self._holders.get(spec.skill, {}),
                              self._matcher.availability_gaps(spec, contact.step), tally)

    def _match_expert(self, expert: ExpertRec, now: float) -> None:
        """Expert side: give each free slot the highest-priority contact it may take."""
        while True:
            channels = expert.open_channels()
            found = self._matcher.contacts_for(expert, channels, now) if channels else None
            if not found:
                return
            self._offer_freed(found[0], expert, now)

    def _offer_freed(self, contact: ContactRec, expert: ExpertRec, now: float) -> None:
        match = self._matcher.best_match(contact.spec, expert.profile, contact.step)
        assert match is not None, "contacts_for returned a contact the expert cannot serve"
        top = [self._scored(contact, expert, match, now)]
        reason = (f"{expert.id} became free; highest effective priority contact it may take "
                  f"at {explain.describe_step(contact.step, self.policy.steps[contact.step])}")
        decision = explain.offered(contact.spec, now, contact.step, self.policy.name, top,
                                   reason)
        self._make_offer(contact, expert, decision, now)

    def _scored(self, contact: ContactRec, expert: ExpertRec,
                match: tuple[str, float, int], now: float) -> Scored:
        channel = contact.spec.channel
        skill, cost, level = match
        score = self.policy.score(level, cost, now - expert.since,
                                  expert.used[channel], expert.profile.capacity(channel),
                                  extra_share(contact.spec, expert.profile))
        return Scored(score, expert, skill, cost, level)

    # -- optimal: batch assignment -----------------------------------------------------------
    def _batch_rows(self, now: float) -> list[ContactRec]:
        rows = {c: self._contacts[c] for c in self._dirty}
        for expert_id in self._freed:
            expert = self._experts[expert_id]
            for channel in CHANNELS:
                if expert.open_load(channel) is not None:
                    for contact in self._matcher.contacts_for(expert, (channel,), now,
                                                              limit=4):
                        rows[contact.spec.id] = contact
        queued = [c for c in rows.values() if c.state is ContactState.QUEUED]
        queued.sort(key=lambda c: c.key)
        return queued[:self.config.batch_limit]

    def _solve_batch(self, now: float) -> None:
        """Offer a maximum-weight assignment of the batch's contacts to their candidate
        experts (one new offer per expert per batch); ``_greedy`` then settles the rest."""
        self._file_pending()
        rows = self._batch_rows(now)
        if len(rows) < 2:
            return
        limit = self.config.candidate_limit
        tops = [self._matcher.experts_for(c, now, limit, true_top=True) for c in rows]
        columns: dict[str, int] = {}
        for top in tops:
            for scored in top:
                columns.setdefault(scored.expert.id, len(columns))
        if len(columns) < 2:
            return
        weights = self._batch_weights(rows, tops, columns, now)
        for r, c in sorted(assign(weights)):
            self._offer_assigned(rows[r], tops[r], list(columns)[c], len(rows), len(columns),
                                 now)

    def _batch_weights(self, rows: list[ContactRec], tops: list[list[Scored]],
                       columns: dict[str, int], now: float) -> list[list[float | None]]:
        w_priority = self.policy.weights.priority
        weights: list[list[float | None]] = []
        for contact, top in zip(rows, tops, strict=True):
            row: list[float | None] = [None] * len(columns)
            urgency = w_priority * self.policy.effective_priority(contact.spec, now)
            for scored in top:
                row[columns[scored.expert.id]] = scored.score + urgency
            weights.append(row)
        return weights

    def _offer_assigned(self, contact: ContactRec, top: list[Scored], expert_id: str,
                        n_rows: int, n_cols: int, now: float) -> None:
        expert = self._experts[expert_id]
        if contact.state is not ContactState.QUEUED or expert.open_load(
                contact.spec.channel) is None:
            return
        chosen = next(s for s in top if s.expert is expert)
        ordered = [chosen, *(s for s in top if s is not chosen)]
        reason = (f"batch assignment over {n_rows} contacts x {n_cols} experts at "
                  f"{explain.describe_step(contact.step, self.policy.steps[contact.step])}")
        decision = explain.offered(contact.spec, now, contact.step, self.policy.name, ordered,
                                   reason)
        self._make_offer(contact, expert, decision, now)

    # -- restore and snapshot ----------------------------------------------------------------
    def restore(self, snapshot: Snapshot, now: float) -> list[cmd.Command]:
        """Rebuild a fresh core from persisted state: experts come back offline (they must
        reconnect), contacts at their places, pending offers and sessions as they were."""
        if self._experts or self._contacts:
            raise Conflict("restore needs a fresh routing core")
        self._now = now
        out: list[cmd.Command] = []
        self._out = out
        restore_into(self, snapshot, now)
        self._dirty.clear()
        self._freed.clear()
        self._advance(now)
        self._file_pending()
        self._arm_tick()
        return out

    def snapshot(self) -> Snapshot:
        """Everything ``restore`` needs, as plain data."""
        return take_snapshot(self)

    # -- queries (read only) -----------------------------------------------------------------
    @property
    def now(self) -> float:
        return self._now

    @property
    def waiting(self) -> int:
        return len(self._queues)

    def contact(self, contact_id: str) -> ContactView | None:
        contact = self._contacts.get(contact_id)
        return contact.view() if contact else None

    def expert(self, expert_id: str) -> ExpertView | None:
        expert = self._experts.get(expert_id)
        return expert.view() if expert else None

    def offer(self, offer_id: str) -> OfferView | None:
        """A pending offer, or a recently closed one with its status (and session if accepted)."""
        pending = self._offers.get(offer_id)
        if pending is None:
            return self._closed.get(offer_id)
        return OfferView(pending.offer_id, pending.contact_id, pending.expert_id,
                         pending.channel, pending.made_at, pending.expires_at,
                         OfferStatus.PENDING)

    def pending_offers(self, expert_id: str) -> list[OfferView]:
        expert = self._experts.get(expert_id)
        return [v for o in (expert.offers if expert else ()) if (v := self.offer(o))]

    def position(self, contact_id: str) -> int | None:
        """How many contacts are ahead in the contact's queue (None unless queued)."""
        contact = self._contacts.get(contact_id)
        if contact is None or contact.state is not ContactState.QUEUED:
            return None
        return self._queues.position(contact.spec.channel, contact.spec.skill, contact.key)

    def explain(self, contact_id: str, now: float | None = None) -> Decision | None:
        """Why a waiting contact is waiting (or who would take it now), without side effects."""
        contact = self._contacts.get(contact_id)
        if contact is None or contact.state is not ContactState.QUEUED:
            return None
        at = self._now if now is None else max(now, self._now)
        tally: dict[str, set[str]] = {}
        top = self._matcher.experts_for(contact, at, self.config.candidate_limit, tally)
        if not top:
            return self._nobody(contact, at, tally)
        step = self.policy.steps[contact.step]
        return explain.offered(contact.spec, at, contact.step, self.policy.name, top,
                               explain.best_score_reason(contact.spec, contact.step, step, top))

    def holder_states(self, skill: str, channel: Channel | None = None
                      ) -> dict[ExpertState, int]:
        """How many holders of ``skill`` are in each state (all zero for an unknown skill);
        with ``channel``, only those who take it (capacity on it above 0)."""
        return self._holder_states(skill, channel)

    def serving(self, contact_id: str) -> int | None:
        """How many experts at work now (available, offered, busy or wrapping up) could be
        offered the contact where its wait has reached: they take its channel and hold a skill
        within its current ring (its exact skill, then the substitutes the ring allows); the
        count target escalation's likely waits are made of, and the one a wait estimate is
        made of. None unless the core holds the contact, queued or offered."""
        contact = self._waiting_contact(contact_id)
        return None if contact is None else self._staffed_within(contact.spec, contact.step)

    def on_duty(self, contact_id: str) -> int | None:
        """How many experts at work now could answer the contact at all: as ``serving``, but
        within the widest ring its wait may reach (0: nobody who could answer it is on
        duty, whatever the wait). None unless the core holds the contact, queued or
        offered."""
        contact = self._waiting_contact(contact_id)
        return None if contact is None else self._staffed_within(
            contact.spec, len(self.policy.steps) - 1)

    def _waiting_contact(self, contact_id: str) -> ContactRec | None:
        contact = self._contacts.get(contact_id)
        if contact is None or contact.state not in (ContactState.QUEUED,
                                                    ContactState.OFFERED):
            return None
        return contact

    def session(self, session_id: str) -> tuple[str, str] | None:
        """(contact_id, expert_id) of an active session."""
        found = self._sessions.get(session_id)
        return None if found is None else (found.contact_id, found.expert_id)

    def wrapups(self, expert_id: str) -> list[str]:
        """Session ids the expert is wrapping up."""
        expert = self._experts.get(expert_id)
        return list(expert.wrapups) if expert else []

    def wrapping_up(self, expert_id: str) -> list[tuple[str, str, float]]:
        """``(session_id, contact_id, until)`` of each wrap-up the expert holds, ``until``
        being when it ends (epoch seconds)."""
        expert = self._experts.get(expert_id)
        if expert is None:
            return []
        return [(sid, wrap.contact_id, wrap.until) for sid, wrap in expert.wrapups.items()]

    def stale(self, offers_before: float, sessions_before: float) -> tuple[list[str], list[str]]:
        """Pending offers made before ``offers_before`` and sessions started before
        ``sessions_before``: what the engine's watchdog ends."""
        offers = [o.offer_id for o in self._offers.values() if o.made_at < offers_before]
        sessions = [s.session_id for s in self._sessions.values()
                    if s.started_at < sessions_before]
        return offers, sessions

    def profile(self, expert_id: str) -> ExpertProfile | None:
        expert = self._experts.get(expert_id)
        return expert.profile if expert else None

    def experts_by_state(self) -> dict[ExpertState, int]:
        counts = dict.fromkeys(ExpertState, 0)
        for expert in self._experts.values():
            counts[expert.state] += 1
        return counts

    def queue_stats(self, now: float | None = None) -> list[QueueStats]:
        """Per (channel, skill) queue: waiting, longest wait, the holders who take that
        channel (in any state) and those who would take one more contact on it now (free and
        taking it, or on it with room to spare)."""
        at = self._now if now is None else now
        stats = []
        for channel, skill, keys in self._queues.queues():
            oldest = min(key[1] for key in keys)
            available = sum(slot.count for mode in self._index.open_modes[channel]
                            if (slot := self._index.slot(mode, None, skill)) is not None)
            holders = sum(self._holder_states(skill, channel).values())
            stats.append(QueueStats(channel, skill, len(keys), max(at - oldest, 0.0),
                                    holders, available))
        return sorted(stats, key=lambda s: (s.channel, s.skill))
