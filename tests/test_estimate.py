"""The wait a citizen is told (``router.estimate``): the Gamma quantile it starts from, and
the correction that keeps 8 in 10 citizens within what they were told."""

from __future__ import annotations

import random

import pytest
from scipy.stats import gamma

from router.estimate import MIN_HANDLE_SAMPLES, QUANTILE, WaitEstimator, gamma_quantile


@pytest.mark.parametrize("shape", [1, 2, 3, 5, 10, 40])
def test_the_closed_form_quantile_is_within_one_per_cent_of_the_exact_one(shape: int) -> None:
    exact = gamma.ppf(QUANTILE, shape, scale=30.0)
    assert gamma_quantile(shape, 30.0) == pytest.approx(exact, rel=0.01)


def test_no_estimate_without_history_or_anyone_on_duty() -> None:
    waits = WaitEstimator()
    assert waits.told(1, 3) is None  # no handle times yet
    for _ in range(MIN_HANDLE_SAMPLES):
        waits.note_handle(300.0)
    assert waits.told(1, 0) is None and waits.told(None, 3) is None
    # one place ahead of three experts, 300 s sessions: the 80th percentile of Exp(100 s)
    assert waits.told(1, 3) == round(gamma_quantile(1, 100.0))
    assert waits.told(4, 3) > waits.told(1, 3)  # type: ignore[operator]


def test_the_correction_brings_eight_in_ten_within_what_they_were_told() -> None:
    """Real waits twice as long as the model thinks: the factor learns it."""
    rng = random.Random(7)
    waits = WaitEstimator()
    for _ in range(MIN_HANDLE_SAMPLES):
        waits.note_handle(60.0)
    within = []
    for n in range(6000):
        told = waits.told(1, 1)
        assert told is not None
        waited = rng.expovariate(1 / 120.0)  # the model's mean is 60 s
        waits.learn(told, waited)
        if n >= 2000:
            within.append(waited <= told)
    assert 0.75 <= sum(within) / len(within) <= 0.85
    assert 1.6 < waits.factor < 2.4


def test_the_mean_handle_time_is_of_the_latest_samples_only() -> None:
    waits = WaitEstimator(samples=5)
    for seconds in (1000.0, 1000.0, 60.0, 60.0, 60.0, 60.0, 60.0):  # the two old ones drop
        waits.note_handle(seconds)
    assert waits.told(1, 1) == round(gamma_quantile(1, 60.0))
