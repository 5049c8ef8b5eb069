"""The breach forecast replayed: every ``forecast_every_s`` of simulated time, each skill's
outlook (``scheduler.breach``) from the live simulation, as the service computes it, set against
what then happened.

What the forecast is given, per skill: contacts waiting now and experts on duty who hold the
skill (from the routing core); idle experts one graph step away (those who hold a substitute
within cost 1.0 and not the skill itself, each counted once, as the service counts them);
the handle time the plan expects (its streams' traffic-weighted mean, plus wrap-up and the
accept delay); the plan for the next two half-hours (the ``planned`` demand streams: a stream
with ``planned = false`` is a surge nobody forecast) and the arrivals seen in the last 15 minutes
against the plan's for them.

What it is set against: the measured service level, over the contacts answered or abandoned in
the last 30 minutes (at least ``MIN_ENDED`` of them). A skill's first alert and the first time
its measured level fell below the promise are reported, in hours from the start.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from router.core import RoutingCore
from router.model import STAFFED, ExpertState
from scheduler.breach import SkillNow, forecast_all
from simulator.scenario import Demand, Scenario

RECENT_S = 900.0  # the window today's deviation from the plan is read over
MEASURED_S = 1800.0  # the window the measured service level is read over
MIN_ENDED = 10
NEARBY_COST = 1.0


@dataclass
class SkillWatch:
    """One skill's arrivals, outcomes and alerts during a run."""

    arrivals: deque[float] = field(default_factory=deque)
    ended: deque[tuple[float, bool]] = field(default_factory=deque)
    first_alert_s: float | None = None
    fell_s: float | None = None
    alerts: int = 0
    alerting: bool = False
    suggestion: str | None = None


class BreachWatch:
    """Fed by the simulation (``arrived``, ``ended``), consulted every ``every_s``."""

    def __init__(self, scenario: Scenario, core: RoutingCore) -> None:
        self.every_s = scenario.settings.forecast_every_s
        self._settings = scenario.settings
        self._core = core
        self._start = scenario.warmup_s
        skills = sorted({d.skill for d in scenario.demand})
        self._plan = {s: [d for d in scenario.demand if d.skill == s and d.planned]
                      for s in skills}
        self._aht = {s: _aht(self._plan[s] or [d for d in scenario.demand if d.skill == s],
                             scenario) for s in skills}
        self._nearby = {s: [k for k, cost in scenario.substitutes.get(s, ())
                            if 0 < cost <= NEARBY_COST] for s in skills}
        holders: dict[str, list[str]] = {}
        for team in scenario.teams:
            for skill in team.skills:
                holders.setdefault(skill, []).append(team.name)
        self._flex = {s: tuple(sorted({t for k in self._nearby[s] for t in holders.get(k, ())}
                                      - set(holders.get(s, ())))) for s in skills}
        by_name = {team.name: team for team in scenario.teams}
        self._neighbours = {s: [e for name in self._flex[s] for e in by_name[name].expert_ids()]
                            for s in skills}
        self.skills = {s: SkillWatch() for s in skills}

    def arrived(self, skill: str, now: float) -> None:
        self.skills[skill].arrivals.append(now)

    def ended(self, skill: str, now: float, within: bool) -> None:
        self.skills[skill].ended.append((now, within))

    def look(self, now: float) -> None:
        """Forecast every skill now; note first alerts and first measured falls."""
        if now < self._start:
            return
        for watch in self.skills.values():
            _drop_before(watch.arrivals, now - RECENT_S, lambda t: t)
            _drop_before(watch.ended, now - MEASURED_S, lambda e: e[0])
        outlooks = forecast_all({skill: self._now(skill, watch, now)
                                 for skill, watch in self.skills.items()}, self._nearby)
        for skill, watch in self.skills.items():
            outlook = outlooks[skill]
            if outlook.breach and not watch.alerting:
                watch.alerts += 1
                if watch.first_alert_s is None:
                    watch.first_alert_s, watch.suggestion = now, outlook.suggestion()
            watch.alerting = outlook.breach
            ended = len(watch.ended)
            if (watch.fell_s is None and ended >= MIN_ENDED
                    and sum(w for _, w in watch.ended) / ended < self._settings.service_level):
                watch.fell_s = now

    def _now(self, skill: str, watch: SkillWatch, now: float) -> SkillNow:
        core = self._core
        states = core.holder_states(skill)
        waiting = sum(q.waiting for q in core.queue_stats(now) if q.skill == skill)
        spare = sum(1 for e in self._neighbours[skill]
                    if (view := core.expert(e)) is not None
                    and view.state is ExpertState.AVAILABLE)
        return SkillNow(
            skill=skill, target_s=self._settings.service_level_target_s,
            level=self._settings.service_level, waiting=waiting,
            staffed=sum(states[s] for s in STAFFED), nearby_spare=float(spare),
            aht_s=self._aht[skill],
            planned_per_hour=(self._rate(skill, now + 900), self._rate(skill, now + 2700)),
            recent_arrivals=len(watch.arrivals),
            recent_planned=self._rate(skill, now - RECENT_S / 2) * RECENT_S / 3600,
            flex=self._flex[skill])

    def _rate(self, skill: str, at: float) -> float:
        hour = at / 3600
        return sum(d.per_hour for d in self._plan[skill] if d.start_h <= hour < d.end_h)

    def report(self) -> dict[str, Any]:
        """Per skill: alerts raised, the first alert and the first measured fall (hours)."""
        def hours(seconds: float | None) -> float | None:
            return None if seconds is None else round(seconds / 3600, 3)

        return {"every_s": self.every_s, "by_skill": {
            skill: {"alerts": w.alerts, "first_alert_h": hours(w.first_alert_s),
                    "service_level_fell_h": hours(w.fell_s), "suggestion": w.suggestion}
            for skill, w in self.skills.items()}}


def _aht(streams: list[Demand], scenario: Scenario) -> float:
    settings = scenario.settings
    rate = sum(d.per_hour for d in streams)
    mean = sum(d.per_hour * d.aht_s for d in streams) / rate if rate else 0.0
    return mean + settings.wrapup_s + settings.accept_delay_s


def _drop_before(items: deque[Any], cutoff: float, at: Callable[[Any], float]) -> None:
    while items and at(items[0]) <= cutoff:
        items.popleft()
