"""The event loop: a scenario's contacts and shifts fed through the real routing core on a
virtual clock.

A heap of ``(time, seq, kind, payload)`` drives ``RoutingCore.handle(event, now)``; the
commands that come back schedule what happens next, as a production shell would:

* ``MakeOffer`` -> the expert accepts ``accept_delay_s`` later (``OfferAccepted``);
* ``Connected`` -> the session ends after the contact's handle time (``SessionEnded``);
* ``StartTimer`` -> at its time, ``OfferTimedOut`` (``offer:<id>``), ``WrapUpEnded``
  (``wrapup:<session>``) or ``Tick`` (``tick``); a later ``StartTimer`` with the same key
  replaces the earlier one and ``CancelTimer`` drops it;
* a citizen whose patience runs out while queued or offered hangs up (``ContactAbandoned``);
* teams come online at their shift start and go offline at its end (sessions in progress
  finish; offline experts get no new offers).

Everything random is drawn per demand stream at arrival (``simulator.arrivals``), so one seed
gives every policy the same contacts.
"""

from __future__ import annotations

import heapq
import statistics
import time
from collections.abc import Callable
from itertools import count
from typing import Any

from router import commands as cmd
from router import events as ev
from router.core import RoutingCore
from router.estimate import WaitEstimator
from router.model import ContactSpec, ContactState, ExpertProfile, Presence
from simulator.arrivals import INF, Stream
from simulator.breach import BreachWatch
from simulator.metrics import Figures, Metrics, Occupancy, Tally, TeamFigures
from simulator.scenario import Scenario, quantize, shift_window

Observer = Callable[[float, cmd.Command], None]

ARRIVE, ABANDON, ACCEPT, END, TIMER, ONLINE, OFFLINE, FORECAST = range(8)
EPSILON = 1e-9


class _Waiting:
    """A contact not yet connected: when it came, its skill's tally (None in warm-up) and how
    long its session will take."""

    __slots__ = ("arrived_at", "cost", "handle_s", "skill", "tally", "told")

    def __init__(self, arrived_at: float, skill: str, tally: Tally | None,
                 handle_s: float) -> None:
        self.arrived_at = arrived_at
        self.skill = skill
        self.tally = tally
        self.handle_s = handle_s
        self.told: float | None = None  # the wait it was told on arrival, if queued
        self.cost = 0.0  # substitution cost of its latest offer's match


class Simulation:
    """One run of ``scenario`` (optionally with another ``policy`` or ``seed``).

    ``observer(now, command)``, if given, sees every command the core returns (for tests and
    traces). ``run()`` may be called once.
    """

    def __init__(self, scenario: Scenario, *, policy: str | None = None,
                 seed: int | None = None, escalation: str | None = None,
                 observer: Observer | None = None) -> None:
        self.scenario = scenario = scenario.with_options(policy=policy, seed=seed,
                                                         escalation=escalation)
        settings = scenario.settings
        self.core = RoutingCore(scenario.routing_config(), scenario.pool())
        self._observer = observer
        self._heap: list[tuple[float, int, int, Any]] = []
        self._seq = count()
        self._delay = quantize(settings.accept_delay_s)
        self._target = settings.service_level_target_s + EPSILON
        self._wrapup = scenario.routing_config().wrapup_s > 0
        self._window = (scenario.warmup_s, scenario.duration_s)
        self._streams = [Stream(d, i, settings.seed) for i, d in enumerate(scenario.demand)]
        self._tallies = {d.skill: Tally() for d in sorted(scenario.demand, key=lambda d: d.skill)}
        self._waiting: dict[str, _Waiting] = {}
        self._offers: set[str] = set()
        self._timers: dict[str, float] = {}
        self._sessions: dict[str, str] = {}  # session id -> expert id
        self._handles: dict[str, float] = {}  # session id -> its handle time
        self._waits = WaitEstimator()  # what the production shell tells waiting citizens
        self._told: list[tuple[float, float]] = []  # (told, waited), measured contacts
        self._contacts = 0
        team_of = {e: t.name for t in scenario.teams for e in t.expert_ids()}
        self._occupancy = Occupancy(self._window, team_of)
        self._watch = (BreachWatch(scenario, self.core) if settings.forecast_every_s > 0
                       else None)
        self._events: list[Callable[[Any, float], ev.Event | None]] = [
            self._arrive, self._abandon, self._accept, self._end, self._timer, self._online,
            self._offline, self._look]
        self._commands: dict[type, Callable[[Any, float], None]] = {
            cmd.MakeOffer: self._offered, cmd.RescindOffer: self._rescinded,
            cmd.Connected: self._connected, cmd.ContactStateChanged: self._contact_state,
            cmd.StartTimer: self._start_timer, cmd.CancelTimer: self._cancel_timer,
            cmd.ExpertStateChanged: self._expert_state}

    def __repr__(self) -> str:
        return (f"<Simulation {self.scenario.name} policy={self.core.policy.name} "
                f"contacts={self._contacts} pending={len(self._heap)}>")

    def _push(self, at: float, kind: int, payload: Any) -> None:
        heapq.heappush(self._heap, (at, next(self._seq), kind, payload))

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> Metrics:
        """Simulate until nothing more can happen; return the measured figures."""
        started = time.perf_counter()
        self._schedule_shifts()
        if self._watch is not None:
            self._push(self.scenario.warmup_s, FORECAST, None)
        for stream in self._streams:
            self._next_arrival(stream)
        heap, events, handle, apply = self._heap, self._events, self.core.handle, self._apply
        now = 0.0
        while heap:
            now, _, kind, payload = heapq.heappop(heap)
            event = events[kind](payload, now)
            if event is not None:
                apply(handle(event, now), now)
                if kind == ARRIVE and isinstance(event, ev.ContactArrived):
                    self._tell(event.contact)
        self._occupancy.finish(max(now, self._window[1]))
        return self._metrics(time.perf_counter() - started)

    def _apply(self, commands: list[cmd.Command], now: float) -> None:
        handlers, observer = self._commands, self._observer
        for command in commands:
            handler = handlers.get(type(command))
            if handler is not None:
                handler(command, now)
            if observer is not None:
                observer(now, command)

    def _schedule_shifts(self) -> None:
        for team in self.scenario.teams:
            start, end = shift_window(team)
            for expert_id in team.expert_ids():
                profile = ExpertProfile(id=expert_id, skills=team.skills,
                                        languages=team.languages,
                                        voice_capacity=team.voice_capacity,
                                        chat_capacity=team.chat_capacity)
                self._push(start, ONLINE, profile)
                if end != INF:
                    self._push(end, OFFLINE, expert_id)

    def _tell(self, spec: ContactSpec) -> None:
        """A contact still queued after its arrival is told a wait, as the shell would."""
        waiting = self._waiting.get(spec.id)
        ahead, serving = self.core.position(spec.id), self.core.serving(spec.id)
        if waiting is None or ahead is None or serving is None:
            return
        waiting.told = self._waits.told(ahead + 1, serving)

    def _next_arrival(self, stream: Stream) -> None:
        arrival = stream.next()
        if arrival is not None:
            self._push(arrival.at, ARRIVE, (stream, arrival))

    # -- events -------------------------------------------------------------------------------
    def _arrive(self, payload: Any, now: float) -> ev.Event:
        stream, arrival = payload
        self._next_arrival(stream)
        self._contacts += 1
        contact_id = f"c{self._contacts}"
        demand = stream.demand
        tally = self._tallies[demand.skill] if now >= self._window[0] else None
        if tally is not None:
            tally.offered += 1
        self._waiting[contact_id] = _Waiting(now, demand.skill, tally, arrival.handle_s)
        if self._watch is not None:
            self._watch.arrived(demand.skill, now)
        if arrival.abandon_at != INF:
            self._push(arrival.abandon_at, ABANDON, contact_id)
        return ev.ContactArrived(ContactSpec(
            id=contact_id, channel=demand.channel, skill=demand.skill, arrived_at=now,
            language=demand.language, priority=demand.priority))

    def _abandon(self, contact_id: str, _now: float) -> ev.Event | None:
        return ev.ContactAbandoned(contact_id) if contact_id in self._waiting else None

    def _accept(self, offer_id: str, _now: float) -> ev.Event | None:
        return ev.OfferAccepted(offer_id) if offer_id in self._offers else None

    def _end(self, session_id: str, _now: float) -> ev.Event:
        self._waits.note_handle(self._handles.pop(session_id))
        if not self._wrapup:
            del self._sessions[session_id]
        return ev.SessionEnded(session_id)

    def _timer(self, key: str, now: float) -> ev.Event | None:
        if self._timers.get(key) != now:
            return None  # replaced or cancelled
        del self._timers[key]
        kind, _, ref = key.partition(":")
        if kind == "offer":
            return ev.OfferTimedOut(ref) if ref in self._offers else None
        if kind == "wrapup":
            return ev.WrapUpEnded(self._sessions.pop(ref), ref)
        # A tick serves escalations and cooldowns of waiting contacts; with nobody waiting it
        # would only pop stale wake-ups (the core does that at the next event anyway).
        return ev.Tick() if self.core.waiting else None

    def _look(self, _payload: None, now: float) -> None:
        """The breach forecast's minute (``simulator.breach``), until arrivals stop."""
        assert self._watch is not None  # scheduled only with a watch
        self._watch.look(now)
        later = now + self._watch.every_s
        if later < self.scenario.duration_s:
            self._push(later, FORECAST, None)

    def _online(self, profile: ExpertProfile, _now: float) -> ev.Event:
        return ev.ExpertOnline(profile)

    def _offline(self, expert_id: str, _now: float) -> ev.Event:
        return ev.ExpertStatus(expert_id, Presence.OFFLINE, "shift ended")

    # -- commands -----------------------------------------------------------------------------
    def _offered(self, command: cmd.MakeOffer, now: float) -> None:
        self._offers.add(command.offer_id)
        self._waiting[command.contact_id].cost = command.decision.candidates[0].cost
        self._push(now + self._delay, ACCEPT, command.offer_id)

    def _rescinded(self, command: cmd.RescindOffer, _now: float) -> None:
        self._offers.discard(command.offer_id)

    def _connected(self, command: cmd.Connected, now: float) -> None:
        self._offers.discard(command.offer_id)
        waiting = self._waiting.pop(command.contact_id)
        self._sessions[command.session_id] = command.expert_id
        self._handles[command.session_id] = waiting.handle_s
        self._push(now + waiting.handle_s, END, command.session_id)
        if waiting.told is not None:
            self._waits.learn(waiting.told, now - waiting.arrived_at)
        if self._watch is not None:
            self._watch.ended(waiting.skill, now, now - waiting.arrived_at <= self._target)
        tally = waiting.tally
        if tally is not None:
            wait = now - waiting.arrived_at
            if waiting.told is not None:
                self._told.append((waiting.told, wait))
            tally.answered += 1
            tally.wait_sum += wait
            tally.exact += waiting.cost == 0
            tally.cost_sum += waiting.cost
            tally.within += wait <= self._target
            tally.queued += wait > self._delay + EPSILON

    def _contact_state(self, command: cmd.ContactStateChanged, now: float) -> None:
        if command.state is ContactState.ABANDONED:
            waiting = self._waiting.pop(command.contact_id, None)
            if waiting is not None and self._watch is not None:
                self._watch.ended(waiting.skill, now, False)
            if waiting is not None and waiting.tally is not None:
                waiting.tally.abandoned += 1
                waiting.tally.queued += 1

    def _start_timer(self, command: cmd.StartTimer, _now: float) -> None:
        self._timers[command.key] = command.at
        self._push(command.at, TIMER, command.key)

    def _cancel_timer(self, command: cmd.CancelTimer, _now: float) -> None:
        self._timers.pop(command.key, None)

    def _expert_state(self, command: cmd.ExpertStateChanged, now: float) -> None:
        self._occupancy.change(command.expert_id, command.state, now)

    # -- results ------------------------------------------------------------------------------
    def _metrics(self, wall_s: float) -> Metrics:
        for waiting in self._waiting.values():
            if waiting.tally is not None:
                waiting.tally.unserved += 1
        overall = Tally()
        for tally in self._tallies.values():
            overall.add(tally)
        busy = staffed = 0.0
        teams: dict[str, TeamFigures] = {}
        sizes = {t.name: t.size for t in self.scenario.teams}
        for name, (team_busy, team_staffed) in self._occupancy.by_team().items():
            busy += team_busy
            staffed += team_staffed
            teams[name] = TeamFigures(sizes[name], _ratio(team_busy, team_staffed),
                                      team_staffed / 3600)
        by_skill: dict[str, Figures] = {k: v.figures() for k, v in self._tallies.items()}
        calibration, error = _calibration(self._told)
        return Metrics(policy=self.core.policy.name, seed=self.scenario.settings.seed,
                       overall=overall.figures(), occupancy=_ratio(busy, staffed),
                       by_skill=by_skill, by_team=teams, contacts=self._contacts,
                       wall_s=wall_s, wait_estimate_calibration=calibration,
                       wait_estimate_median_error_s=error,
                       escalation=(self.core.config.escalation if self.core.policy.substitutes
                                   else "none"),
                       breach_forecast=None if self._watch is None else self._watch.report())


def _calibration(told: list[tuple[float, float]]) -> tuple[float | None, float | None]:
    """The share of (told, waited) pairs whose wait stayed within what was told, and the
    median of waited - told (negative: told too long)."""
    if not told:
        return None, None
    within = sum(1 for said, waited in told if waited <= said + EPSILON)
    return round(within / len(told), 4), round(statistics.median(w - s for s, w in told), 1)


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole > 0 else 0.0


def simulate(scenario: Scenario, *, policy: str | None = None, seed: int | None = None,
             escalation: str | None = None, observer: Observer | None = None) -> Metrics:
    """Run ``scenario`` once and return its metrics."""
    return Simulation(scenario, policy=policy, seed=seed, escalation=escalation,
                      observer=observer).run()
