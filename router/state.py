"""The routing core's state and its primitive transitions (internal to ``router.core``).

``CoreState`` keeps the records, indexes and timer heaps, and implements the transitions every
event is made of: queue and dequeue a contact, make, release and rescind an offer, re-file an
expert in the availability index and announce its derived state. Commands are appended to the
buffer of the event being handled.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from router import commands as cmd
from router.escalation import BUSY_SMOOTHING, adapt, likely_wait
from router.indexes import ContactQueues, ExpertIndex, PoolIndex
from router.matching import Matcher
from router.model import (
    STAFFED,
    Channel,
    ContactSpec,
    ContactState,
    Decision,
    ExpertProfile,
    ExpertState,
    OfferStatus,
    OfferView,
    Pool,
    Presence,
    RoutingConfig,
)
from router.policies import make_policy
from router.records import (
    BOTH,
    NOT_TAKING,
    ContactRec,
    ExpertRec,
    OfferRec,
    SessionRec,
    WrapUp,
    takes,
)

INF = float("inf")


class SequentialIds:
    """Deterministic ids: ``offer-1``, ``session-2``... (one counter for all kinds).

    After a restart, ``advance_past(persisted ids)`` keeps new ids clear of old ones; a shell
    may inject any other ``Callable[[str], str]`` (e.g. database sequences) instead.
    """

    def __init__(self, start: int = 1) -> None:
        self._next = start

    def __repr__(self) -> str:
        return f"SequentialIds(next={self._next})"

    def __call__(self, kind: str) -> str:
        n = self._next
        self._next += 1
        return f"{kind}-{n}"

    def advance_past(self, ids: list[str]) -> None:
        for old in ids:
            tail = old.rpartition("-")[2]
            if tail.isdigit():
                self._next = max(self._next, int(tail) + 1)


class CoreState:
    """Records, indexes, timers and primitive transitions; see the module docstring."""

    def __init__(self, config: RoutingConfig | None = None, pool: Pool | None = None, *,
                 ids: Callable[[str], str] | None = None) -> None:
        self.config = config or RoutingConfig()
        self.policy = make_policy(self.config)
        self._pool = PoolIndex(pool or Pool(), self.policy)
        self._ids: Callable[[str], str] = ids or SequentialIds()
        self._experts: dict[str, ExpertRec] = {}
        self._contacts: dict[str, ContactRec] = {}
        self._offers: dict[str, OfferRec] = {}
        self._sessions: dict[str, SessionRec] = {}
        # closed offers, oldest first, for idempotent accepts and 409s; an OrderedDict, since
        # dropping the oldest from a plain dict leaves a dead slot that every later
        # next(iter()) walks past (23 us per release measured at 100,000 kept)
        self._closed: OrderedDict[str, OfferView] = OrderedDict()
        # per skill, its holders by state; and apart, per skill and ``records.takes`` (0, 1,
        # 2), those who do not take both channels: "on duty for chats" is every holder less
        # those who take no chats, and an expert who takes both (nearly everyone) still moves
        # one counter per skill when its state changes
        self._holders: dict[str, dict[ExpertState, int]] = {}
        self._partial: dict[str, tuple[dict[ExpertState, int], ...]] = {}
        self._index = ExpertIndex(self.config.common_language)
        self._queues = ContactQueues(len(self.policy.steps))
        self._matcher = Matcher(self.policy, self._pool, self._index, self._queues,
                                self._contacts, self.config.scan_limit)
        self._timers: list[tuple[float, int, str, Any]] = []  # offers and wrap-ups
        self._wakes: list[tuple[float, int, str, Any]] = []   # escalations, cooldowns, batches
        self._heap_n = 0
        self._seq = 0
        self._now = -INF
        self._tick_at: float | None = None
        self._out: list[cmd.Command] = []
        self._dirty: dict[str, None] = {}  # contacts to match, contact side
        self._freed: dict[str, None] = {}  # experts with new capacity, expert side
        self._pending: dict[str, ExpertRec] = {}  # experts to file in the index (_reindex)
        # running mean of how long an expert is busy per session, wrap-up included (target
        # escalation's likely waits; None until a session has ended)
        self._busy_s: float | None = None

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} policy={self.policy.name} experts={len(self._experts)} "
                f"waiting={len(self._queues)} offers={len(self._offers)} "
                f"sessions={len(self._sessions)} now={self._now}>")

    # -- timers ------------------------------------------------------------------------------
    def _push(self, heap: list[tuple[float, int, str, Any]], at: float, kind: str,
              ref: Any) -> None:
        self._heap_n += 1
        heapq.heappush(heap, (at, self._heap_n, kind, ref))

    def _arm_tick(self) -> None:
        """Ask the shell for a Tick at the next escalation, cooldown end or batch."""
        if self._wakes and self._wakes[0][0] != self._tick_at:
            self._tick_at = self._wakes[0][0]
            self._out.append(cmd.StartTimer("tick", self._tick_at))

    # -- experts -----------------------------------------------------------------------------
    def _register(self, profile: ExpertProfile) -> ExpertRec:
        expert = self._experts[profile.id] = ExpertRec(profile, Presence.OFFLINE)
        self._hold(expert, 1)
        return expert

    def _hold(self, expert: ExpertRec, delta: int) -> None:
        """Count (delta 1) or uncount (-1) the expert in the per-skill state counters."""
        state = expert.state
        for counts in self._counters(expert):
            counts[state] += delta

    def _counters(self, expert: ExpertRec) -> list[dict[ExpertState, int]]:
        """The per-skill state counters the expert counts in, created if need be."""
        holders, partial = self._holders, self._partial
        taken = takes(expert.profile)
        found = []
        for skill in expert.profile.skills:
            counts = holders.get(skill)
            if counts is None:
                counts = holders[skill] = dict.fromkeys(ExpertState, 0)
            found.append(counts)
            if taken != BOTH:
                apart = partial.get(skill)
                if apart is None:
                    apart = partial[skill] = tuple(dict.fromkeys(ExpertState, 0)
                                                   for _ in range(BOTH))
                found.append(apart[taken])
        return found

    def _holder_counts(self, expert: ExpertRec) -> list[dict[ExpertState, int]]:
        """The per-skill state counters the expert counts in (kept with the profile)."""
        hot = expert.hot()
        counts = hot.holders
        if counts is None:
            counts = hot.holders = self._counters(expert)
        return counts

    def _holder_states(self, skill: str, channel: Channel | None = None
                       ) -> dict[ExpertState, int]:
        """How many holders of ``skill`` who take ``channel`` (None: all of them) are in each
        state."""
        found = dict(self._holders.get(skill) or dict.fromkeys(ExpertState, 0))
        apart = self._partial.get(skill)
        if channel is not None and apart is not None:
            for taken in NOT_TAKING[channel]:
                for state, n in apart[taken].items():
                    found[state] -= n
        return found

    def _staffed_within(self, spec: ContactSpec, step: int) -> int:
        """Experts at work now (``STAFFED``) who take ``spec``'s channel and hold a skill
        within ``step``'s radius: those routing may offer it to there, busy or not (one who
        holds two of those skills counts twice; proficiency and language aside)."""
        holders, partial, lacking = self._holders, self._partial, NOT_TAKING[spec.channel]
        staffed = 0
        for skill, _ in self._servers_within(spec.skill, step):
            counts = holders.get(skill)
            if counts is None:
                continue
            for state in STAFFED:
                staffed += counts[state]
            apart = partial.get(skill)
            if apart is not None:  # less those who do not take the channel
                for taken in lacking:
                    counts = apart[taken]
                    for state in STAFFED:
                        staffed -= counts[state]
        return staffed

    def _reindex(self, expert: ExpertRec, now: float, *, force: bool = False,
                 reason: str = "") -> None:
        """Re-file ``expert`` in the availability index after its capacity or profile changed;
        an expert who gained capacity is marked for an expert-side search.

        The filing itself waits for ``_file_pending``: a freed expert is usually offered a
        contact by its own search at once, and would leave the buckets it just joined."""
        place, old = expert.placement(), expert.indexed
        if place != old or force:
            if expert.member:
                self._index.remove(expert.id, expert.member)
                expert.member = []
            if place is not None:
                self._pending[expert.id] = expert
                expert.since = now
                if old is None or place[1] < old[1] or force:
                    self._freed[expert.id] = None
            else:
                self._pending.pop(expert.id, None)
            expert.indexed = place
        self._restate(expert, reason)

    def _file_pending(self) -> None:
        """File the experts re-filed since the last call where ``indexed`` says: before any
        contact-side search and at the end of every event."""
        if self._pending:
            index = self._index
            for expert in self._pending.values():
                place = expert.indexed
                assert place is not None, "a pending expert has somewhere to go"
                expert.member = index.add(place[0], expert, place[1])
            self._pending.clear()

    def _restate(self, expert: ExpertRec, reason: str = "") -> None:
        state = expert.derived_state()
        old = expert.state
        if state is old:
            return
        for counts in self._holder_counts(expert):
            counts[old] -= 1
            counts[state] += 1
        expert.state = state
        if state is ExpertState.AWAY or state is ExpertState.OFFLINE:
            reason = reason or expert.reason
        self._out.append(cmd.ExpertStateChanged(expert.id, state, reason))

    def _set_presence(self, expert: ExpertRec, presence: Presence, reason: str,
                      now: float) -> None:
        expert.presence = presence
        expert.reason = reason
        if presence is not Presence.AVAILABLE:
            for offer_id in list(expert.offers):
                self._rescind(self._offers[offer_id], presence.value, now)
        self._reindex(expert, now, reason=reason)
        if presence is Presence.OFFLINE:
            expert.forget_hot()

    # -- contacts ----------------------------------------------------------------------------
    def _enqueue(self, contact: ContactRec, now: float) -> None:
        """Put ``contact`` at its (static) place, at the step its wait has reached."""
        spec = contact.spec
        contact.state = ContactState.QUEUED
        contact.offer_id = contact.expert_id = None
        contact.step, recheck = self._due_step(contact, now)
        self._queues.add(spec.channel, spec.skill, contact.key)
        self._place(contact)
        self._schedule_step(contact, recheck)
        self._dirty[spec.id] = None

    def _place(self, contact: ContactRec) -> None:
        """File a waiting contact under every skill that may serve it at its step. The step
        lists of those skills are looked up once per contact (and pool), as far as its steps
        have reached so far: most contacts are served at the first step, through one skill."""
        spec = contact.spec
        pool = self._pool
        if contact.servers_for is not pool:
            contact.servers, contact.servers_for = [], pool
        count = pool.within(spec.skill, self.policy.max_cost_at(contact.step))
        servers = contact.servers
        if len(servers) < count:
            language = self._index.language_key(spec.language)
            wanted = pool.substitutes(spec.skill)[len(servers):count]
            servers.extend(self._queues.lists_for(spec.channel, ((server, language)
                                                                 for server, _ in wanted)))
        contact.placed = self._queues.place(contact.key, contact.step, servers, count)

    def _dequeue(self, contact: ContactRec) -> None:
        spec = contact.spec
        self._queues.remove(spec.channel, spec.skill, contact.key)
        self._queues.unplace(contact.key, contact.placed)
        contact.placed = []

    def _schedule_step(self, contact: ContactRec, recheck: float | None = None) -> None:
        """Wake the contact at its next step, or at ``recheck`` (a wait) when escalation held
        it back (``router.escalation.adapt``)."""
        after = recheck if recheck is not None else self.policy.next_step_after(
            contact.step, contact.spec.skill)
        if after is None:
            return
        at = contact.spec.arrived_at + after
        if contact.wake_at != at:
            contact.wake_at = at
            self._push(self._wakes, at, "step", contact.spec.id)

    def _restep(self, contact: ContactRec, now: float) -> None:
        """Move a waiting contact to the step its wait has reached."""
        step, recheck = self._due_step(contact, now)
        if step != contact.step:
            self._queues.unplace(contact.key, contact.placed)
            contact.step = step
            self._place(contact)
        self._schedule_step(contact, recheck)

    def _due_step(self, contact: ContactRec, now: float) -> tuple[int, float | None]:
        """The step ``contact`` should be at now (never narrower than it is), and the wait at
        which to look again if target escalation held it back."""
        spec, policy = contact.spec, self.policy
        due = max(policy.step_for(spec.arrived_at, now, spec.skill), contact.step)
        busy = self._busy_s
        if not policy.by_target or busy is None:
            return due, None
        return adapt(contact.step, due, len(policy.steps) - 1, now - spec.arrived_at,
                     policy.target_of(spec.skill),
                     lambda k: self._likely_wait(contact, k, busy),
                     lambda k: self._free_at(spec, k))

    def _servers_within(self, skill: str, step: int) -> tuple[tuple[str, float], ...]:
        pool = self._pool
        return pool.substitutes(skill)[:pool.within(skill, self.policy.max_cost_at(step))]

    def _likely_wait(self, contact: ContactRec, step: int, busy_s: float) -> float:
        """Likely wait of ``contact`` at ``step``'s radius (``router.escalation``)."""
        spec = contact.spec
        if self._free_at(spec, step):
            return 0.0
        ahead = self._queues.position(spec.channel, spec.skill, contact.key)
        return likely_wait(ahead, busy_s, self._staffed_within(spec, step))

    def _free_at(self, spec: ContactSpec, step: int) -> bool:
        """Whether an expert within ``step``'s radius, at its proficiency floor or above, has
        room for ``spec``'s channel now (language aside)."""
        floor = self.policy.steps[step].min_proficiency
        language = self._index.language_key(spec.language)
        modes = self._index.open_modes[spec.channel]
        for skill, _ in self._servers_within(spec.skill, step):
            for mode in modes:
                slot = self._index.slot(mode, language, skill)
                if slot is not None and slot.count and any(slot.by_level[floor:]):
                    return True
        return False

    def _note_busy(self, seconds: float) -> None:
        """One more session ended after ``seconds`` (wrap-up to follow)."""
        busy = seconds + self.config.wrapup_s
        self._busy_s = busy if self._busy_s is None else (
            self._busy_s + BUSY_SMOOTHING * (busy - self._busy_s))

    def _forget(self, contact: ContactRec, state: ContactState, reason: str = "") -> None:
        del self._contacts[contact.spec.id]
        self._dirty.pop(contact.spec.id, None)
        contact.state = state
        self._out.append(cmd.ContactStateChanged(contact.spec.id, state, reason))

    # -- offers ------------------------------------------------------------------------------
    def _make_offer(self, contact: ContactRec, expert: ExpertRec, decision: Decision,
                    now: float) -> None:
        spec = contact.spec
        offer = OfferRec(self._ids("offer"), spec.id, expert.id, spec.channel, now,
                         now + self.config.offer_timeout_s)
        self._offers[offer.offer_id] = offer
        self._dequeue(contact)
        self._dirty.pop(spec.id, None)
        contact.state, contact.offer_id, contact.expert_id = (ContactState.OFFERED,
                                                              offer.offer_id, expert.id)
        expert.offers[offer.offer_id] = spec.channel
        expert.used[spec.channel] += 1
        out = self._out
        out.append(cmd.MakeOffer(offer.offer_id, spec.id, expert.id, spec.channel,
                                 offer.expires_at, decision))
        out.append(cmd.ContactStateChanged(spec.id, ContactState.OFFERED))
        self._reindex(expert, now)
        self._push(self._timers, offer.expires_at, "offer", offer.offer_id)
        out.append(cmd.StartTimer(f"offer:{offer.offer_id}", offer.expires_at))

    def _release(self, offer: OfferRec, status: OfferStatus, session_id: str | None = None
                 ) -> ExpertRec:
        """Close a pending offer and free the expert's slot (the caller re-files the expert)."""
        del self._offers[offer.offer_id]
        expert = self._experts[offer.expert_id]
        del expert.offers[offer.offer_id]
        expert.used[offer.channel] -= 1
        self._closed[offer.offer_id] = OfferView(
            offer.offer_id, offer.contact_id, offer.expert_id, offer.channel, offer.made_at,
            offer.expires_at, status, session_id)
        if len(self._closed) > self.config.closed_offers_kept:
            self._closed.popitem(last=False)
        if status is not OfferStatus.EXPIRED:
            self._out.append(cmd.CancelTimer(f"offer:{offer.offer_id}"))
        return expert

    def _rescind(self, offer: OfferRec, reason: str, now: float) -> ExpertRec:
        """Withdraw an offer: the contact goes back to its place (caller re-files the expert)."""
        expert = self._release(offer, OfferStatus.RESCINDED)
        self._out.append(cmd.RescindOffer(offer.offer_id, offer.contact_id, offer.expert_id,
                                          reason))
        self._requeue(self._contacts[offer.contact_id], now, reason)
        return expert

    def _requeue(self, contact: ContactRec, now: float, reason: str) -> None:
        self._enqueue(contact, now)
        self._out.append(cmd.ContactStateChanged(contact.spec.id, ContactState.QUEUED, reason))

    def _miss(self, offer: OfferRec, status: OfferStatus, now: float) -> None:
        """A declined or expired offer: the contact keeps its place and skips this expert for
        the cooldown; N misses in a row send the expert away."""
        expert = self._release(offer, status)
        if status is OfferStatus.EXPIRED:
            self._out.append(cmd.RescindOffer(offer.offer_id, offer.contact_id, expert.id,
                                              "expired"))
        self._back_in_place(self._contacts[offer.contact_id], expert, status.value, now)
        self._count_miss(expert, now)

    def _back_in_place(self, contact: ContactRec, expert: ExpertRec, reason: str,
                       now: float) -> None:
        """The contact returns to its place and skips ``expert`` for the cooldown."""
        cooldown = self.config.reoffer_cooldown_s
        if cooldown > 0:
            contact.excluded[expert.id] = now + cooldown
            self._push(self._wakes, now + cooldown, "step", contact.spec.id)
        self._requeue(contact, now, reason)

    def _count_miss(self, expert: ExpertRec, now: float) -> None:
        """One more missed offer: N in a row send the expert away (and say why)."""
        expert.missed += 1
        limit = self.config.max_missed_offers
        if limit and expert.missed >= limit and expert.presence is Presence.AVAILABLE:
            self._set_presence(expert, Presence.AWAY,
                               f"missed {expert.missed} offers in a row", now)
        else:
            self._reindex(expert, now)

    # -- sessions ----------------------------------------------------------------------------
    def _wrap_up(self, expert: ExpertRec, session: SessionRec, distressing: bool,
                 now: float) -> None:
        """Hold the session's slot for wrap-up (plus recovery, on every channel, if the session
        was distressing); with no hold the contact completes at once."""
        config = self.config
        recovery = config.recovery_s if distressing else 0.0
        hold = config.wrapup_s + recovery
        contact = self._contacts.get(session.contact_id)
        if hold <= 0:
            if contact is not None:
                self._forget(contact, ContactState.COMPLETED)
            return
        wrap = WrapUp(now + hold, session.channel, recovery > 0, session.contact_id)
        expert.wrapups[session.session_id] = wrap
        expert.used[wrap.channel] += 1
        expert.exclusive += wrap.exclusive
        self._push(self._timers, wrap.until, "wrapup", (expert.id, session.session_id))
        self._out.append(cmd.StartTimer(f"wrapup:{session.session_id}", wrap.until))
        if contact is not None:
            contact.state = ContactState.WRAPUP
            self._out.append(cmd.ContactStateChanged(contact.spec.id, ContactState.WRAPUP))

    def _end_wrap_up(self, expert: ExpertRec, session_id: str, now: float) -> None:
        wrap = expert.wrapups.pop(session_id)
        expert.used[wrap.channel] -= 1
        expert.exclusive -= wrap.exclusive
        if wrap.until > now:
            self._out.append(cmd.CancelTimer(f"wrapup:{session_id}"))
        contact = self._contacts.get(wrap.contact_id)
        if contact is not None:
            self._forget(contact, ContactState.COMPLETED)
        self._reindex(expert, now)
