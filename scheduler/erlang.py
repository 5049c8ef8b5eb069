"""Staffing maths: Erlang C (callers wait forever) and Erlang A (callers give up).

Pure functions of plain numbers (stdlib ``math`` only). Inputs follow the CLI's units: arrival rates
per hour, times in seconds, fractions in 0..1.

Numerics: the Erlang B recursion is carried in log space (``log(1/B)``), and Erlang A's queue
tail is the series ``sum_k y^k / ((x+1)...(x+k))`` (a lower incomplete gamma function), summed
directly or through its continued fraction, also in log space. Nothing is a factorial, so pools
of thousands of agents cost a few thousand flops and never overflow.

Erlang A (Palm's M/M/N+M) with ``x = N*mu/theta`` and ``y = lambda/theta`` (theta = 1/patience):

* ``P(wait) = S / (1/B - 1 + S)`` with ``S = tail(x, y)`` and ``B`` the Erlang B blocking;
* ``P(abandon | wait) = 1 - (x/y) * (1 - 1/S)``;
* ``P(answered within T | wait) = x*S(x+1, y)/((x+1)*S(x, y)) * (1 - r)`` where
  ``r = S(x+1, w)/S(x+1, y) * exp(y - w - (x+1)*theta*T)`` and ``w = y*exp(-theta*T)``;
* the mean wait of answered callers is the mean of the density ``exp(-(N*mu+theta)*t + y*(1 -
  exp(-theta*t)))`` on ``t >= 0``, integrated numerically (it has no elementary closed form).

Service level counts contacts answered within the target over all contacts offered (as the
simulator does: abandoned contacts are in the denominator); ``asa_s`` is the mean wait of
answered contacts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from base.errors import InvalidInput

_EPS = 1e-16
_TINY = 1e-300
_MAX_TERMS = 10_000_000
_SIMPSON_STEPS = 2048
MAX_AGENTS = 1_000_000


@dataclass(frozen=True)
class ErlangC:
    """Figures for one staffing level when callers never give up."""

    traffic_erlangs: float
    pw: float
    service_level: float
    asa_s: float
    occupancy: float

    def to_json(self) -> dict[str, float]:
        return {"traffic_erlangs": self.traffic_erlangs, "pw": self.pw,
                "service_level": self.service_level, "asa_s": self.asa_s,
                "occupancy": self.occupancy}


@dataclass(frozen=True)
class ErlangA(ErlangC):
    """Figures for one staffing level with exponential patience."""

    abandon_rate: float

    def to_json(self) -> dict[str, float]:
        return {**super().to_json(), "abandon_rate": self.abandon_rate}


@dataclass(frozen=True)
class Staffing:
    """The fewest agents meeting a service-level target, and the figures at that staffing."""

    agents: int
    figures: ErlangC | ErlangA

    def to_json(self) -> dict[str, Any]:
        return {"agents": self.agents, **self.figures.to_json()}


# -- validation ---------------------------------------------------------------------------------

def _check(name: str, value: float, *, positive: bool = False) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value):
        raise InvalidInput(f"{name} must be a number", field=name)
    if value < 0 or (positive and value == 0):
        need = "greater than 0" if positive else "0 or more"
        raise InvalidInput(f"{name} must be {need}, not {value:g}", field=name)
    return float(value)


def _check_common(per_hour: float, aht_s: float, target_s: float) -> None:
    _check("per_hour", per_hour)
    if math.isinf(per_hour):
        raise InvalidInput("per_hour must be finite", field="per_hour")
    _check("aht_s", aht_s, positive=True)
    if math.isinf(aht_s):
        raise InvalidInput("aht_s must be finite", field="aht_s")
    _check("target_s", target_s)


def _check_agents(agents: int) -> int:
    if not isinstance(agents, int) or isinstance(agents, bool) or agents < 1:
        raise InvalidInput(f"agents must be a whole number of at least 1, not {agents!r}",
                           field="agents")
    return agents


def _check_patience(patience_s: float) -> float:
    return _check("patience_s", patience_s, positive=True)


def traffic(per_hour: float, aht_s: float) -> float:
    """Offered load in Erlangs: arrivals per second times mean handle time."""
    return per_hour / 3600.0 * aht_s


# -- Erlang B / C -------------------------------------------------------------------------------

def _log_inv_erlang_b(traffic_erlangs: float, agents: int) -> float:
    """``log(1/B(agents, traffic))`` by the recursion ``1/B(n) = 1 + n/A * 1/B(n-1)``."""
    log_a = math.log(traffic_erlangs)
    value = 0.0
    for n in range(1, agents + 1):
        step = math.log(n) - log_a + value
        value = step + math.log1p(math.exp(-step)) if step > 0 else math.log1p(math.exp(step))
    return value


def erlang_b(traffic_erlangs: float, agents: int) -> float:
    """Blocking probability of an M/M/N/N loss system (stable for thousands of agents)."""
    _check("traffic_erlangs", traffic_erlangs)
    if agents < 0:
        raise InvalidInput("agents must be 0 or more", field="agents")
    if traffic_erlangs == 0:
        return 0.0 if agents else 1.0
    return math.exp(-_log_inv_erlang_b(traffic_erlangs, agents))


def _sigmoid_of_log_ratio(log_ratio: float) -> float:
    """``1 / (1 + exp(log_ratio))`` without overflow."""
    if log_ratio > 0:
        e = math.exp(-log_ratio)
        return e / (1.0 + e)
    return 1.0 / (1.0 + math.exp(log_ratio))


def _erlang_c_pw(a: float, agents: int) -> float:
    """``C = 1 / (rho + (1 - rho) / B)``, computed from ``log(1/B)``."""
    rho = a / agents
    log_rest = math.log1p(-rho) + _log_inv_erlang_b(a, agents)
    if log_rest > 700:
        return 0.0
    return 1.0 / (rho + math.exp(log_rest))


def erlang_c(per_hour: float, aht_s: float, agents: int, target_s: float) -> ErlangC:
    """Erlang C figures for ``agents`` answering ``per_hour`` contacts of mean length ``aht_s``.

    Raises InvalidInput when ``agents`` do not exceed the traffic: the queue would grow forever.
    """
    _check_common(per_hour, aht_s, target_s)
    _check_agents(agents)
    a = traffic(per_hour, aht_s)
    if a == 0:
        return ErlangC(0.0, 0.0, 1.0, 0.0, 0.0)
    if agents <= a:
        raise InvalidInput(
            f"{agents} agents cannot carry {a:.4g} Erlangs: the queue is unstable without more "
            f"agents than Erlangs (try Erlang A with a patience)", field="agents")
    pw = _erlang_c_pw(a, agents)
    sl = 1.0 - pw * math.exp(-(agents - a) * target_s / aht_s)
    asa = pw * aht_s / (agents - a)
    return ErlangC(a, pw, min(1.0, max(0.0, sl)), asa, a / agents)


# -- Erlang A -----------------------------------------------------------------------------------

def _log_tail_series(a: float, z: float) -> float:
    total, term, k = 1.0, 1.0, 0
    while term > total * _EPS and k < _MAX_TERMS:
        k += 1
        term *= z / (a + k)
        total += term
    return math.log(total)


def _upper_gamma_cf(a: float, z: float) -> float:
    """Continued fraction ``h`` with ``Gamma(a, z) = exp(-z) * z**a * h`` (modified Lentz)."""
    b = z + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_TERMS):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = _TINY if abs(d) < _TINY else d
        c = b + an / c
        c = _TINY if abs(c) < _TINY else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return h


def _log_tail(a: float, z: float) -> float:
    """``log(sum_{k>=0} z**k / ((a+1)(a+2)...(a+k)))`` for ``a > 0``, ``z >= 0``.

    The sum equals ``a * z**-a * exp(z) * lower_gamma(a, z)``: summed directly while its terms
    shrink from the start (``z < a + 1``), otherwise from the upper gamma's continued fraction.
    """
    if z == 0:
        return 0.0
    if z < a + 1:
        return _log_tail_series(a, z)
    big = math.lgamma(a + 1) + z - a * math.log(z)
    return big + math.log1p(-a * _upper_gamma_cf(a, z) * math.exp(-big))


@dataclass(frozen=True)
class _Palm:
    """The M/M/N+M queue in the units of the patience rate theta."""

    agents: int
    a: float  # offered Erlangs
    n_mu: float  # N * service rate, per second
    lam: float  # arrivals per second
    theta: float  # abandonment rate per second

    @property
    def x(self) -> float:
        return self.n_mu / self.theta

    @property
    def y(self) -> float:
        return self.lam / self.theta

    def pw(self, log_s: float) -> float:
        log_rest = math.log(self.agents / self.a) + _log_inv_erlang_b(self.a, self.agents - 1)
        return _sigmoid_of_log_ratio(log_rest - log_s)

    def served_given_wait(self, log_s: float) -> float:
        return min(1.0, self.x / self.y * -math.expm1(-log_s))

    def served_within_given_wait(self, log_s: float, target_s: float) -> float:
        x, y = self.x, self.y
        log_s1 = _log_tail(x + 1, y)
        head = math.log(x / (x + 1)) + log_s1 - log_s
        if math.isinf(target_s):
            return math.exp(head)
        w = y * math.exp(-self.theta * target_s)
        log_r = _log_tail(x + 1, w) - log_s1 + (y - w) - (x + 1) * self.theta * target_s
        return math.exp(head) * -math.expm1(min(0.0, log_r))

    def served_wait_mean(self) -> float:
        """Mean wait of callers who waited and were answered (Simpson on a log-concave density)."""
        rate, lam, theta = self.n_mu + self.theta, self.lam, self.theta

        def g(t: float) -> float:
            return -rate * t - lam / theta * math.expm1(-theta * t)

        mode = math.log(lam / rate) / theta if lam > rate else 0.0
        slope = rate - lam * math.exp(-theta * mode)
        curvature = lam * theta * math.exp(-theta * mode)
        scale = 1.0 / max(slope, math.sqrt(curvature))
        lo, hi = _bracket(g, mode, scale)
        return _density_mean(g, lo, hi, g(mode))


def _bracket(g: Callable[[float], float], mode: float, scale: float) -> tuple[float, float]:
    """An interval around ``mode`` outside which ``exp(g)`` is below ``exp(g(mode) - 60)``."""
    floor = g(mode) - 60.0
    step = scale
    hi = mode + step
    while g(hi) > floor:
        step *= 2.0
        hi = mode + step
    step, lo = scale, mode
    while lo > 0 and g(lo) > floor:
        lo = max(0.0, mode - step)
        step *= 2.0
    return lo, hi


def _density_mean(g: Callable[[float], float], lo: float, hi: float, peak: float) -> float:
    """Mean of the density proportional to ``exp(g)`` on ``[lo, hi]`` by composite Simpson."""
    h = (hi - lo) / _SIMPSON_STEPS
    mass = moment = 0.0
    for i in range(_SIMPSON_STEPS + 1):
        t = lo + i * h
        weight = 1 if i in (0, _SIMPSON_STEPS) else (4 if i % 2 else 2)
        f = weight * math.exp(g(t) - peak)
        mass += f
        moment += f * t
    return moment / mass


def erlang_a(per_hour: float, aht_s: float, agents: int, target_s: float,
             patience_s: float) -> ErlangA:
    """Erlang A (M/M/N+M) figures: callers abandon after an exponential patience of mean
    ``patience_s``. Any number of agents is stable; ``patience_s=inf`` gives Erlang C."""
    _check_common(per_hour, aht_s, target_s)
    _check_agents(agents)
    _check_patience(patience_s)
    a = traffic(per_hour, aht_s)
    if a == 0:
        return ErlangA(0.0, 0.0, 1.0, 0.0, 0.0, 0.0)
    if math.isinf(patience_s):
        c = erlang_c(per_hour, aht_s, agents, target_s)
        return ErlangA(c.traffic_erlangs, c.pw, c.service_level, c.asa_s, c.occupancy, 0.0)
    palm = _Palm(agents, a, agents / aht_s, per_hour / 3600.0, 1.0 / patience_s)
    log_s = _log_tail(palm.x, palm.y)
    pw = palm.pw(log_s)
    served_w = palm.served_given_wait(log_s)
    abandon = pw * (1.0 - served_w)
    answered = 1.0 - abandon
    sl = (1.0 - pw) + pw * palm.served_within_given_wait(log_s, target_s)
    waited_answered = pw * served_w
    asa = waited_answered * palm.served_wait_mean() / answered if waited_answered > 0 else 0.0
    return ErlangA(a, pw, min(1.0, max(0.0, sl)), asa, a * answered / agents, abandon)


def _service_level_a(per_hour: float, aht_s: float, agents: int, target_s: float,
                     patience_s: float) -> float:
    """Erlang A service level alone (no mean-wait integral): the staffing search's probe."""
    palm = _Palm(agents, traffic(per_hour, aht_s), agents / aht_s, per_hour / 3600.0,
                 1.0 / patience_s)
    log_s = _log_tail(palm.x, palm.y)
    pw = palm.pw(log_s)
    return (1.0 - pw) + pw * palm.served_within_given_wait(log_s, target_s)


# -- staffing -----------------------------------------------------------------------------------

def staff(per_hour: float, aht_s: float, target_s: float, service_level: float,
          patience_s: float | None = None) -> Staffing:
    """The fewest agents whose service level (answered within ``target_s``) reaches
    ``service_level``: Erlang C, or Erlang A when ``patience_s`` is given.

    ``service_level`` is a fraction in ``[0, 1)``: no finite staffing answers every contact
    within the target. No traffic needs no agents.
    """
    _check_common(per_hour, aht_s, target_s)
    if not isinstance(service_level, int | float) or not 0 <= service_level < 1:
        raise InvalidInput(f"service_level must be a fraction in 0..1 (below 1), not "
                           f"{service_level!r}", field="service_level")
    if patience_s is not None:
        _check_patience(patience_s)
    if per_hour == 0:
        idle = ErlangA(0.0, 0.0, 1.0, 0.0, 0.0, 0.0)
        return Staffing(0, idle if patience_s is not None else ErlangC(0.0, 0.0, 1.0, 0.0, 0.0))
    low, probe = _probe(per_hour, aht_s, target_s, patience_s)
    agents = _first_true(lambda n: probe(n) >= service_level, low)
    if patience_s is None:
        return Staffing(agents, erlang_c(per_hour, aht_s, agents, target_s))
    return Staffing(agents, erlang_a(per_hour, aht_s, agents, target_s, patience_s))


def _probe(per_hour: float, aht_s: float, target_s: float,
           patience_s: float | None) -> tuple[int, Callable[[int], float]]:
    """The least staffing worth trying and the service level at ``n`` agents."""
    if patience_s is None or math.isinf(patience_s):
        low = math.floor(traffic(per_hour, aht_s)) + 1  # Erlang C needs more agents than Erlangs
        return low, lambda n: erlang_c(per_hour, aht_s, n, target_s).service_level
    return 1, lambda n: _service_level_a(per_hour, aht_s, n, target_s, patience_s)


def _first_true(meets: Callable[[int], bool], low: int) -> int:
    """Smallest ``n >= low`` with ``meets(n)``, for a monotone predicate (gallop then bisect)."""
    if meets(low):
        return low
    bad, step = low, max(1, low // 8)
    while not meets(bad + step):
        bad += step
        step *= 2
        if bad > MAX_AGENTS:
            raise InvalidInput("the service level cannot be met with a believable number of "
                               "agents", field="service_level")
    good = bad + step
    while good - bad > 1:
        mid = (bad + good) // 2
        bad, good = (bad, mid) if meets(mid) else (mid, good)
    return good
