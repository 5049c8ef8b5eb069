"""Target-aware escalation: when a waiting contact's radius widens, from what is known now.

With fixed escalation a contact reaches step *k* after ``steps[k].after_s`` of waiting, whatever
its skill promises. With target escalation (``RoutingConfig.escalation = "target"``) the same
rings (``max_cost``, ``min_proficiency``) are reached on a schedule scaled to the service-level
target *T* of the contact's skill (``schedule``: step 1 at 0.4 T, step 2 at 0.75 T, step 3 at
1.5 T, each later one at twice the one before), and ``adapt`` moves a contact off that schedule
while *T* can still be met:

* **widen early** when the likely wait at the current radius is longer than the time left to
  *T* and an expert at a wider radius is free now: the contact goes straight to the narrowest
  step with someone free, rather than missing its target while a colleague one graph step away
  sits idle;
* **hold** when the schedule says widen but the likely wait at the current radius still fits
  in the time left: the contact stays at its exact match (match quality is kept where the load
  allows it) and is looked at again when the time left is down to that likely wait;
* once *T* has passed the schedule rules, as with fixed steps.

The likely wait at radius *k* is the 90th percentile (``LIKELY``) of the time until ``ahead``
contacts in front and then this one have been taken by ``staffed`` experts (every holder of a
skill within *k*'s radius who is signed in), each busy for an exponential time with the mean a
session and its wrap-up take (``busy``, learned by the core from the sessions it has seen): a
Gamma(ahead + 1, busy / staffed) wait; and 0 when someone is free at that radius now. A
percentile, not the mean: a contact held back on a mean that just fits misses its target about
a third of the time. Pure and cheap: the caller hands in what it knows as plain numbers and
functions.
"""

from __future__ import annotations

from collections.abc import Callable

from router.estimate import gamma_quantile

FRACTIONS = (0.4, 0.75, 1.5)
"""Of the skill's target: the waits at which steps 1, 2, 3 come due; later steps double."""
MIN_TARGET_S = 1.0
TICKS_PER_S = 1024
"""Due times are multiples of 1/1024 s: exact floats, as the simulator's clock is."""
LOOK_AGAIN_S = 1.0
"""A held contact is looked at again no sooner than this: within it of its target, widen."""
LIKELY = 1.2815515655446004
"""The standard normal's 90th percentile: how sure a hold must be that the target is met."""
BUSY_SMOOTHING = 0.02
"""Weight of the newest session in the core's running mean of the time an expert is busy."""


def schedule(target_s: float, steps: int) -> tuple[float, ...]:
    """The waits (seconds) at which each of ``steps`` rings comes due for target ``target_s``."""
    target = max(target_s, MIN_TARGET_S)
    after = [0.0]
    for k in range(1, steps):
        share = FRACTIONS[k - 1] if k <= len(FRACTIONS) else FRACTIONS[-1] * 2 ** (
            k - len(FRACTIONS))
        after.append(round(target * share * TICKS_PER_S) / TICKS_PER_S)
    return tuple(after)


def likely_wait(ahead: int, busy_s: float, staffed: int) -> float:
    """Seconds within which ``ahead`` contacts and then this one are likely (``LIKELY``) to be
    taken by ``staffed`` busy experts (infinite when nobody is staffed)."""
    if staffed <= 0:
        return float("inf")
    return gamma_quantile(ahead + 1, busy_s / staffed, LIKELY)


def adapt(step: int, due: int, last: int, waited: float, target_s: float,
          likely: Callable[[int], float], free_at: Callable[[int], bool]
          ) -> tuple[int, float | None]:
    """The step a contact at ``step`` should be at now that the schedule says ``due``, and the
    wait at which to look again before the schedule's next step (None: no sooner).

    ``likely(k)`` is the likely wait at step ``k``'s radius, ``free_at(k)`` whether an
    expert at that radius is free now; ``last`` is the widest step."""
    left = target_s - waited
    if left <= 0:
        return max(step, due), None
    wait_here = likely(step)
    if wait_here > left - LOOK_AGAIN_S:
        for wider in range(step + 1, last + 1):
            if free_at(wider):
                return max(wider, due), None
        return max(step, due), None
    if due > step:
        return step, target_s - wait_here
    return step, None
