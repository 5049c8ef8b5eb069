"""Random contacts for one demand stream: Poisson arrivals, handle times and patience.

Each stream draws from its own ``random.Random`` seeded by (scenario seed, stream index), and
draws everything about a contact when it arrives (next gap, handle time, patience) in a fixed
order. So the same seed gives every policy exactly the same contacts (common random numbers),
whatever the routing does, and runs are reproducible across processes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from simulator.scenario import Demand, quantize, stream_window

INF = math.inf


@dataclass(frozen=True, slots=True)
class Arrival:
    """One contact as drawn: when it arrives, how long it takes, when the citizen gives up
    (``inf`` = never)."""

    at: float
    handle_s: float
    abandon_at: float


class Stream:
    """A demand stream's random source; ``next()`` gives arrivals in time order, then None."""

    __slots__ = ("_end", "_handle", "_mean_gap", "_patience", "_rng", "_t", "demand", "index")

    def __init__(self, demand: Demand, index: int, seed: int) -> None:
        self.demand = demand
        self.index = index
        self._rng = random.Random(f"expertline-sim/{seed}/{index}")
        start, self._end = stream_window(demand)
        self._t = start
        self._mean_gap = 3600.0 / demand.per_hour
        self._patience = demand.patience_s
        self._handle = handle_sampler(demand, self._rng)

    def __repr__(self) -> str:
        return f"<Stream {self.index} {self.demand.skill} t={self._t:.1f}>"

    def next(self) -> Arrival | None:
        rng = self._rng
        self._t += rng.expovariate(1.0) * self._mean_gap
        at = quantize(self._t)
        if at >= self._end:
            return None
        handle_s = self._handle()
        patience = self._patience
        abandon_at = (INF if patience is None
                      else at + quantize(rng.expovariate(1.0) * patience))
        return Arrival(at, handle_s, abandon_at)


def handle_sampler(demand: Demand, rng: random.Random) -> Callable[[], float]:
    """A function drawing handle times (seconds, quantized) for ``demand``: exponential, or
    lognormal with the stream's mean and coefficient of variation."""
    mean = demand.aht_s
    if demand.handle == "lognormal":
        sigma2 = math.log1p((demand.cv or 0.0) ** 2)
        mu, sigma = math.log(mean) - sigma2 / 2, math.sqrt(sigma2)
        return lambda: quantize(rng.lognormvariate(mu, sigma))
    return lambda: quantize(rng.expovariate(1.0) * mean)
