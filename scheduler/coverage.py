"""Coverage (pure): forecast demand against the rota, per skill and interval.

For each interval of a forecast day and each skill: the forecast contacts, the agents Erlang C
says the target needs (``scheduler.erlang.staff``), the experts scheduled who hold the skill,
and the gap (scheduled - required; negative means short).

Multi-skilled experts are counted once, not once per skill: an expert's working fraction of the
interval (time on shift, less breaks, over the interval's length) is split across the skills
they hold in proportion to those skills' required agents in that interval; when none of their
skills needs anyone it is split evenly. So the ``scheduled`` column sums, over skills, to the
staffed expert-intervals, and a generalist goes where the demand is. ``heads`` is the plain
count of experts on shift holding the skill, for reference.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from scheduler import erlang
from scheduler.forecast import Forecast
from scheduler.rota import Shift

DEFAULT_AHT_S = 600.0


@dataclass(frozen=True)
class Target:
    service_level: float = 0.8
    target_s: float = 20.0


@dataclass(frozen=True)
class Cell:
    """One skill in one interval."""

    skill: str
    start: datetime
    contacts: float
    required: int
    scheduled: float
    heads: int

    @property
    def gap(self) -> float:
        return self.scheduled - self.required

    def to_json(self) -> dict[str, Any]:
        return {"skill": self.skill, "start": self.start.isoformat(),
                "contacts": round(self.contacts, 3), "required": self.required,
                "scheduled": round(self.scheduled, 3), "heads": self.heads,
                "gap": round(self.gap, 3)}


def working_fraction(shifts: Iterable[Shift], start: datetime, end: datetime) -> float:
    """The part of ``[start, end)`` worked in ``shifts`` (breaks excluded), 0..1."""
    worked = timedelta()
    for shift in shifts:
        part = shift.clipped(start, end)
        if part is not None:
            worked += part.duration - part.break_time
    return min(1.0, worked / (end - start))


def required_agents(contacts: float, interval_min: int, aht_s: float, target: Target) -> int:
    per_hour = contacts * 60 / interval_min
    return erlang.staff(per_hour, aht_s, target.target_s, target.service_level).agents


def coverage(forecast: Forecast, shifts: Iterable[Shift], holds: Mapping[str, frozenset[str]],
             *, target: Target, aht_s: Mapping[str, float] | None = None,
             targets: Mapping[str, Target] | None = None) -> list[Cell]:
    """Cells for every interval of ``forecast`` and every forecast skill.

    ``holds`` maps each (active) expert to the skills they hold; ``aht_s`` the mean handle time
    per skill (``DEFAULT_AHT_S`` when absent); ``targets`` a skill's own service target (else
    ``target``).
    """
    aht = aht_s or {}
    own = targets or {}
    by_expert: dict[str, list[Shift]] = {}
    for shift in shifts:
        by_expert.setdefault(shift.expert_id, []).append(shift)
    step = timedelta(minutes=forecast.interval_min)
    cells: list[Cell] = []
    for i, start in enumerate(forecast.intervals):
        demand = {s: c[i] for s, c in forecast.contacts.items()}
        required = {s: required_agents(c, forecast.interval_min, aht.get(s, DEFAULT_AHT_S),
                                       own.get(s, target)) for s, c in demand.items()}
        share, heads = _shares(by_expert, holds, required, start, start + step)
        cells += [Cell(s, start, demand[s], required[s], share.get(s, 0.0), heads.get(s, 0))
                  for s in sorted(demand)]
    return cells


def _shares(by_expert: Mapping[str, list[Shift]], holds: Mapping[str, frozenset[str]],
            required: Mapping[str, int], start: datetime,
            end: datetime) -> tuple[dict[str, float], dict[str, int]]:
    share: dict[str, float] = {}
    heads: dict[str, int] = {}
    for expert_id, mine in by_expert.items():
        skills = sorted(holds.get(expert_id, frozenset()) & set(required))
        fraction = working_fraction(mine, start, end) if skills else 0.0
        if fraction <= 0:
            continue
        load = sum(required[s] for s in skills)
        for s in skills:
            weight = required[s] / load if load else 1 / len(skills)
            share[s] = share.get(s, 0.0) + fraction * weight
            heads[s] = heads.get(s, 0) + 1
    return share, heads
