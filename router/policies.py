"""Routing policies: which skills and proficiencies are acceptable when, how experts are scored
and how waiting contacts are ordered.

* ``exact`` — the siloed baseline: the exact skill only, any proficiency, no escalation; contacts
  by priority then age (no aging); the longest-idle expert.
* ``graph`` — bullseye escalation: the contact's wait picks the step; substitute skills within
  the step's ``max_cost`` from experts at or above its ``min_proficiency``; the best ``score``
  wins; contacts by effective priority (priority + aging x wait) then age.
* ``optimal`` — ``graph``, but when several contacts and experts are free at once the batch is
  solved as a maximum-weight assignment (``assign``).

The score of expert *e* for contact *c* through skill *s* (substitution cost *d*)::

    score = w.proficiency * level / 5              match quality: proficiency in s
          - w.cost * d                             match quality: distance in the skills graph
          + w.idle * min(idle_s, idle_cap_s) / idle_cap_s     longest idle first
          - w.occupancy * load / capacity          occupancy balance (chats in progress)
          + w.extra * share of c's extra skills e holds

Effective priority is ``priority + aging * wait``; since ``aging * now`` is common to every
contact, ordering by ``(-(priority - aging * arrived_at), arrived_at, seq)`` is the same order
at every instant, so queues keep a static key and a contact keeps its place.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping

from router.escalation import schedule
from router.model import MAX_PROFICIENCY, ContactSpec, RoutingConfig, ScoreWeights, Step

COST_EPSILON = 1e-9
EXACT_WEIGHTS = ScoreWeights(proficiency=0.0, cost=0.0, idle=1.0, occupancy=0.0, extra=0.0,
                             idle_cap_s=86_400.0)
EXACT_STEPS = (Step(0, 0.0, 1),)
INFEASIBLE = -1e9

QueueKey = tuple[float, float, int, str]


class Policy:
    """A named policy with its steps and weights precomputed for the hot path. Immutable."""

    __slots__ = ("_after", "_schedules", "aging_per_s", "batch", "by_target", "default_target_s",
                 "floor_step", "max_cost", "name", "steps", "substitutes", "targets", "weights")

    def __init__(self, name: str, steps: tuple[Step, ...], weights: ScoreWeights,
                 aging_per_s: float, *, substitutes: bool, batch: bool,
                 targets: Mapping[str, float] | None = None,
                 default_target_s: float = 20.0) -> None:
        self.name = name
        # target escalation (router.escalation): steps come due at shares of each skill's
        # target; None keeps the fixed ``after_s`` of every step
        self.by_target = targets is not None and len(steps) > 1
        self.targets = dict(targets or {})
        self.default_target_s = default_target_s
        self._schedules: dict[str, list[float]] = {}
        self.steps = steps
        self.weights = weights
        self.aging_per_s = aging_per_s
        self.substitutes = substitutes
        self.batch = batch
        self.max_cost = steps[-1].max_cost
        self._after = [step.after_s for step in steps]
        # floor_step[p]: the first step whose proficiency floor admits level p (None = never)
        self.floor_step: list[int | None] = [
            next((k for k, s in enumerate(steps) if p >= s.min_proficiency), None)
            for p in range(MAX_PROFICIENCY + 1)]

    def __repr__(self) -> str:
        return f"Policy({self.name!r}, steps={len(self.steps)}, batch={self.batch})"

    def target_of(self, skill: str) -> float:
        """The service-level target (seconds) of contacts asking for ``skill``."""
        return self.targets.get(skill, self.default_target_s)

    def schedule(self, skill: str) -> list[float]:
        """The waits at which a contact for ``skill`` reaches each step."""
        if not self.by_target:
            return self._after
        found = self._schedules.get(skill)
        if found is None:
            found = self._schedules[skill] = list(schedule(self.target_of(skill),
                                                           len(self.steps)))
        return found

    def step_for(self, arrived_at: float, now: float, skill: str = "") -> int:
        """The step of a contact for ``skill`` that arrived at ``arrived_at``, at ``now``:
        exactly the steps whose wake-up time ``arrived_at + after`` (as scheduled) has come.
        Bisecting the wait ``now - arrived_at`` alone can round below a step that is due, and
        the step would be rescheduled for the same instant forever."""
        after = self.schedule(skill)
        step = max(bisect_right(after, now - arrived_at) - 1, 0)
        while step + 1 < len(after) and arrived_at + after[step + 1] <= now:
            step += 1
        while step > 0 and arrived_at + after[step] > now:
            step -= 1
        return step

    def next_step_after(self, step: int, skill: str = "") -> float | None:
        """Wait at which a contact for ``skill`` reaches the step after ``step`` (None at the
        last)."""
        after = self.schedule(skill)
        return after[step + 1] if step + 1 < len(after) else None

    def max_cost_at(self, step: int) -> float:
        return self.steps[step].max_cost + COST_EPSILON

    def queue_key(self, spec: ContactSpec, seq: int) -> QueueKey:
        """The contact's static place in every queue (smaller is served first)."""
        return (-(spec.priority - self.aging_per_s * spec.arrived_at), spec.arrived_at, seq,
                spec.id)

    def effective_priority(self, spec: ContactSpec, now: float) -> float:
        return spec.priority + self.aging_per_s * max(now - spec.arrived_at, 0.0)

    def score(self, proficiency: int, cost: float, idle_s: float, load: int, capacity: int,
              extra_share: float) -> float:
        """The match score (formula in the module docstring)."""
        w = self.weights
        occupancy = load / capacity if capacity else 0.0
        return (w.proficiency * proficiency / 5 - w.cost * cost
                + w.idle * min(max(idle_s, 0.0), w.idle_cap_s) / w.idle_cap_s
                - w.occupancy * occupancy + w.extra * extra_share)


def make_policy(config: RoutingConfig) -> Policy:
    """The policy named by ``config.policy``."""
    if config.policy == "exact":
        return Policy("exact", EXACT_STEPS, EXACT_WEIGHTS, 0.0, substitutes=False, batch=False)
    aging = config.priority_aging_per_min / 60.0
    targets = dict(config.targets) if config.escalation == "target" else None
    return Policy(config.policy, config.steps, config.weights, aging, substitutes=True,
                  batch=config.policy == "optimal", targets=targets,
                  default_target_s=config.target_s)


def assign(weights: list[list[float | None]]) -> list[tuple[int, int]]:
    """Maximum-weight assignment of rows (contacts) to columns (experts); ``None`` marks a pair
    that is not allowed. Serves as many rows as possible first, then maximises the weight."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    matrix = np.array([[INFEASIBLE if w is None else w for w in row] for row in weights],
                      dtype=float)
    rows, cols = linear_sum_assignment(matrix, maximize=True)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True)
            if weights[r][c] is not None]
