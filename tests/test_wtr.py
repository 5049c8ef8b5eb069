"""Working Time Regulations checks: each rule caught, clean rotas pass."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from base.errors import InvalidInput
from scheduler.rota import Break, Interval, Shift, ShiftTime, Weekly, expand, preset
from scheduler.wtr import UK, Limits, Violation, check, duty_periods, working_time

H = timedelta(hours=1)
MONDAY = datetime(2026, 6, 1, tzinfo=UTC)  # a Monday


def shift(start: datetime, hours: float, *, break_min: int = 0, expert: str = "e1",
          pattern: str = "p") -> Shift:
    """A shift with an optional break starting two hours in."""
    end = start + hours * H
    breaks = (Interval(start + 2 * H, start + 2 * H + timedelta(minutes=break_min)),) \
        if break_min else ()
    return Shift(expert, start, end, breaks, pattern)


def rules(violations: list[Violation]) -> list[str]:
    return sorted(v.rule for v in violations)


def weekly(days: tuple[int, ...], start: str, end: str, *, breaks: tuple[Break, ...] = (),
           expert: str = "e1", tz: str = "Europe/London") -> Weekly:
    return Weekly(f"{expert}-w", expert, tz, days=days, start=time.fromisoformat(start),
                  end=time.fromisoformat(end), breaks=breaks)


SEVENTEEN_WEEKS = (MONDAY, MONDAY + 17 * 7 * timedelta(days=1))


# -- clean rotas --------------------------------------------------------------------------------

def test_office_hours_with_lunch_comply_for_seventeen_weeks():
    office = weekly((0, 1, 2, 3, 4), "09:00", "17:30", breaks=(Break(30, at=time(12, 30)),))
    assert check(expand([office], [], *SEVENTEEN_WEEKS)) == []


def test_four_continental_teams_comply_across_both_clock_changes():
    breaks = (Break(30, offset_min=240), Break(30, offset_min=480))
    teams = [preset("continental", id=f"t{i}", expert_id=f"team-{i}", tz="Europe/London",
                    anchor=date(2026, 3, 1) + 2 * i * timedelta(days=1),
                    day=ShiftTime(time(7), time(19), breaks),
                    night=ShiftTime(time(19), time(7), breaks)) for i in range(4)]
    shifts = expand(teams, [], datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
    assert {s.duration for s in shifts} == {11 * H, 12 * H, 13 * H}
    assert check(shifts) == []


def test_an_empty_rota_complies():
    assert check([]) == []


# -- daily rest ---------------------------------------------------------------------------------

def test_a_quick_return_breaks_daily_rest():
    late = shift(MONDAY + 14 * H, 8, break_min=30)
    early = shift(MONDAY + 30 * H, 8, break_min=30)  # Tuesday 06:00, 8 h after the late
    (violation,) = check([early, late])
    assert violation.rule == "daily_rest"
    assert violation.shifts == (late, early)
    assert "8.0 h of rest" in violation.message and "2026-06-02 06:00 UTC" in violation.message


@pytest.mark.parametrize(
    ("gap_hours", "broken"),
    [(10.99, True), (11, False), (16, False)],
)
def test_eleven_hours_between_shifts_is_enough(gap_hours, broken):
    first = shift(MONDAY + 9 * H, 8, break_min=30)
    second = shift(first.end + gap_hours * H, 8, break_min=30)
    assert ("daily_rest" in rules(check([first, second]))) is broken


def test_a_split_shift_keeps_its_daily_rest():
    morning, evening = shift(MONDAY + 9 * H, 4), shift(MONDAY + 15 * H, 4)
    next_day = shift(MONDAY + 33 * H, 4)  # 09:00 Tuesday, 14 h after
    assert check([morning, evening, next_day]) == []
    assert duty_periods([morning, evening, next_day]) == [[morning, evening], [next_day]]


def test_a_day_chopped_too_long_by_gaps_breaks_daily_rest():
    pieces = [shift(MONDAY + h * H, 4) for h in (6, 12, 18)]  # 06:00 to 22:00
    (violation,) = [v for v in check(pieces) if v.rule == "daily_rest"]
    assert violation.shifts == tuple(pieces)


@pytest.mark.parametrize(("hours", "broken"), [(13, False), (13.25, True), (14, True)])
def test_a_single_long_shift_leaves_too_little_rest(hours, broken):
    long = shift(MONDAY + 7 * H, hours, break_min=60)
    assert ("daily_rest" in rules(check([long]))) is broken


def test_the_autumn_thirteen_hour_night_is_still_legal():
    night = weekly((5,), "19:00", "07:00", breaks=(Break(30, offset_min=300),))
    shifts = expand([night], [], datetime(2026, 10, 24, tzinfo=UTC),
                    datetime(2026, 10, 26, tzinfo=UTC))
    assert [s.duration for s in shifts] == [13 * H]
    assert check(shifts) == []


# -- rest breaks --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("hours", "break_min", "broken"),
    [
        (6, 0, False),  # exactly six hours: no break needed
        (6.25, 0, True),
        (6.25, 15, False),  # six hours of work once the break is taken out
        (8, 0, True),
        (8, 15, True),  # too short
        (8, 20, False),
        (12, 45, False),
    ],
)
def test_shifts_over_six_hours_need_a_twenty_minute_break(hours, break_min, broken):
    found = check([shift(MONDAY + 9 * H, hours, break_min=break_min)])
    assert ("rest_break" in rules(found)) is broken


def test_a_gap_between_pieces_of_a_day_is_a_break():
    # an 8-hour day cut by a one-hour appointment: two pieces, 7 h of work, a 1 h rest
    morning, afternoon = shift(MONDAY + 9 * H, 3.5), shift(MONDAY + 13.5 * H, 3.5)
    assert check([morning, afternoon]) == []
    # back-to-back shifts with no break between them are one long stretch
    touching = [shift(MONDAY + 9 * H, 4), shift(MONDAY + 13 * H, 4, pattern="q")]
    assert rules(check(touching)) == ["rest_break"]


# -- weekly rest --------------------------------------------------------------------------------

def test_seven_days_without_a_day_off_breaks_weekly_rest():
    every_day = weekly(tuple(range(7)), "09:00", "15:00")  # 42 h a week
    shifts = expand([every_day], [], MONDAY, MONDAY + 14 * timedelta(days=1))
    found = check(shifts)
    assert rules(found) == ["weekly_rest", "weekly_rest"]
    assert "18.0 h off" in found[0].message
    assert len(found[0].shifts) == 7


def test_one_day_off_a_week_is_enough():
    six_days = weekly((0, 1, 2, 3, 4, 5), "09:00", "17:00", breaks=(Break(30, at=time(13)),))
    assert check(expand([six_days], [], *SEVENTEEN_WEEKS)) == []


def test_weekly_rest_uses_the_chosen_reference_weeks():
    # off Monday and Tuesday, on for seven days, off Wednesday and Thursday, on to Sunday:
    # both Monday-based weeks have two days off, the week from Wednesday 3 June has none
    days = [2, 3, 4, 5, 6, 7, 8, 11, 12, 13]
    shifts = [shift(MONDAY + d * timedelta(days=1) + 9 * H, 8, break_min=30) for d in days]
    assert check(shifts) == []
    wednesday = MONDAY + 2 * timedelta(days=1)
    found = check(shifts, week_start=wednesday)
    assert rules(found) == ["weekly_rest"]
    assert "2026-06-03 00:00 UTC" in found[0].message


def test_week_start_must_be_aware():
    with pytest.raises(InvalidInput):
        check([shift(MONDAY, 1)], week_start=datetime(2026, 6, 1))


# -- 48-hour average week -----------------------------------------------------------------------

def sixty_hour_weeks(weeks: int, expert: str = "e1") -> list[Shift]:
    """Ten hours (with a 30-minute break) on six days a week."""
    return [shift(MONDAY + (7 * w + d) * timedelta(days=1) + 8 * H, 10.5, break_min=30,
                  expert=expert) for w in range(weeks) for d in range(6)]


def test_sixty_hour_weeks_break_the_average():
    found = check(sixty_hour_weeks(17))
    assert rules(found) == ["average_week"]
    assert "60.0 h a week on average over the 17 weeks" in found[0].message
    assert len(found[0].shifts) == 17 * 6


def test_the_opt_out_lifts_the_average_limit():
    assert check(sixty_hour_weeks(17), opted_out={"e1"}) == []


def test_the_average_is_over_seventeen_weeks():
    busy = sixty_hour_weeks(4)
    calm = [shift(MONDAY + (7 * w + d) * timedelta(days=1) + 9 * H, 8.5, break_min=30)
            for w in range(4, 17) for d in range(5)]
    assert check(busy + calm) == []  # (4 x 60 + 13 x 40) / 17 = 44.7 h


def test_a_short_busy_rota_is_judged_as_if_it_repeats():
    assert rules(check(sixty_hour_weeks(3))) == ["average_week"]


def test_custom_limits():
    assert rules(check(sixty_hour_weeks(17), limits=Limits(max_average_week=60 * H))) == []
    assert UK.max_average_week == 48 * H


# -- several experts, overlaps ------------------------------------------------------------------

def test_each_expert_is_judged_alone():
    mine = sixty_hour_weeks(17, expert="busy")
    theirs = [shift(s.start, 4, expert="calm") for s in mine[::2]]
    found = check(mine + theirs, opted_out={"calm"})
    assert rules(found) == ["average_week"]
    assert {s.expert_id for s in found[0].shifts} == {"busy"}


def test_double_booking_is_an_overlap():
    a, b = shift(MONDAY + 9 * H, 4), shift(MONDAY + 11 * H, 4, pattern="q")
    assert "overlap" in rules(check([a, b]))


def test_working_time_leaves_out_breaks():
    s = shift(MONDAY, 8, break_min=30)
    assert working_time(s) == 7.5 * H
    assert working_time(s, MONDAY + 4 * H, MONDAY + 10 * H) == 4 * H


def test_violations_serialise():
    (violation,) = check([shift(MONDAY + 9 * H, 8)])
    data = violation.to_json()
    assert data["rule"] == "rest_break"
    assert data["shifts"][0]["start"] == "2026-06-01T09:00:00+00:00"
