"""Contacts forecast per skill and half-hour from synthetic arrival history."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from base.errors import InvalidInput
from scheduler.forecast import WEIGHTS, build_history, day_intervals, forecast

LONDON = ZoneInfo("Europe/London")
DAY = timedelta(days=1)
TARGET = date(2026, 6, 29)  # a Monday


def arrivals_at(day: date, wall: time, count: int, skill: str = "dementia") -> list:
    """``count`` arrivals spread over the half-hour starting at local ``wall`` on ``day``."""
    start = datetime.combine(day, wall, tzinfo=LONDON)
    return [(start + timedelta(seconds=1 + i * 1700 // max(count, 1)), skill)
            for i in range(count)]


def slot_value(result, skill: str, wall: time) -> float:
    for moment, value in zip(result.intervals, result.contacts[skill], strict=True):
        if moment.astimezone(LONDON).time() == wall:
            return value
    raise AssertionError(wall)


# -- the weighted same-weekday forecast ---------------------------------------------------------

def test_recent_weeks_weigh_more():
    history = [a for week, count in enumerate((10, 20, 30, 40), start=1)
               for a in arrivals_at(TARGET - 7 * week * DAY, time(10), count)]
    result = forecast(build_history(history, since=TARGET - 28 * DAY, until=TARGET), TARGET)
    # (4 x 10 + 3 x 20 + 2 x 30 + 1 x 40) / 10
    assert slot_value(result, "dementia", time(10)) == pytest.approx(20.0)
    assert slot_value(result, "dementia", time(10, 30)) == 0.0
    assert set(result.methods) == {"weekday"}


def test_older_weeks_beyond_the_look_back_are_ignored():
    history = [a for week, count in enumerate((10, 10, 10, 10, 500), start=1)
               for a in arrivals_at(TARGET - 7 * week * DAY, time(10), count)]
    result = forecast(build_history(history, since=TARGET - 35 * DAY, until=TARGET), TARGET)
    assert slot_value(result, "dementia", time(10)) == pytest.approx(10.0)


def test_short_history_uses_the_weeks_it_has():
    history = arrivals_at(TARGET - 7 * DAY, time(9), 10) + arrivals_at(TARGET - 14 * DAY,
                                                                       time(9), 24)
    result = forecast(build_history(history, since=TARGET - 14 * DAY, until=TARGET), TARGET)
    assert slot_value(result, "dementia", time(9)) == pytest.approx((4 * 10 + 3 * 24) / 7)
    assert set(result.methods) == {"weekday"}


def test_custom_weights():
    history = arrivals_at(TARGET - 7 * DAY, time(9), 10) + arrivals_at(TARGET - 14 * DAY,
                                                                       time(9), 20)
    result = forecast(build_history(history, since=TARGET - 14 * DAY, until=TARGET), TARGET,
                      weights=(1, 1))
    assert slot_value(result, "dementia", time(9)) == pytest.approx(15.0)


# -- fallbacks ----------------------------------------------------------------------------------

def test_less_than_a_week_uses_the_same_interval_on_any_weekday():
    history = [a for back, count in ((1, 6), (2, 9), (3, 3))
               for a in arrivals_at(TARGET - back * DAY, time(14), count)]
    result = forecast(build_history(history, since=TARGET - 3 * DAY, until=TARGET), TARGET)
    assert slot_value(result, "dementia", time(14)) == pytest.approx(6.0)
    assert set(result.methods) == {"any_weekday"}


def test_intervals_never_seen_get_the_daily_mean_spread_evenly():
    since = datetime.combine(TARGET - DAY, time(12), tzinfo=LONDON)  # history began at noon
    history = arrivals_at(TARGET - DAY, time(14), 12) + arrivals_at(TARGET - DAY, time(20), 12)
    result = forecast(build_history(history, since=since, until=TARGET), TARGET)
    morning = [m for t, m in zip(result.intervals, result.methods, strict=True)
               if t.astimezone(LONDON).hour < 12]
    assert set(morning) == {"daily_mean"}
    assert slot_value(result, "dementia", time(9)) == pytest.approx(24 / 24)  # 24 half-hours seen
    assert slot_value(result, "dementia", time(14)) == 12.0  # seen: same interval, any weekday


def test_no_history_forecasts_nothing():
    result = forecast(build_history([]), TARGET, skills=["dementia"])
    assert set(result.methods) == {"none"}
    assert result.contacts["dementia"] == (0.0,) * 48


def test_history_after_the_day_is_not_used():
    before = arrivals_at(TARGET - 7 * DAY, time(9), 4)
    after = arrivals_at(TARGET + 7 * DAY, time(9), 400) + arrivals_at(TARGET, time(9), 400)
    result = forecast(build_history(before + after), TARGET)
    assert slot_value(result, "dementia", time(9)) == pytest.approx(4.0)


def test_days_without_contacts_count_as_zero():
    history = arrivals_at(TARGET - 7 * DAY, time(9), 10) + arrivals_at(TARGET - 28 * DAY,
                                                                       time(9), 10)
    result = forecast(build_history(history), TARGET)  # history spans all four weeks
    assert slot_value(result, "dementia", time(9)) == pytest.approx((4 * 10 + 1 * 10) / 10)


# -- skills, rates, intervals -------------------------------------------------------------------

def test_each_skill_is_forecast_on_its_own():
    history = arrivals_at(TARGET - 7 * DAY, time(9), 10) + arrivals_at(
        TARGET - 7 * DAY, time(9), 3, "safeguarding")
    result = forecast(build_history(history, since=TARGET - 7 * DAY, until=TARGET), TARGET)
    assert sorted(result.contacts) == ["dementia", "safeguarding"]
    assert slot_value(result, "safeguarding", time(9)) == pytest.approx(3.0)
    assert result.per_hour("safeguarding")[18] == pytest.approx(6.0)  # 09:00 is slot 18
    assert result.per_hour("unknown") == (0.0,) * 48


def test_quarter_hours():
    history = arrivals_at(TARGET - 7 * DAY, time(9), 10)
    result = forecast(build_history(history, interval_min=15, since=TARGET - 7 * DAY,
                                    until=TARGET), TARGET)
    assert len(result.intervals) == 96
    assert sum(result.contacts["dementia"]) == pytest.approx(10.0)
    assert result.per_hour("dementia") == tuple(4 * c for c in result.contacts["dementia"])


def test_forecast_serialises():
    result = forecast(build_history(arrivals_at(TARGET - 7 * DAY, time(9), 2)), TARGET)
    data = result.to_json()
    assert data["intervals"][0] == "2026-06-28T23:00:00+00:00"  # local midnight, BST
    assert len(data["contacts"]["dementia"]) == len(data["methods"]) == 48


# -- clock changes ------------------------------------------------------------------------------

@pytest.mark.parametrize(("day", "count"), [(date(2026, 3, 29), 46), (date(2026, 10, 25), 50),
                                            (date(2026, 6, 1), 48)])
def test_clock_change_days_have_fewer_or_more_half_hours(day, count):
    intervals = day_intervals(day, LONDON)
    assert len(intervals) == count
    assert intervals[0][0] == datetime.combine(day, time(0), tzinfo=LONDON).astimezone(UTC)


def steady_history(first: date, last: date, per_interval: int = 2) -> list:
    """``per_interval`` arrivals in every half-hour that exists between two local dates."""
    out = []
    day = first
    while day <= last:
        for start, _ in day_intervals(day, LONDON):
            out += [(start + timedelta(minutes=5 + 10 * i), "dementia")
                    for i in range(per_interval)]
        day += DAY
    return out


def test_the_missing_spring_hour_is_not_a_zero():
    history = steady_history(date(2026, 3, 8), date(2026, 4, 4))
    result = forecast(build_history(history), date(2026, 4, 5))
    # a week back (29 March) had no 01:00-02:00; the three weeks before did
    assert set(result.contacts["dementia"]) == {2.0}
    assert result.methods[2] == "weekday"


def test_the_repeated_autumn_hour_shares_its_history():
    history = steady_history(date(2026, 9, 27), date(2026, 10, 24))
    result = forecast(build_history(history), date(2026, 10, 25))
    assert len(result.intervals) == 50
    assert set(result.contacts["dementia"]) == {2.0}
    after = forecast(build_history(steady_history(date(2026, 10, 1), date(2026, 11, 7))),
                     date(2026, 11, 8))
    assert set(after.contacts["dementia"]) == {2.0}  # the 25th's doubled hour is not doubled


# -- a believable synthetic history ------------------------------------------------------------

def test_poisson_history_gives_its_daily_profile_back():
    rng = random.Random(7)
    rate_per_hour = {h: (60 if 9 <= h < 17 else 12 if 7 <= h < 22 else 2) for h in range(24)}
    history = []
    day = TARGET - 56 * DAY
    while day < TARGET:
        weekend = day.weekday() >= 5
        for start, _ in day_intervals(day, LONDON):
            hour = start.astimezone(LONDON).hour
            mean = rate_per_hour[hour] / 2 / (3 if weekend else 1)
            moment = start
            while True:
                moment += timedelta(hours=rng.expovariate(2 * mean))
                if moment >= start + timedelta(minutes=30):
                    break
                history.append((moment, rng.choice(["dementia", "dementia", "carers"])))
        day += DAY
    result = forecast(build_history(history), TARGET)
    total = sum(result.contacts["dementia"]) + sum(result.contacts["carers"])
    expected = sum(rate_per_hour.values())  # a weekday's mean contacts
    assert total == pytest.approx(expected, rel=0.08)
    by_hour = {t.astimezone(LONDON).hour: c for t, c in zip(result.intervals,
                                                             result.contacts["dementia"],
                                                             strict=True)}
    assert by_hour[11] > 3 * by_hour[19] > 3 * by_hour[3]
    assert WEIGHTS == (4.0, 3.0, 2.0, 1.0)


# -- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: build_history([(datetime(2026, 6, 1, 9), "dementia")]), "arrivals[0]"),
        (lambda: build_history([], interval_min=7), "interval_min"),
        (lambda: build_history([], tz="Mars/Olympus"), "tz"),
        (lambda: build_history([], since=datetime(2026, 6, 1)), "since"),
        (lambda: forecast(build_history([]), TARGET, weights=()), "weights"),
        (lambda: forecast(build_history([]), TARGET, weights=(1, -1)), "weights"),
    ],
)
def test_bad_input_names_the_field(call, field):
    with pytest.raises(InvalidInput) as caught:
        call()
    assert caught.value.details["field"] == field
