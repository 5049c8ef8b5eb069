"""Breach forecast: the service level each skill is heading for in the next 30 and 60 minutes,
and an alert, with what would help, before it falls below its promise.

For one skill, from what is known now (``SkillNow``):

* **demand**: the planned arrivals for the next two half-hours (the history forecast,
  ``scheduler.forecast``), scaled by how today is running against that plan: the arrivals seen
  in the recent window against those the plan expected there, taken only as far as they lie
  beyond Poisson noise (``NOISE`` standard deviations; the plan counts for at least ``PRIOR``
  contacts), so the ordinary ups and downs of a quarter-hour raise no alarm and a real surge
  shows within minutes;
* **capacity**: the experts on duty who hold the skill, plus the idle ones one graph step away
  (what they could lend without failing their own callers), less what its experts will lend
  (``overflow``: a related skill whose demand exceeds its own experts pushes the excess onto
  its neighbours, shared in proportion to their spare);
* **the backlog**: contacts waiting now beyond the queue the steady state has anyway (Erlang
  C's mean queue). While that excess drains at (agents - Erlangs) / handle time, every new
  arrival finds it ahead; those who arrive while more than ``target x agents / handle`` are
  ahead will wait past the target.

The predicted service level of a horizon is Erlang C's for the steady state (0 when demand
meets or exceeds capacity), times the share of the horizon left once the backlog no longer
makes arrivals miss. A skill whose prediction for either horizon is below its promise is in
breach; ``advise`` says how many more experts the next half-hour needs (Erlang C's staffing
for the forecast demand) and which experts on duty with a related skill could flex in.

Pure: no clock, no I/O; the service and the simulator gather ``SkillNow`` each minute.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from base.errors import InvalidInput
from scheduler.erlang import erlang_c, staff

PRIOR = 10.0
"""The fewest contacts the plan counts for when today's deviation is read."""
NOISE = 2.0
"""How many Poisson standard deviations of the plan a deviation must pass to count."""
HORIZONS_MIN = (30, 60)
HALF_HOUR_S = 1800.0


@dataclass(frozen=True, slots=True)
class SkillNow:
    """What is known about one skill now. Rates per hour, times in seconds."""

    skill: str
    target_s: float
    level: float  # the share to answer within target_s
    waiting: int  # contacts waiting now
    staffed: int  # experts on duty who hold the skill
    nearby_spare: float  # idle experts one graph step away (capacity they could lend)
    aht_s: float  # mean time an expert is busy per contact, wrap-up included
    planned_per_hour: tuple[float, float]  # the plan for the next half-hour and the one after
    recent_arrivals: int  # contacts that arrived in the recent window
    recent_planned: float  # contacts the plan expected in that window
    flex: tuple[str, ...] = ()  # experts on duty with a related skill, who could flex in
    lent_erlangs: float = 0.0  # related skills' overflow its experts will take (``overflow``)


@dataclass(frozen=True, slots=True)
class Outlook:
    """The predicted service level of one skill over the next ``horizon_min`` minutes."""

    horizon_min: int
    per_hour: float
    agents: float
    service_level: float

    def to_json(self) -> dict[str, Any]:
        return {"horizon_min": self.horizon_min, "per_hour": round(self.per_hour, 1),
                "agents": round(self.agents, 1),
                "service_level": round(self.service_level, 3)}


@dataclass(frozen=True, slots=True)
class Forecast:
    skill: str
    level: float
    target_s: float
    deviation: float  # today's demand / the plan's, shrunk toward 1
    outlooks: tuple[Outlook, ...]
    more_experts: int = 0  # for the next half-hour, to meet the promise
    flex: tuple[str, ...] = field(default=())

    @property
    def breach(self) -> bool:
        return any(o.service_level < self.level for o in self.outlooks)

    def suggestion(self) -> str:
        """What a supervisor could do, in a sentence."""
        parts = []
        if self.more_experts > 0:
            parts.append(f"{self.more_experts} more expert{'s' if self.more_experts > 1 else ''}"
                         f" on {self.skill} for the next half-hour")
        if self.flex:
            names = ", ".join(self.flex[:5]) + (" and others" if len(self.flex) > 5 else "")
            parts.append(f"ask {names} (on duty, related skill) to flex in")
        return "; or ".join(parts) if parts else "no one on duty can help: call in cover"

    def to_json(self) -> dict[str, Any]:
        return {"skill": self.skill, "service_level_target": self.level,
                "target_s": self.target_s, "deviation": round(self.deviation, 2),
                "outlook": [o.to_json() for o in self.outlooks], "breach": self.breach,
                "more_experts": self.more_experts, "flex": list(self.flex),
                "suggestion": self.suggestion() if self.breach else None}


def deviation(recent_arrivals: int, recent_planned: float) -> float:
    """Today's demand against the plan: 1 within ``NOISE`` standard deviations of it, and the
    part beyond them otherwise."""
    if recent_arrivals < 0 or recent_planned < 0:
        raise InvalidInput("arrival counts must be >= 0")
    planned = max(PRIOR, recent_planned)
    noise = NOISE * math.sqrt(planned)
    if recent_arrivals > planned + noise:
        return (recent_arrivals - noise) / planned
    if recent_arrivals < planned - noise:
        return max(recent_arrivals + noise, 0.0) / planned
    return 1.0


def predicted_level(per_hour: float, aht_s: float, agents: float, waiting: int,
                    target_s: float, horizon_s: float) -> float:
    """The share of the horizon's arrivals answered within ``target_s`` (module docstring)."""
    if per_hour <= 0 and waiting == 0:
        return 1.0
    servers = math.floor(agents + 1e-9)
    erlangs = per_hour * aht_s / 3600
    if servers <= erlangs or servers < 1 or aht_s <= 0:
        return 0.0
    steady, queue = 1.0, 0.0
    if per_hour > 0:
        figures = erlang_c(per_hour, aht_s, servers, target_s)
        steady, queue = figures.service_level, figures.pw * erlangs / (servers - erlangs)
    tolerable = target_s * servers / aht_s  # contacts ahead that still leave an answer in time
    missing_s = max(0.0, waiting - queue - tolerable) * aht_s / (servers - erlangs)
    return steady * max(0.0, 1 - missing_s / horizon_s)


def demand(now: SkillNow) -> tuple[float, float, float]:
    """(today's deviation, the next half-hour's arrivals per hour, the one after's)."""
    ratio = deviation(now.recent_arrivals, now.recent_planned)
    first, second = (max(rate, 0.0) * ratio for rate in now.planned_per_hour)
    return ratio, first, second


def overflow(nows: Mapping[str, SkillNow], related: Mapping[str, Sequence[str]]
             ) -> dict[str, float]:
    """Erlangs each skill's experts can expect to carry for related skills (``related``: skill
    -> the skills one graph step away) whose next half-hour's demand exceeds their own staffed
    experts: the excess, shared among the related skills in proportion to their spare (staffed
    experts less their own demand)."""
    erlangs = {s: demand(n)[1] * n.aht_s / 3600 for s, n in nows.items()}
    spare = {s: max(0.0, n.staffed - erlangs[s]) for s, n in nows.items()}
    lent: dict[str, float] = {}
    for skill, now in nows.items():
        excess = erlangs[skill] - now.staffed
        helpers = [k for k in related.get(skill, ()) if k != skill and spare.get(k, 0.0) > 0]
        total = sum(spare[k] for k in helpers)
        if excess <= 0 or total <= 0:
            continue
        for k in helpers:
            lent[k] = lent.get(k, 0.0) + min(excess, total) * spare[k] / total
    return lent


def forecast_all(nows: Mapping[str, SkillNow], related: Mapping[str, Sequence[str]]
                 ) -> dict[str, Forecast]:
    """Every skill's outlook, each counting what its experts will lend (``overflow``)."""
    lent = overflow(nows, related)
    return {skill: forecast(replace(now, lent_erlangs=lent.get(skill, 0.0)))
            for skill, now in nows.items()}


def forecast(now: SkillNow) -> Forecast:
    """The skill's outlook for the next 30 and 60 minutes, and advice if it is heading for a
    breach."""
    ratio, first, second = demand(now)
    agents = max(now.staffed + max(now.nearby_spare, 0.0) - now.lent_erlangs, 0.0)
    outlooks = tuple(
        Outlook(minutes, rate, agents,
                predicted_level(rate, now.aht_s, agents, now.waiting, now.target_s,
                                minutes * 60.0))
        for minutes, rate in zip(HORIZONS_MIN, (first, (first + second) / 2), strict=True))
    found = Forecast(now.skill, now.level, now.target_s, ratio, outlooks)
    if not found.breach:
        return found
    return Forecast(now.skill, now.level, now.target_s, ratio, outlooks,
                    more_experts=_more_experts(first, now, agents), flex=now.flex)


def _more_experts(per_hour: float, now: SkillNow, agents: float) -> int:
    """Experts the next half-hour needs beyond ``agents`` to keep the promise."""
    if per_hour <= 0 or now.aht_s <= 0:
        return 0
    try:
        needed = staff(per_hour, now.aht_s, now.target_s, min(now.level, 0.999)).agents
    except InvalidInput:
        return 0
    backlog = math.ceil(now.waiting * now.aht_s / HALF_HOUR_S)  # to clear those waiting too
    return max(0, needed + backlog - math.floor(agents + 1e-9))
