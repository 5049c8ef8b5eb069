"""Hypothesis properties of the routing core, checked after every event of random scripts.

A small "shell" (``Player``) plays scripts from ``tests/strategies_router.py`` against the
core, keeps its own book of pending offers from the commands, and checks each step against an
independent reference of eligibility written from the specification.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings

from base.errors import Conflict, NotFound
from router import commands as cmd
from router import events as ev
from router.core import RoutingCore
from router.model import ContactSpec, ContactState, ExpertProfile, Pool, Presence, RoutingConfig
from router.snapshot import Snapshot
from tests.strategies_router import Op, scenarios

FAST = settings(max_examples=70, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reference_eligible(spec: ContactSpec, profile: ExpertProfile, pool: Pool,
                       config: RoutingConfig, now: float) -> bool:
    """Eligibility straight from the specification (no indexes)."""
    if spec.language is not None and spec.language not in profile.languages:
        return False
    for name in spec.required_accreditations:
        expiry = profile.accreditations.get(name, -1.0)
        if name not in profile.accreditations or (expiry is not None and expiry <= now):
            return False
    if spec.org is not None and spec.org != profile.org and not (
            (spec.org, profile.org) in pool.sharing or (profile.org, spec.org) in pool.sharing):
        return False
    if config.policy == "exact":
        return spec.skill in profile.skills
    wait = now - spec.arrived_at
    step = [s for s in config.steps if s.after_s <= wait][-1]
    cost = {spec.skill: 0.0}
    for other, c in pool.substitutes.get(spec.skill, ()):
        cost[other] = min(c, cost.get(other, c))
    return any(profile.skills.get(skill, 0) >= step.min_proficiency
               and c <= step.max_cost + 1e-9 for skill, c in cost.items())


class Player:
    """Plays a script against a core and checks the invariants after every event."""

    def __init__(self, config: RoutingConfig, pool: Pool, experts: list[ExpertProfile]) -> None:
        self.core = RoutingCore(config, pool)
        self.config, self.pool = config, pool
        self.profiles = {p.id: p for p in experts}
        self.known: set[str] = set()
        self.now = 0.0
        self.live: dict[str, ContactSpec] = {}
        self.pending: dict[str, cmd.MakeOffer] = {}
        self.sessions: list[str] = []
        self.excluded: dict[tuple[str, str], float] = {}
        self.log: list[cmd.Command] = []

    def play(self, script: list[Op]) -> None:
        for op in script:
            self.now += op.dt
            event = self.event(op)
            try:
                commands = self.core.handle(event, self.now)
            except Conflict:
                assert isinstance(event, ev.OfferAccepted)
                assert self.pending[event.offer_id].expires_at <= self.now
                continue
            except NotFound:
                assert isinstance(event, ev.ExpertStatus) and event.expert_id not in self.known
                continue
            self.after(event, commands)

    def event(self, op: Op) -> ev.Event:  # noqa: PLR0911 - one branch per kind
        experts = sorted(self.profiles)
        expert_id = experts[op.target % len(experts)]
        offers = sorted(self.pending)
        if op.kind == "arrive" and op.contact and op.contact.id not in self.live:
            return ev.ContactArrived(dataclasses.replace(op.contact, arrived_at=self.now))
        if op.kind == "online":
            return ev.ExpertOnline(self.profiles[expert_id])
        if op.kind in ("away", "offline"):
            return ev.ExpertStatus(expert_id, Presence(op.kind))
        if op.kind in ("accept", "decline", "timeout") and offers:
            offer_id = offers[op.target % len(offers)]
            kinds = {"accept": ev.OfferAccepted, "decline": ev.OfferDeclined,
                     "timeout": ev.OfferTimedOut}
            return kinds[op.kind](offer_id)
        if op.kind == "end" and self.sessions:
            return ev.SessionEnded(self.sessions.pop(op.target % len(self.sessions)), op.flag)
        if op.kind == "wrapup_end":
            return ev.WrapUpEnded(expert_id)
        if op.kind == "abandon" and self.live:
            return ev.ContactAbandoned(sorted(self.live)[op.target % len(self.live)])
        if op.kind == "profile" and op.profile:
            self.profiles[op.profile.id] = op.profile
            return ev.ProfileChanged(op.profile)
        if op.kind == "pool" and op.pool:
            self.pool = op.pool
            return ev.PoolChanged(op.pool)
        return ev.Tick()

    def after(self, event: ev.Event, commands: list[cmd.Command]) -> None:
        self.log.extend(commands)
        if isinstance(event, ev.ContactArrived):
            self.live[event.contact.id] = event.contact
        if isinstance(event, ev.ExpertOnline | ev.ProfileChanged):
            self.known.add(event.profile.id)
        offer = self.pending.get(getattr(event, "offer_id", ""))
        if isinstance(event, ev.OfferDeclined) and offer and offer.expires_at > self.now:
            self.exclude(self.pending.pop(event.offer_id))  # (timeouts come back as rescinds)
        for command in commands:
            self.book(command)
        self.check_capacity()
        if self.config.policy != "optimal" or self.config.batch_window_s == 0:
            self.check_nobody_waits_beside_an_eligible_expert()

    def exclude(self, offer: cmd.MakeOffer) -> None:
        until = self.now + self.core.config.reoffer_cooldown_s
        self.excluded[(offer.contact_id, offer.expert_id)] = until

    def book(self, command: cmd.Command) -> None:
        if isinstance(command, cmd.MakeOffer):
            assert all(o.contact_id != command.contact_id for o in self.pending.values()), \
                "a contact was offered to two experts at once"
            spec = self.live[command.contact_id]
            assert reference_eligible(spec, self.profiles[command.expert_id], self.pool,
                                      self.config, self.now), f"ineligible offer {command}"
            assert self.core.expert(command.expert_id).presence is Presence.AVAILABLE
            self.pending[command.offer_id] = command
        elif isinstance(command, cmd.RescindOffer):
            offer = self.pending.pop(command.offer_id)
            if command.reason == "expired":
                self.exclude(offer)
        elif isinstance(command, cmd.Connected):
            del self.pending[command.offer_id]
            self.sessions.append(command.session_id)
        elif isinstance(command, cmd.ContactStateChanged) and command.state in (
                ContactState.COMPLETED, ContactState.ABANDONED):
            self.live.pop(command.contact_id, None)

    def check_capacity(self) -> None:
        for expert_id in self.known:
            view, profile = self.core.expert(expert_id), self.profiles[expert_id]
            assert not (view.voice_load and view.chat_load), "voice and chat at once"
            assert view.voice_load <= profile.voice_capacity
            assert view.chat_load <= profile.chat_capacity

    def check_nobody_waits_beside_an_eligible_expert(self) -> None:
        views = [self.core.expert(e) for e in sorted(self.known)]
        for contact_id, spec in self.live.items():
            if self.core.contact(contact_id).state is not ContactState.QUEUED:
                continue
            for view in views:
                if spec.channel not in view.open_channels:
                    continue
                if self.excluded.get((contact_id, view.id), float("-inf")) > self.now:
                    continue
                assert not reference_eligible(spec, self.profiles[view.id], self.pool,
                                              self.config, self.now), (
                    f"{contact_id} waits while {view.id} is available and eligible")


@FAST
@given(scenarios())
def test_invariants_hold_after_every_event(scenario: tuple) -> None:
    """No expert over capacity (voice excludes chat); no contact offered to two experts at
    once; only eligible experts offered (hard constraints never relaxed); no contact waits
    while an eligible expert sits available (greedy policies, after every event)."""
    Player(*scenario[:3]).play(scenario[3])


@settings(max_examples=40, deadline=None)
@given(scenarios(policies=("graph",)))
def test_graph_at_its_last_step_never_leaves_a_contact_beside_an_available_expert(
        scenario: tuple) -> None:
    config, pool, experts, script = scenario
    player = Player(config, pool, experts)
    player.play(script)
    player.now += config.steps[-1].after_s + 1  # everyone still waiting reaches the last step
    player.after(ev.Tick(), player.core.handle(ev.Tick(), player.now))


@settings(max_examples=40, deadline=None)
@given(scenarios())
def test_the_same_script_gives_the_same_commands(scenario: tuple) -> None:
    first, second = Player(*scenario[:3]), Player(*scenario[:3])
    first.play(scenario[3])
    second.play(scenario[3])
    assert first.log == second.log


@settings(max_examples=40, deadline=None)
@given(scenarios(policies=("graph", "exact")))
def test_restore_keeps_every_contact_in_order_and_every_pending_offer(scenario: tuple) -> None:
    config, pool, experts, script = scenario
    player = Player(config, pool, experts)
    player.play(script)
    snapshot = player.core.snapshot()
    restored = RoutingCore(config, pool)
    # Restore at the instant of the snapshot: the core's clock, which lags the player's when the
    # last event was refused (a late accept) and an offer has expired since (restoring later
    # would rightly expire it and put the contact back in the queue).
    commands = restored.restore(snapshot, player.core.now)
    again = restored.snapshot()
    # A wrap-up is the expert's private time after the conversation: a restart completes it
    # (router/snapshot.py) and says so; every other live contact comes back as it was.
    wrapping = {c.spec.id for c in snapshot.contacts if c.state is ContactState.WRAPUP}
    assert {c.spec.id: c.state for c in again.contacts} == {
        c.spec.id: c.state for c in snapshot.contacts if c.spec.id not in wrapping}
    completed = {c.contact_id for c in commands if isinstance(c, cmd.ContactStateChanged)
                 and c.state is ContactState.COMPLETED}
    assert wrapping <= completed
    assert again.offers == snapshot.offers and again.sessions == snapshot.sessions
    for contact in snapshot.contacts:
        assert restored.position(contact.spec.id) == player.core.position(contact.spec.id)
    assert all(restored.expert(p.id).presence is Presence.OFFLINE for p in snapshot.experts)


@pytest.mark.parametrize("policy", ["exact", "graph", "optimal"])
def test_restore_refuses_a_used_core(policy: str) -> None:
    core = RoutingCore(RoutingConfig(policy=policy))
    core.handle(ev.ProfileChanged(ExpertProfile(id="e1", skills={"a": 3})), 0.0)
    with pytest.raises(Conflict):
        core.restore(Snapshot(), 1.0)
