"""Run one scenario under every routing policy and measure what pooling buys.

The pooling efficiency of a policy is ``(SL_policy - SL_exact) / (SL_pooled - SL_exact)``: 0 is
no better than siloed teams, 1 is as good as one fully pooled team of generalists. ``SL_pooled``
is queueing theory for that one team over the measured window:

* arrivals: every stream's rate, averaged over [warmup, duration) (a stream running half the
  window counts half);
* holding time: the streams' traffic-weighted mean handle time plus wrap-up and accept delay;
* agents: experts on shift, averaged over the window and rounded (one server per expert; chat
  concurrency is ignored);
* Erlang C, or Erlang A when any stream has a patience (its rate-weighted mean patience). An
  unstable Erlang C (agents <= Erlangs) has service level 0;
* the simulated contacts' wait includes the accept delay (the expert's phone ringing), so the
  pooled team must answer within the target less that delay, and with a patience a caller may
  hang up while it rings: the service level is scaled by ``exp(-accept_delay / patience)``.
  Without both, a scenario with an accept delay held every policy to a level no team could
  reach (at light load, efficiencies of about 0.75 came from callers hanging up in the 2 s
  the phone rang).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from base.errors import InvalidInput
from router.model import POLICIES
from scheduler.erlang import erlang_a, erlang_c
from simulator.engine import simulate
from simulator.metrics import Metrics
from simulator.scenario import Scenario, shift_window, stream_window

SAME = 1e-6  # SL_pooled this close to SL_exact: efficiency undefined


@dataclass(frozen=True, slots=True)
class Pooled:
    """Queueing theory's figures for one fully pooled team."""

    model: str  # "erlang-c" or "erlang-a"
    per_hour: float
    aht_s: float
    agents: int
    traffic_erlangs: float
    patience_s: float | None
    service_level: float

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "per_hour": self.per_hour, "aht_s": self.aht_s,
                "agents": self.agents, "traffic_erlangs": self.traffic_erlangs,
                "patience_s": self.patience_s, "service_level": self.service_level}


@dataclass(frozen=True)
class Comparison:
    runs: tuple[Metrics, ...]
    pooled: Pooled

    def efficiency(self, metrics: Metrics) -> float | None:
        """Pooling efficiency of one run (None when there is no gap to close)."""
        exact = next((m for m in self.runs if m.policy == "exact"), None)
        if exact is None:
            return None
        gap = self.pooled.service_level - exact.overall.service_level
        if abs(gap) < SAME:
            return None
        return (metrics.overall.service_level - exact.overall.service_level) / gap

    def to_json(self) -> dict[str, Any]:
        return {"policies": [{**m.to_json(), "pooling_efficiency": self.efficiency(m)}
                             for m in self.runs],
                "pooled": self.pooled.to_json()}


def compare(scenario: Scenario, *, seed: int | None = None,
            policies: tuple[str, ...] = POLICIES) -> Comparison:
    """Run ``scenario`` under each policy with the same seed (the same contacts); with target
    escalation, ``graph`` also once with the fixed steps, to show what the target buys."""
    runs = [simulate(scenario, policy=policy, seed=seed) for policy in policies]
    if scenario.settings.escalation == "target" and "graph" in policies:
        runs.append(simulate(scenario, policy="graph", seed=seed, escalation="fixed"))
    return Comparison(tuple(runs), pooled(scenario))


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def pooled(scenario: Scenario) -> Pooled:
    """Erlang C (or A) for the whole scenario as one team; see the module docstring."""
    window = (scenario.warmup_s, scenario.duration_s)
    length = window[1] - window[0]
    rates = [(d, d.per_hour * _overlap(stream_window(d), window) / length)
             for d in scenario.demand]
    per_hour = sum(rate for _, rate in rates)
    settings = scenario.settings
    extra = settings.wrapup_s + settings.accept_delay_s
    traffic = sum(rate * (d.aht_s + extra) for d, rate in rates) / 3600
    agents = round(sum(t.size * _overlap(shift_window(t), window) for t in scenario.teams)
                   / length)
    patient = [(d.patience_s, rate) for d, rate in rates if d.patience_s is not None and rate]
    patience = (sum(p * r for p, r in patient) / sum(r for _, r in patient)
                if patient else None)
    aht = traffic * 3600 / per_hour if per_hour else 0.0
    delay = settings.accept_delay_s
    level = _service_level(per_hour, aht, agents,
                           max(settings.service_level_target_s - delay, 0.0), patience)
    if patience is not None and patience > 0:
        level *= math.exp(-delay / patience)
    return Pooled("erlang-a" if patience is not None else "erlang-c", per_hour, aht, agents,
                  traffic, patience, level)


def _service_level(per_hour: float, aht_s: float, agents: int, target_s: float,
                   patience_s: float | None) -> float:
    if per_hour <= 0:
        return 1.0
    if agents <= 0:
        return 0.0
    if patience_s is not None:
        return erlang_a(per_hour, aht_s, agents, target_s, patience_s).service_level
    try:
        return erlang_c(per_hour, aht_s, agents, target_s).service_level
    except InvalidInput:
        return 0.0  # agents <= Erlangs: the queue grows without bound
