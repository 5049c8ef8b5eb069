"""What a run measures (docs/simulator.md, "What a run reports"), over contacts arriving in
[warmup, duration):

* ``service_level`` = answered within the target / (answered + abandoned);
* ``asa_s`` = mean wait (arrival to connection, accept delay included) of answered contacts;
* ``abandon_rate`` = abandoned / offered;
* ``p_wait`` = share of answered or abandoned contacts that queued at all (waited longer than
  the accept delay);
* ``occupancy`` = busy expert time / staffed expert time in [warmup, duration), where staffed is
  any state but offline and busy is in a session or wrap-up (an expert with one chat of three
  is busy);
* ``unserved`` = measured contacts still waiting when the run ended (nobody could take them);
* ``exact_share`` = answered contacts served through their own skill / answered, and
  ``mean_substitution_cost`` = the mean skills-graph cost of the match over answered contacts
  (0 for an exact match): the match quality pooling paid for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from router.model import ExpertState

BUSY_STATES = frozenset({ExpertState.BUSY, ExpertState.WRAPUP})


@dataclass(frozen=True, slots=True)
class Figures:
    """Contact figures for one skill, or for all of them."""

    offered: int
    answered: int
    abandoned: int
    unserved: int
    service_level: float
    asa_s: float
    abandon_rate: float
    p_wait: float
    exact_share: float = 1.0
    mean_substitution_cost: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"offered": self.offered, "answered": self.answered,
                "abandoned": self.abandoned, "unserved": self.unserved,
                "service_level": self.service_level, "asa_s": self.asa_s,
                "abandon_rate": self.abandon_rate, "p_wait": self.p_wait,
                "exact_share": self.exact_share,
                "mean_substitution_cost": self.mean_substitution_cost}


class Tally:
    """Running counts for one skill (mutable, internal to a run)."""

    __slots__ = ("abandoned", "answered", "cost_sum", "exact", "offered", "queued", "unserved",
                 "wait_sum", "within")

    def __init__(self) -> None:
        self.offered = self.answered = self.abandoned = self.unserved = 0
        self.within = self.queued = self.exact = 0
        self.wait_sum = self.cost_sum = 0.0

    def add(self, other: Tally) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def figures(self) -> Figures:
        ended = self.answered + self.abandoned
        return Figures(
            offered=self.offered, answered=self.answered, abandoned=self.abandoned,
            unserved=self.unserved,
            service_level=self.within / ended if ended else 1.0,
            asa_s=self.wait_sum / self.answered if self.answered else 0.0,
            abandon_rate=self.abandoned / self.offered if self.offered else 0.0,
            p_wait=self.queued / ended if ended else 0.0,
            exact_share=self.exact / self.answered if self.answered else 1.0,
            mean_substitution_cost=self.cost_sum / self.answered if self.answered else 0.0)


class Occupancy:
    """Staffed and busy time per expert, clipped to the measured window, from the core's
    ``ExpertStateChanged`` commands."""

    __slots__ = ("_busy", "_hi", "_lo", "_since", "_staffed", "_state", "_team_of")

    def __init__(self, window: tuple[float, float], team_of: dict[str, str]) -> None:
        self._lo, self._hi = window
        self._team_of = team_of
        self._state: dict[str, ExpertState] = {}
        self._since: dict[str, float] = {}
        self._busy: dict[str, float] = dict.fromkeys(team_of.values(), 0.0)
        self._staffed: dict[str, float] = dict.fromkeys(team_of.values(), 0.0)

    def change(self, expert_id: str, state: ExpertState, now: float) -> None:
        self._close(expert_id, now)
        self._state[expert_id] = state
        self._since[expert_id] = now

    def _close(self, expert_id: str, now: float) -> None:
        old = self._state.get(expert_id)
        if old is None or old is ExpertState.OFFLINE:
            return
        span = min(now, self._hi) - max(self._since[expert_id], self._lo)
        if span <= 0:
            return
        team = self._team_of[expert_id]
        self._staffed[team] += span
        if old in BUSY_STATES:
            self._busy[team] += span

    def finish(self, now: float) -> None:
        for expert_id in list(self._state):
            self.change(expert_id, ExpertState.OFFLINE, now)

    def by_team(self) -> dict[str, tuple[float, float]]:
        """Team -> (busy seconds, staffed seconds)."""
        return {team: (busy, self._staffed[team]) for team, busy in self._busy.items()}


@dataclass(frozen=True, slots=True)
class TeamFigures:
    experts: int
    occupancy: float
    staffed_h: float


@dataclass(frozen=True)
class Metrics:
    """The result of one run (``to_json`` is the shape docs/simulator.md documents)."""

    policy: str
    seed: int
    overall: Figures
    occupancy: float
    by_skill: dict[str, Figures]
    by_team: dict[str, TeamFigures] = field(default_factory=dict)
    contacts: int = 0  # every contact simulated, warm-up included
    wall_s: float = 0.0
    # of the measured contacts told a wait and then answered: the share whose wait stayed
    # within what they were told, and the median of (waited - told); None when none were
    wait_estimate_calibration: float | None = None
    wait_estimate_median_error_s: float | None = None
    escalation: str = "fixed"  # the routing config's (router.escalation); "none" for exact
    breach_forecast: dict[str, Any] | None = None  # simulator.breach, when forecast_every_s

    @property
    def contacts_per_min_wall(self) -> float:
        return self.contacts / self.wall_s * 60 if self.wall_s > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "escalation": self.escalation,
            **self.overall.to_json(),
            "occupancy": self.occupancy,
            "by_skill": {k: v.to_json() for k, v in self.by_skill.items()},
            "by_team": {k: {"experts": v.experts, "occupancy": v.occupancy,
                            "staffed_h": v.staffed_h} for k, v in self.by_team.items()},
            "seed": self.seed,
            "contacts": self.contacts,
            "wall_s": self.wall_s,
            "contacts_per_min_wall": self.contacts_per_min_wall,
            "wait_estimate_calibration": self.wait_estimate_calibration,
            "wait_estimate_median_error_s": self.wait_estimate_median_error_s,
            **({"breach_forecast": self.breach_forecast} if self.breach_forecast else {}),
        }
