"""What a waiting citizen is told: a wait they will probably not exceed, kept honest by what
actually happens.

``WaitEstimator.told(place, staffed)`` is the 80th percentile (``QUANTILE``) of the time until
``place`` sessions have ended among ``staffed`` experts, each session lasting an exponential
time with the mean of the recent handle times: the quantile of a Gamma(place, mean/staffed)
wait (Wilson-Hilferty's closed form, good to a few per cent from place 1). That model knows
nothing of experts one graph step away, escalation, wrap-up or who is free now, so the
estimator also keeps a correction factor, learned from every answered contact
(``learn(told, waited)``): a stochastic-approximation quantile tracker that nudges the factor
up when a citizen waited longer than they were told and down when not, so that in the long run
``QUANTILE`` of citizens wait no longer than they were told. The nudge starts large and
shrinks as answers accumulate (``EARLY_GAIN / sqrt(n)``, Robbins-Monro's decreasing gain) down
to ``STEP``, so the first few dozen answers correct a model that is far off (target escalation
makes waits much shorter than the exact skill's queue suggests, and then few citizens wait at
all), while a long run still follows a day that changes. Pure: no clock, no I/O.
"""

from __future__ import annotations

import math
from collections import deque

QUANTILE = 0.8
Z_QUANTILE = 0.8416212335729143  # the standard normal's 80th percentile
STEP = 0.1  # how far one answered contact moves the factor (in log terms), in the long run
EARLY_GAIN = 2.0  # the n-th answer moves it by max(STEP, EARLY_GAIN / sqrt(n))
MIN_HANDLE_SAMPLES = 5
MAX_FACTOR = 20.0


def gamma_quantile(shape: float, scale: float, z: float = Z_QUANTILE) -> float:
    """The quantile of Gamma(shape, scale) at the standard normal quantile ``z``
    (Wilson-Hilferty)."""
    root = 1 - 1 / (9 * shape) + z / (3 * math.sqrt(shape))
    return shape * scale * max(root, 0.0) ** 3


class WaitEstimator:
    """See the module docstring. ``note_handle(seconds)`` feeds the handle times."""

    def __init__(self, *, samples: int = 200, step: float = STEP) -> None:
        self._handle: deque[float] = deque(maxlen=samples)
        self._handle_sum = 0.0  # of the samples kept, so a wait is told in constant time
        self._log_factor = 0.0
        self._step = step
        self._learned = 0

    @property
    def factor(self) -> float:
        return math.exp(self._log_factor)

    def note_handle(self, seconds: float) -> None:
        if len(self._handle) == self._handle.maxlen:
            self._handle_sum -= self._handle[0]  # the oldest, about to be dropped
        self._handle.append(seconds)
        self._handle_sum += seconds

    def told(self, place: int | None, staffed: int) -> float | None:
        """Seconds to tell the contact at ``place`` (1 = next) of a skill ``staffed`` experts
        work on now; None without enough handle times or when nobody works on it."""
        if place is None or place < 1 or staffed < 1 or len(self._handle) < MIN_HANDLE_SAMPLES:
            return None
        mean = self._handle_sum / len(self._handle)
        return round(gamma_quantile(place, mean / staffed) * self.factor, 0)

    def learn(self, told: float, waited: float) -> None:
        """A contact told ``told`` seconds was answered after ``waited``."""
        over = 1.0 if waited > told else 0.0
        self._learned += 1
        gain = max(self._step, EARLY_GAIN / math.sqrt(self._learned))
        self._log_factor += gain * (over - (1 - QUANTILE))
        self._log_factor = min(max(self._log_factor, -math.log(MAX_FACTOR)),
                               math.log(MAX_FACTOR))
