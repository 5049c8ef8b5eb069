"""Erlang C / Erlang A staffing maths against published figures and independent references."""

from __future__ import annotations

import json
import math
import time
from fractions import Fraction
from itertools import pairwise

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings

from base.errors import InvalidInput
from expertline.cli import main
from scheduler.erlang import ErlangA, ErlangC, erlang_a, erlang_b, erlang_c, staff, traffic
from tests.strategies_rota import erlang_loads

C_KEYS = {"traffic_erlangs", "pw", "service_level", "asa_s", "occupancy"}


# -- Erlang C: published worked examples ---------------------------------------------------------

@pytest.mark.parametrize(
    ("agents", "expected"),
    [
        # 100 calls in 30 minutes (200 an hour), 180 s AHT, 20 s target: 10 Erlangs, the usual
        # worked example; (P(wait), service level, ASA s, occupancy)
        (14, (0.1741, 0.8883, 7.84, 0.714)),
        (11, (0.6821, 0.3896, 122.78, 0.909)),
        (13, (0.2853, 0.7956, 17.12, 0.769)),
        (12, (0.4494, 0.6402, 40.44, 0.833)),
        (15, (0.1020, 0.9415, 3.67, 0.667)),
    ],
)
def test_erlang_c_matches_published_examples(agents, expected):
    pw, sl, asa, occupancy = expected
    result = erlang_c(200, 180, agents, 20)
    assert result.traffic_erlangs == pytest.approx(10.0)
    assert result.pw == pytest.approx(pw, abs=1e-4)
    assert result.service_level == pytest.approx(sl, abs=1e-4)
    assert result.asa_s == pytest.approx(asa, abs=5e-3)
    assert result.occupancy == pytest.approx(occupancy, abs=5e-4)


def exact_erlang_c(a: Fraction, n: int) -> Fraction:
    """Erlang C from its textbook definition, in exact rational arithmetic."""
    top = a**n / math.factorial(n) * Fraction(n) / (n - a)
    return top / (sum(a**k / math.factorial(k) for k in range(n)) + top)


@pytest.mark.parametrize(("a", "n"), [(Fraction(1, 2), 1), (Fraction(3), 5), (Fraction(10), 11),
                                      (Fraction(47, 2), 30), (Fraction(100), 110),
                                      (Fraction(1000), 1050)])
def test_erlang_c_equals_exact_rational_formula(a, n):
    result = erlang_c(float(a) * 3600 / 100, 100, n, 30)
    assert result.pw == pytest.approx(float(exact_erlang_c(a, n)), rel=1e-11)


@pytest.mark.parametrize(("a", "n", "blocking"), [(10, 14, 0.05682), (10, 10, 0.21458),
                                                  (2, 1, 2 / 3), (0, 3, 0.0)])
def test_erlang_b(a, n, blocking):
    assert erlang_b(a, n) == pytest.approx(blocking, abs=5e-6)


@pytest.mark.parametrize("agents", [10, 9, 1])
def test_erlang_c_refuses_an_unstable_queue(agents):
    with pytest.raises(InvalidInput, match="unstable") as caught:
        erlang_c(200, 180, agents, 20)
    assert caught.value.details["field"] == "agents"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"per_hour": -1}, "per_hour"),
        ({"per_hour": math.nan}, "per_hour"),
        ({"per_hour": math.inf}, "per_hour"),
        ({"aht_s": 0}, "aht_s"),
        ({"agents": 0}, "agents"),
        ({"agents": 12.5}, "agents"),
        ({"agents": True}, "agents"),
        ({"target_s": -20}, "target_s"),
    ],
)
def test_erlang_c_rejects_bad_numbers(kwargs, field):
    args = {"per_hour": 200, "aht_s": 180, "agents": 14, "target_s": 20} | kwargs
    with pytest.raises(InvalidInput) as caught:
        erlang_c(**args)
    assert caught.value.details["field"] == field


def test_no_traffic_needs_nobody():
    assert erlang_c(0, 180, 1, 20).to_json() == {
        "traffic_erlangs": 0.0, "pw": 0.0, "service_level": 1.0, "asa_s": 0.0, "occupancy": 0.0}
    assert staff(0, 180, 20, 0.8).agents == 0


def test_to_json_has_exactly_the_contract_keys():
    assert set(erlang_c(200, 180, 14, 20).to_json()) == C_KEYS
    assert set(erlang_a(200, 180, 14, 20, 120).to_json()) == C_KEYS | {"abandon_rate"}
    assert set(staff(200, 180, 20, 0.8).to_json()) == C_KEYS | {"agents"}
    assert set(staff(200, 180, 20, 0.8, 120).to_json()) == C_KEYS | {"agents", "abandon_rate"}


def test_results_are_frozen():
    result = erlang_c(200, 180, 14, 20)
    with pytest.raises(AttributeError):
        result.pw = 0.5  # type: ignore[misc]


# -- large pools ------------------------------------------------------------------------------

def test_a_thousand_erlangs_is_quick_and_sensible():
    started = time.perf_counter()
    c = erlang_c(20_000, 180, 1050, 20)
    a = erlang_a(20_000, 180, 1050, 20, 120)
    elapsed = time.perf_counter() - started
    assert c.traffic_erlangs == pytest.approx(1000)
    for result in (c, a):
        assert all(math.isfinite(v) for v in result.to_json().values())
        assert 0 < result.pw < 0.2
        assert 0.99 < result.service_level < 1
        assert 0 < result.asa_s < 1
        assert 0.9 < result.occupancy < 0.96
    assert 0 < a.abandon_rate < 0.01
    assert a.pw < c.pw  # impatient callers leave, so fewer find everyone busy
    assert elapsed < 0.5


@pytest.mark.parametrize("agents", [2_001, 2_500, 5_000])
def test_huge_pools_do_not_overflow(agents):
    result = erlang_c(40_000, 180, agents, 20)
    assert 0 <= result.pw < 1
    assert result.service_level <= 1
    assert erlang_b(2_000, agents) < 1


# -- Erlang A -----------------------------------------------------------------------------------

def palm_reference(per_hour: float, aht: float, agents: int, target: float, *, patience: float,
                   queue: int = 250) -> dict[str, float]:
    """M/M/N+M figures from the birth-death chain truncated at ``queue`` waiting callers, and a
    tagged caller's absorbing chain solved with a matrix exponential (numpy/scipy)."""
    lam, mu, theta = per_hour / 3600, 1 / aht, 1 / patience
    deaths = [min(n, agents) * mu + max(0, n - agents) * theta for n in range(1, agents + queue)]
    log_p = np.concatenate([[0.0], np.cumsum(np.log(lam / np.array(deaths)))])
    p = np.exp(log_p - log_p.max())
    p /= p.sum()
    n = np.arange(p.size)
    waiting = p[agents:]
    abandon = theta * float(((n - agents).clip(min=0) * p).sum()) / lam
    # tagged caller with j ahead: j -> j-1 at N*mu + j*theta, 0 -> served at N*mu, abandon at theta
    size = waiting.size
    gen = np.zeros((size + 2, size + 2))
    for j in range(size):
        move = agents * mu + j * theta
        gen[j, j - 1 if j else size] = move
        gen[j, size + 1] = theta
        gen[j, j] = -(move + theta)
    served_by_target = scipy.linalg.expm(gen * target)[:size, size]
    mean_served_wait, m = [], 0.0
    for j in range(size):  # E[wait; answered | j ahead], state by state
        rate = agents * mu + (j + 1) * theta
        m = (agents * mu / rate) / rate + (agents * mu + j * theta) / rate * m
        mean_served_wait.append(m)
    return {
        "pw": float(waiting.sum()),
        "service_level": float(p[:agents].sum() + (waiting * served_by_target).sum()),
        "asa_s": float((waiting * np.array(mean_served_wait)).sum()) / (1 - abandon),
        "abandon_rate": abandon,
        "occupancy": float((np.minimum(n, agents) * p).sum()) / agents,
    }


@pytest.mark.parametrize(
    ("per_hour", "aht", "agents", "target", "patience"),
    [
        (200, 180, 14, 20, 120),  # the worked example with impatient callers
        (200, 180, 11, 20, 60),
        (200, 180, 8, 20, 600),  # overloaded: only abandonment keeps the queue finite
        (200, 180, 12, 60, 1800),
        (60, 300, 3, 30, 45),
        (900, 240, 55, 20, 90),
        (200, 180, 12, 0, 120),  # target 0: only callers who never wait count
    ],
)
def test_erlang_a_matches_the_birth_death_chain(per_hour, aht, agents, target, patience):
    result = erlang_a(per_hour, aht, agents, target, patience)
    reference = palm_reference(per_hour, aht, agents, target, patience=patience)
    for key, expected in reference.items():
        assert getattr(result, key) == pytest.approx(expected, rel=1e-6, abs=1e-9), key


@pytest.mark.parametrize("agents", [11, 12, 14, 20])
def test_erlang_a_with_endless_patience_is_erlang_c(agents):
    c = erlang_c(200, 180, agents, 20)
    patient = erlang_a(200, 180, agents, 20, 1e8)
    for key in ("pw", "service_level", "occupancy"):
        assert getattr(patient, key) == pytest.approx(getattr(c, key), abs=1e-5)
    assert patient.asa_s == pytest.approx(c.asa_s, rel=1e-3)
    assert patient.abandon_rate < 1e-5
    assert erlang_a(200, 180, agents, 20, math.inf).to_json() == {**c.to_json(),
                                                                  "abandon_rate": 0.0}


def test_erlang_a_converges_to_erlang_c_as_patience_grows():
    c = erlang_c(200, 180, 12, 20)
    gaps = [abs(erlang_a(200, 180, 12, 20, p).pw - c.pw) for p in (60, 600, 6_000, 600_000)]
    assert gaps == sorted(gaps, reverse=True)
    assert gaps[-1] < 1e-3


def test_erlang_a_overloaded_abandons_the_excess():
    # 10 Erlangs on 8 agents with very patient callers: the queue fills until 2 in 10 give up
    result = erlang_a(200, 180, 8, 20, 1e6)
    assert result.abandon_rate == pytest.approx(0.2, abs=1e-6)
    assert result.occupancy == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("patience", [0, -5, math.nan])
def test_erlang_a_rejects_bad_patience(patience):
    with pytest.raises(InvalidInput) as caught:
        erlang_a(200, 180, 12, 20, patience)
    assert caught.value.details["field"] == "patience_s"


# -- staffing -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("load", "level", "patience", "agents"),
    [
        ((200, 180, 20), 0.80, None, 14),
        ((200, 180, 20), 0.85, None, 14),
        ((200, 180, 20), 0.90, None, 15),
        ((200, 180, 20), 0.0, None, 11),  # any stable staffing
        ((200, 180, 60), 0.95, None, 14),  # NHS 111: 95 % within 60 s
        ((200, 180, 20), 0.80, 120, 12),
        ((20_000, 180, 20), 0.80, None, 1011),
    ],
)
def test_staff_finds_the_fewest_agents(load, level, patience, agents):
    per_hour, aht, target = load
    found = staff(per_hour, aht, target, level, patience)
    assert found.agents == agents
    assert found.figures.service_level >= level
    fewer = agents - 1
    if patience is None:
        if fewer > traffic(per_hour, aht):
            assert erlang_c(per_hour, aht, fewer, target).service_level < level
    else:
        assert isinstance(found.figures, ErlangA)
        assert erlang_a(per_hour, aht, fewer, target, patience).service_level < level


@pytest.mark.parametrize("level", [1.0, 1.5, -0.1, math.nan])
def test_staff_rejects_unreachable_or_bad_levels(level):
    with pytest.raises(InvalidInput) as caught:
        staff(200, 180, 20, level)
    assert caught.value.details["field"] == "service_level"


# -- properties ---------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(erlang_loads())
def test_more_agents_never_hurt(load):
    per_hour, aht, target, patience = load
    a = traffic(per_hour, aht)
    first = math.floor(a) + 1 if patience is None else max(1, math.floor(a) - 5)
    results: list[ErlangC] = []
    for agents in range(first, first + 12):
        results.append(erlang_c(per_hour, aht, agents, target) if patience is None
                       else erlang_a(per_hour, aht, agents, target, patience))
    for before, after in pairwise(results):
        assert after.service_level >= before.service_level - 1e-9
        assert after.pw <= before.pw + 1e-9
        assert after.asa_s <= before.asa_s * (1 + 1e-9) + 1e-9
        assert 0 <= after.pw <= 1 and 0 <= after.service_level <= 1


# -- CLI ----------------------------------------------------------------------------------------

def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["erlang", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_erlang_c_json(capsys):
    code, out, _ = run(capsys, "c", "--per-hour", "200", "--aht", "180", "--agents", "14",
                       "--target", "20", "--json")
    figures = json.loads(out)
    assert code == 0
    assert set(figures) == C_KEYS
    assert figures["service_level"] == pytest.approx(0.8883, abs=1e-4)


def test_cli_erlang_a_and_staff_json(capsys):
    code, out, _ = run(capsys, "a", "--per-hour", "200", "--aht", "180", "--agents", "12",
                       "--target", "20", "--patience", "120", "--json")
    assert code == 0 and set(json.loads(out)) == C_KEYS | {"abandon_rate"}
    code, out, _ = run(capsys, "staff", "--per-hour", "200", "--aht", "180", "--target", "20",
                       "--service-level", "0.8", "--json")
    assert code == 0 and json.loads(out)["agents"] == 14
    code, out, _ = run(capsys, "staff", "--per-hour", "200", "--aht", "180", "--target", "20",
                       "--service-level", "0.8", "--patience", "120", "--json")
    assert code == 0 and json.loads(out)["agents"] == 12 and "abandon_rate" in json.loads(out)


def test_cli_prints_a_readable_table(capsys):
    code, out, _ = run(capsys, "c", "--per-hour", "200", "--aht", "180", "--agents", "14",
                       "--target", "20")
    assert code == 0
    assert "service level" in out and "0.8884" in out and "ASA (s)" in out
    assert out.splitlines()[0].split() == ["agents", "14"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["c", "--per-hour", "-5", "--aht", "180", "--agents", "14", "--target", "20"],
         "--per-hour"),
        (["c", "--per-hour", "200", "--aht", "180", "--agents", "0", "--target", "20"],
         "--agents"),
        (["c", "--per-hour", "200", "--aht", "180", "--agents", "10", "--target", "20"],
         "unstable"),
        (["a", "--per-hour", "200", "--aht", "0", "--agents", "9", "--target", "20",
          "--patience", "60"], "--aht"),
        (["staff", "--per-hour", "200", "--aht", "180", "--target", "20",
          "--service-level", "80"], "--service-level"),
        (["staff", "--per-hour", "200", "--aht", "180", "--target", "20",
          "--service-level", "0.8", "--patience", "-1"], "--patience"),
    ],
)
def test_cli_bad_numbers_are_one_line_errors(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.startswith("expertline: error: ") and needle in err
    assert len(err.strip().splitlines()) == 1


def test_cli_rejects_text_for_a_number(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["erlang", "c", "--per-hour", "lots", "--aht", "180", "--agents", "14",
              "--target", "20"])
    assert caught.value.code == 2
    assert "not a number" in capsys.readouterr().err
