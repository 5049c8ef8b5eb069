"""Coverage on a small hand-made pool, with figures checked by hand.

Two half-hours from 09:00 UTC. Dementia: 100 contacts in the first (200/h, AHT 180 s, 80 % in
20 s -> 14 agents: 13 give 0.7956), none in the second. Carers: 1 contact in each (2/h -> 1 agent).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from scheduler.coverage import Target, coverage, working_fraction
from scheduler.forecast import Forecast
from scheduler.rota import Interval, Shift

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
HALF = timedelta(minutes=30)


def _forecast() -> Forecast:
    return Forecast(date(2026, 12, 7), "Europe/London", 30, (T0, T0 + HALF),
                    ("weekday", "weekday"), {"dementia": (100.0, 0.0), "carers": (1.0, 1.0)})


def _shift(expert: str, start: datetime, end: datetime, *breaks: Interval) -> Shift:
    return Shift(expert, start, end, tuple(breaks))


def test_working_fraction_leaves_out_breaks_and_time_off_shift() -> None:
    lunch = Interval(T0 + timedelta(minutes=10), T0 + timedelta(minutes=25))
    shift = _shift("a", T0 - HALF, T0 + HALF, lunch)
    assert working_fraction([shift], T0, T0 + HALF) == pytest.approx(0.5)
    late = _shift("b", T0 + timedelta(minutes=20), T0 + 4 * HALF)
    assert working_fraction([late], T0, T0 + HALF) == pytest.approx(1 / 3)


def test_multi_skilled_experts_are_split_by_required_load_and_counted_once() -> None:
    shifts = [_shift(f"d{i}", T0, T0 + 2 * HALF) for i in range(10)]  # dementia only
    shifts.append(_shift("both", T0, T0 + 2 * HALF))  # dementia and carers
    holds = {f"d{i}": frozenset({"dementia"}) for i in range(10)}
    holds["both"] = frozenset({"dementia", "carers"})
    cells = coverage(_forecast(), shifts, holds, target=Target(0.8, 20.0),
                     aht_s={"dementia": 180.0, "carers": 180.0})
    got = {(c.skill, c.start): c for c in cells}
    first_d, first_c = got[("dementia", T0)], got[("carers", T0)]
    assert (first_d.required, first_c.required) == (14, 1)
    # "both": 14/15 to dementia, 1/15 to carers; scheduled sums to 11 experts, not 12
    assert first_d.scheduled == pytest.approx(10 + 14 / 15)
    assert first_c.scheduled == pytest.approx(1 / 15)
    assert first_d.gap == pytest.approx(10 + 14 / 15 - 14)
    assert (first_d.heads, first_c.heads) == (11, 1)
    # second half-hour: dementia needs nobody, so "both" goes wholly to carers
    second_d, second_c = got[("dementia", T0 + HALF)], got[("carers", T0 + HALF)]
    assert (second_d.required, second_c.required) == (0, 1)
    assert (second_d.scheduled, second_c.scheduled) == (10, 1)
    assert sum(c.scheduled for c in cells if c.start == T0) == pytest.approx(11)


def test_an_expert_whose_skills_need_nobody_is_split_evenly() -> None:
    quiet = Forecast(date(2026, 12, 7), "Europe/London", 30, (T0,), ("none",),
                     {"a": (0.0,), "b": (0.0,)})
    cells = coverage(quiet, [_shift("x", T0, T0 + HALF)], {"x": frozenset({"a", "b"})},
                     target=Target())
    assert [(c.skill, c.required, c.scheduled) for c in cells] == [("a", 0, 0.5), ("b", 0, 0.5)]


def test_a_skill_with_a_stricter_promise_needs_more_agents() -> None:
    shifts = [_shift(f"d{i}", T0, T0 + 2 * HALF) for i in range(10)]
    holds = {f"d{i}": frozenset({"dementia"}) for i in range(10)}
    usual = coverage(_forecast(), shifts, holds, target=Target(0.8, 20.0),
                     aht_s={"dementia": 180.0, "carers": 180.0})
    strict = coverage(_forecast(), shifts, holds, target=Target(0.8, 20.0),
                      aht_s={"dementia": 180.0, "carers": 180.0},
                      targets={"dementia": Target(0.95, 20.0)})
    need = {(c.skill, c.start): c.required for c in usual}
    stricter = {(c.skill, c.start): c.required for c in strict}
    assert stricter[("dementia", T0)] > need[("dementia", T0)] == 14
    assert stricter[("carers", T0)] == need[("carers", T0)]  # the others keep the default
