"""Rota expansion: local shift patterns to UTC shifts, across clock changes and time zones."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from base.errors import InvalidInput
from scheduler.rota import (
    PRESETS,
    Absence,
    Break,
    Interval,
    OneOff,
    Shift,
    ShiftTime,
    Weekly,
    current_shift,
    expand,
    minutes_left,
    next_change,
    on_break,
    on_off,
    on_shift,
    pattern_from_json,
    preset,
)
from tests.strategies_rota import absences, patterns, windows

H = timedelta(hours=1)
DAY = timedelta(days=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def weekly(days: tuple[int, ...], start: str, end: str, *, tz: str = "Europe/London",
           breaks: tuple[Break, ...] = (), id: str = "w", expert: str = "e1") -> Weekly:
    return Weekly(id, expert, tz, days=days, start=time.fromisoformat(start),
                  end=time.fromisoformat(end), breaks=breaks)


def only_shift(pattern, day: date, tz: str) -> Shift:
    """The one shift the pattern starts on local ``day``."""
    zone = ZoneInfo(tz)
    midnight = datetime.combine(day, time(0), tzinfo=zone)
    shifts = [s for s in expand([pattern], [], midnight - 2 * DAY, midnight + 3 * DAY)
              if s.start.astimezone(zone).date() == day]
    assert len(shifts) == 1, shifts
    return shifts[0]


# -- clock changes ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("tz", "day", "times", "starts_utc", "hours"),
    [
        # London nights around the 2026 changes (29 March, 25 October)
        ("Europe/London", date(2026, 3, 21), ("19:00", "07:00"), utc(2026, 3, 21, 19), 12),
        ("Europe/London", date(2026, 3, 28), ("19:00", "07:00"), utc(2026, 3, 28, 19), 11),
        ("Europe/London", date(2026, 3, 29), ("19:00", "07:00"), utc(2026, 3, 29, 18), 12),
        ("Europe/London", date(2026, 10, 24), ("19:00", "07:00"), utc(2026, 10, 24, 18), 13),
        ("Europe/London", date(2026, 10, 25), ("19:00", "07:00"), utc(2026, 10, 25, 19), 12),
        ("Europe/London", date(2026, 3, 29), ("09:00", "17:00"), utc(2026, 3, 29, 8), 8),
        ("Europe/London", date(2026, 3, 29), ("00:30", "03:30"), utc(2026, 3, 29, 0, 30), 2),
        ("Europe/London", date(2026, 10, 25), ("00:30", "03:30"), utc(2026, 10, 24, 23, 30), 4),
        # 01:30 does not exist on 29 March: it moves forward to 02:30 BST
        ("Europe/London", date(2026, 3, 29), ("01:30", "09:00"), utc(2026, 3, 29, 1, 30), 6.5),
        # 01:30 happens twice on 25 October: the first (BST) is meant
        ("Europe/London", date(2026, 10, 25), ("01:30", "09:00"), utc(2026, 10, 25, 0, 30), 8.5),
        # New York changes on 8 March and 1 November 2026
        ("America/New_York", date(2026, 3, 7), ("19:00", "07:00"), utc(2026, 3, 8, 0), 11),
        ("America/New_York", date(2026, 3, 28), ("19:00", "07:00"), utc(2026, 3, 28, 23), 12),
        ("America/New_York", date(2026, 10, 31), ("19:00", "07:00"), utc(2026, 10, 31, 23), 13),
        # Sydney: summer time ends 5 April, starts 4 October 2026
        ("Australia/Sydney", date(2026, 4, 4), ("19:00", "07:00"), utc(2026, 4, 4, 8), 13),
        ("Australia/Sydney", date(2026, 10, 3), ("19:00", "07:00"), utc(2026, 10, 3, 9), 11),
        ("Australia/Sydney", date(2026, 3, 28), ("19:00", "07:00"), utc(2026, 3, 28, 8), 12),
        # Lord Howe Island moves its clocks by half an hour
        ("Australia/Lord_Howe", date(2026, 4, 4), ("19:00", "07:00"), utc(2026, 4, 4, 8), 12.5),
    ],
)
def test_local_shift_times_survive_clock_changes(tz, day, times, starts_utc, hours):
    shift = only_shift(weekly((day.weekday(),), *times, tz=tz), day, tz)
    assert shift.start == starts_utc
    assert shift.duration == hours * H
    assert shift.start.tzinfo is UTC and shift.end.tzinfo is UTC


def test_the_same_night_in_london_and_sydney_differs_by_date():
    london = weekly((5,), "19:00", "07:00", id="uk")
    sydney = weekly((5,), "19:00", "07:00", tz="Australia/Sydney", id="au", expert="e2")
    shifts = expand([london, sydney], [], utc(2026, 3, 27), utc(2026, 4, 12))
    hours = {(s.pattern_id, s.start.date()): s.duration / H for s in shifts}
    assert hours[("uk", date(2026, 3, 28))] == 11
    assert hours[("uk", date(2026, 4, 4))] == 12
    assert hours[("au", date(2026, 3, 28))] == 12
    assert hours[("au", date(2026, 4, 4))] == 13


# -- weekly templates and windows --------------------------------------------------------------

def test_weekly_template_works_the_listed_days():
    shifts = expand([weekly((0, 1, 2, 3, 4), "09:00", "17:00")], [], utc(2026, 6, 1),
                    utc(2026, 6, 15))
    assert [s.start.date().isoformat() for s in shifts] == [
        f"2026-06-{d:02d}" for d in (1, 2, 3, 4, 5, 8, 9, 10, 11, 12)]
    assert all(s.start.hour == 8 and s.duration == 8 * H for s in shifts)  # BST


@pytest.mark.parametrize(
    ("window", "count"),
    [
        ((utc(2026, 6, 2, 3), utc(2026, 6, 2, 4)), 1),  # inside Monday's night: it is included
        ((utc(2026, 6, 2, 6), utc(2026, 6, 2, 7)), 0),  # Monday's night ended at 06:00 UTC
        ((utc(2026, 6, 2, 5, 59), utc(2026, 6, 2, 6)), 1),
        ((utc(2026, 6, 1, 12), utc(2026, 6, 1, 18)), 0),  # ends exactly as the night starts
        ((utc(2026, 6, 1, 12), utc(2026, 6, 1, 18, 1)), 1),
        # Sunday 31 May's night running into the window, Monday's night, Sunday 7 June's night
        ((utc(2026, 6, 1), utc(2026, 6, 8)), 3),
    ],
)
def test_window_includes_every_overlapping_shift_whole(window, count):
    night = weekly((0,), "19:00", "07:00")
    previous_week = weekly((6,), "19:00", "07:00", id="sun")
    shifts = expand([night, previous_week], [], *window)
    assert len(shifts) == count
    for shift in shifts:
        assert shift.duration == 12 * H  # never clipped to the window


def test_expansion_is_sorted_across_experts():
    patterns = [weekly((0,), "10:00", "18:00", expert="b", id="b"),
                weekly((0,), "08:00", "16:00", expert="a", id="a"),
                weekly((0,), "09:00", "17:00", expert="c", id="c")]
    shifts = expand(patterns, [], utc(2026, 6, 1), utc(2026, 6, 2))
    assert [s.expert_id for s in shifts] == ["a", "c", "b"]


@pytest.mark.parametrize(("start", "end"), [(utc(2026, 6, 2), utc(2026, 6, 1)),
                                            (utc(2026, 6, 1), utc(2026, 6, 1)),
                                            (datetime(2026, 6, 1), utc(2026, 6, 2))])
def test_expand_rejects_bad_windows(start, end):
    with pytest.raises(InvalidInput):
        expand([], [], start, end)


def test_validity_dates_bound_a_pattern():
    pattern = Weekly("w", "e1", "Europe/London", days=tuple(range(7)), start=time(9),
                     end=time(17), starts_on=date(2026, 6, 3), ends_on=date(2026, 6, 5))
    shifts = expand([pattern], [], utc(2026, 6, 1), utc(2026, 6, 10))
    assert [s.start.day for s in shifts] == [3, 4, 5]


# -- breaks -------------------------------------------------------------------------------------

def test_breaks_by_offset_and_by_wall_time():
    breaks = (Break(30, offset_min=240), Break(20, at=time(3)))
    spring, autumn = (only_shift(weekly((5,), "19:00", "07:00", breaks=breaks), day,
                                 "Europe/London")
                      for day in (date(2026, 3, 28), date(2026, 10, 24)))
    # offsets count elapsed minutes; wall times follow the local clock
    assert spring.breaks == (Interval(utc(2026, 3, 28, 23), utc(2026, 3, 28, 23, 30)),
                             Interval(utc(2026, 3, 29, 2), utc(2026, 3, 29, 2, 20)))
    assert autumn.breaks == (Interval(utc(2026, 10, 24, 22), utc(2026, 10, 24, 22, 30)),
                             Interval(utc(2026, 10, 25, 3), utc(2026, 10, 25, 3, 20)))
    assert spring.break_time == timedelta(minutes=50)


def test_a_break_beyond_a_short_night_is_clipped():
    late = (Break(30, offset_min=10 * 60 + 45),)
    normal = only_shift(weekly((5,), "19:00", "07:00", breaks=late), date(2026, 3, 21),
                        "Europe/London")
    short = only_shift(weekly((5,), "19:00", "07:00", breaks=late), date(2026, 3, 28),
                       "Europe/London")
    assert normal.break_time == timedelta(minutes=30)
    assert short.break_time == timedelta(minutes=15)
    assert short.breaks[0].end == short.end


@pytest.mark.parametrize(
    ("breaks", "field"),
    [
        ((Break(30, offset_min=8 * 60),), "breaks[0]"),
        ((Break(30, at=time(8)),), "breaks[0]"),
        ((Break(30, at=time(16, 45)),), "breaks[0]"),
    ],
)
def test_breaks_must_lie_within_the_shift(breaks, field):
    with pytest.raises(InvalidInput) as caught:
        ShiftTime(time(9), time(17), breaks)
    assert caught.value.details["field"] == field


# -- cycles and presets -------------------------------------------------------------------------

def day_shift() -> ShiftTime:
    return ShiftTime(time(7), time(19))


def night_shift() -> ShiftTime:
    return ShiftTime(time(19), time(7))


def worked_dates(pattern, first: date, days: int) -> list[int]:
    zone = ZoneInfo(pattern.tz)
    shifts = expand([pattern], [], datetime.combine(first, time(0), tzinfo=zone),
                    datetime.combine(first + days * DAY, time(0), tzinfo=zone))
    return [(s.start.astimezone(zone).date() - first).days for s in shifts
            if s.start.astimezone(zone).date() >= first]


def test_four_on_four_off_from_its_anchor_both_ways():
    pattern = on_off(4, 4, id="c", expert_id="e1", tz="Europe/London", anchor=date(2026, 6, 10),
                     shift=day_shift())
    assert pattern.sequence == PRESETS["4-on-4-off"]
    assert worked_dates(pattern, date(2026, 6, 10), 16) == [0, 1, 2, 3, 8, 9, 10, 11]
    assert worked_dates(pattern, date(2026, 5, 25), 8) == [0, 1, 2, 3]  # before the anchor too


@pytest.mark.parametrize(
    ("name", "worked"),
    [
        ("4-on-4-off", [0, 1, 2, 3, 8, 9, 10, 11]),
        ("2-2-3", [0, 1, 4, 5, 6, 9, 10, 14, 15]),
        ("continental", [0, 1, 2, 3, 8, 9, 10, 11]),
    ],
)
def test_presets_follow_their_rotation(name, worked):
    pattern = preset(name, id="p", expert_id="e1", tz="Europe/London", anchor=date(2026, 6, 1),
                     day=day_shift(), night=night_shift())
    assert worked_dates(pattern, date(2026, 6, 1), 16) == worked


def test_panama_works_half_the_days_of_a_fortnight_every_other_weekend():
    pattern = preset("2-2-3", id="p", expert_id="e1", tz="Europe/London",
                     anchor=date(2026, 6, 1), day=day_shift())  # a Monday
    days = worked_dates(pattern, date(2026, 6, 1), 28)
    assert len(days) == 14
    weekends = {d // 7 for d in days if d % 7 in (5, 6)}
    assert weekends == {0, 2}  # weekends worked in weeks 1 and 3 of four


def test_continental_days_then_nights():
    pattern = preset("continental", id="p", expert_id="e1", tz="Europe/London",
                     anchor=date(2026, 6, 1), day=day_shift(), night=night_shift())
    shifts = expand([pattern], [], utc(2026, 6, 1), utc(2026, 6, 5))
    assert [s.start.astimezone(ZoneInfo("Europe/London")).hour for s in shifts] == [7, 7, 19, 19]


def test_four_continental_teams_cover_every_hour_exactly_once():
    teams = [preset("continental", id=f"team-{i}", expert_id=f"team-{i}", tz="Europe/London",
                    anchor=date(2026, 3, 1) + 2 * i * DAY, day=day_shift(), night=night_shift())
             for i in range(4)]
    shifts = expand(teams, [], utc(2026, 3, 20), utc(2026, 4, 5))  # across the spring change
    moment = utc(2026, 3, 20, 0, 30)
    while moment < utc(2026, 4, 5):
        assert sum(s.start <= moment < s.end for s in shifts) == 1, moment
        moment += H


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "9-80"}, "preset"),
        ({"name": "continental", "night": None}, "night"),
    ],
)
def test_preset_errors(kwargs, field):
    args = {"name": "continental", "id": "p", "expert_id": "e1", "tz": "Europe/London",
            "anchor": date(2026, 6, 1), "day": day_shift(), "night": night_shift()} | kwargs
    with pytest.raises(InvalidInput) as caught:
        preset(**args)
    assert caught.value.details["field"] == field


def test_on_off_needs_at_least_one_day_on():
    with pytest.raises(InvalidInput):
        on_off(0, 4, id="c", expert_id="e1", tz="UTC", anchor=date(2026, 1, 1),
               shift=day_shift())


# -- one-off shifts -----------------------------------------------------------------------------

def test_one_off_shift_in_local_time():
    pattern = OneOff("o", "e1", "America/New_York", start=datetime(2026, 3, 7, 22),
                     end=datetime(2026, 3, 8, 6), breaks=(Break(20, at=time(3)),))
    (shift,) = expand([pattern], [], utc(2026, 3, 1), utc(2026, 3, 10))
    assert (shift.start, shift.end) == (utc(2026, 3, 8, 3), utc(2026, 3, 8, 10))
    assert shift.duration == 7 * H  # an hour lost to the clock change
    assert shift.breaks == (Interval(utc(2026, 3, 8, 7), utc(2026, 3, 8, 7, 20)),)  # 03:00 EDT
    assert expand([pattern], [], utc(2026, 3, 9), utc(2026, 3, 10)) == []


# -- absences -----------------------------------------------------------------------------------

def test_leave_cancels_shifts_that_start_on_leave_days():
    nights = weekly(tuple(range(7)), "19:00", "07:00")
    leave = Absence("e1", "Europe/London", date(2026, 6, 3), date(2026, 6, 5), "annual leave")
    shifts = expand([nights], [leave], utc(2026, 6, 1), utc(2026, 6, 8))
    # 31 May's night runs into the window; the 2nd's night runs into the 3rd, a leave day
    assert [s.start.day for s in shifts] == [31, 1, 2, 6, 7]


def test_leave_for_someone_else_changes_nothing():
    pattern = weekly(tuple(range(7)), "09:00", "17:00")
    leave = Absence("e2", "Europe/London", date(2026, 6, 1), date(2026, 6, 30))
    assert len(expand([pattern], [leave], utc(2026, 6, 1), utc(2026, 6, 8))) == 7


@pytest.mark.parametrize(
    ("start", "end", "pieces"),
    [
        # the 09:00-17:00 BST shift with a 30 minute break at 12:00 local
        (datetime(2026, 6, 1, 13), datetime(2026, 6, 1, 14),
         [(utc(2026, 6, 1, 8), utc(2026, 6, 1, 12), 30),
          (utc(2026, 6, 1, 13), utc(2026, 6, 1, 16), 0)]),
        (datetime(2026, 6, 1, 7), datetime(2026, 6, 1, 12, 15),
         [(utc(2026, 6, 1, 11, 15), utc(2026, 6, 1, 16), 15)]),
        (datetime(2026, 6, 1, 15), datetime(2026, 6, 1, 20),
         [(utc(2026, 6, 1, 8), utc(2026, 6, 1, 14), 30)]),
        (datetime(2026, 6, 1, 9), datetime(2026, 6, 1, 17), []),
        (datetime(2026, 6, 1, 17), datetime(2026, 6, 1, 18),
         [(utc(2026, 6, 1, 8), utc(2026, 6, 1, 16), 30)]),
    ],
)
def test_timed_absences_trim_shifts(start, end, pieces):
    pattern = weekly((0,), "09:00", "17:00", breaks=(Break(30, at=time(12)),))
    absence = Absence("e1", "Europe/London", start, end, "appointment")
    shifts = expand([pattern], [absence], utc(2026, 6, 1), utc(2026, 6, 2))
    assert [(s.start, s.end, s.break_time // timedelta(minutes=1)) for s in shifts] == pieces
    assert all(s.pattern_id == "w" for s in shifts)


def test_an_aware_absence_is_taken_as_given():
    pattern = weekly((0,), "09:00", "17:00")
    absence = Absence("e1", "Europe/London", utc(2026, 6, 1, 8), utc(2026, 6, 1, 12))
    (shift,) = expand([pattern], [absence], utc(2026, 6, 1), utc(2026, 6, 2))
    assert shift.start == utc(2026, 6, 1, 12)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2026, 6, 5), date(2026, 6, 1)),
        (datetime(2026, 6, 1, 12), datetime(2026, 6, 1, 11)),
        (date(2026, 6, 1), datetime(2026, 6, 2, 12)),
        (datetime(2026, 3, 29, 1, 10), datetime(2026, 3, 29, 2, 0)),  # both in the spring gap
    ],
)
def test_bad_absences_are_refused(start, end):
    with pytest.raises(InvalidInput) as caught:
        Absence("e1", "Europe/London", start, end)
    assert caught.value.details["field"] == "end"


def test_absence_json_round_trip():
    for absence in (Absence("e1", "Europe/London", date(2026, 8, 1), date(2026, 8, 14), "leave"),
                    Absence("e1", "UTC", datetime(2026, 8, 1, 9), datetime(2026, 8, 1, 11),
                            "dentist", "a1")):
        assert Absence.from_json(absence.to_json()) == absence


# -- JSON ---------------------------------------------------------------------------------------

EXAMPLES = [
    weekly((0, 2, 4), "19:00", "07:00", breaks=(Break(30, offset_min=240), Break(20, at=time(3)))),
    Weekly("w2", "e1", "Asia/Kolkata", days=(5, 6), start=time(8, 30), end=time(12),
           starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31)),
    preset("continental", id="c", expert_id="e1", tz="Australia/Sydney", anchor=date(2026, 1, 5),
           day=ShiftTime(time(7), time(19), (Break(45, offset_min=300),)), night=night_shift()),
    on_off(3, 2, id="c2", expert_id="e1", tz="UTC", anchor=date(2026, 1, 1), shift=day_shift()),
    OneOff("o", "e1", "America/New_York", start=datetime(2026, 7, 4, 10),
           end=datetime(2026, 7, 4, 14), breaks=(Break(15, at=time(12)),)),
]


@pytest.mark.parametrize("pattern", EXAMPLES, ids=lambda p: p.kind)
def test_patterns_round_trip_through_json(pattern):
    data = pattern.to_json()
    assert data["kind"] == pattern.kind
    assert pattern_from_json(data) == pattern
    assert pattern_from_json(json.loads(json.dumps(data))) == pattern


def test_weekly_json_is_readable():
    assert EXAMPLES[0].to_json() == {
        "kind": "weekly", "id": "w", "expert_id": "e1", "tz": "Europe/London",
        "days": ["mon", "wed", "fri"], "start": "19:00", "end": "07:00",
        "breaks": [{"offset_min": 240, "minutes": 30}, {"at": "03:00", "minutes": 20}],
        "starts_on": None, "ends_on": None}


def _edit(data: dict, path: str, value: object) -> dict:
    data = {**data}
    *parents, last = path.split(".")
    node = data
    for key in parents:
        key_i = int(key) if key.isdigit() else key
        node[key_i] = (dict if isinstance(node[key_i], dict) else list)(node[key_i])
        node = node[key_i]
    if value is KeyError:
        del node[int(last) if last.isdigit() else last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return data


@pytest.mark.parametrize(
    ("example", "path", "value", "field"),
    [
        (0, "tz", KeyError, "tz"),
        (0, "tz", "Europe/Londn", "tz"),
        (0, "kind", "fortnightly", "kind"),
        (0, "id", "", "id"),
        (0, "days", ["mon", "funday"], "days"),
        (0, "days", [], "days"),
        (0, "start", "25:00", "start"),
        (0, "start", "19:00+01:00", "start"),
        (0, "end", "19:00", "end"),
        (0, "starts_on", "2026-02-30", "starts_on"),
        (1, "ends_on", "2025-12-31", "ends_on"),
        (0, "breaks.0.minutes", 0, "breaks[0].minutes"),
        (0, "breaks.1.at", "3pm", "breaks[1].at"),
        (0, "breaks.0.offset_min", 700, "breaks[0]"),
        (0, "breaks", "lunch", "breaks"),
        (2, "sequence", "DDXX----", "sequence"),
        (2, "anchor", KeyError, "anchor"),
        (2, "times.N.start", "7pm", "times.N.start"),
        (2, "times", ["D"], "times"),
        (4, "end", "2026-07-04T09:00", "end"),
        (4, "start", "July 4th", "start"),
    ],
)
def test_bad_json_names_the_field(example, path, value, field):
    data = _edit(EXAMPLES[example].to_json(), path, value)
    with pytest.raises(InvalidInput) as caught:
        pattern_from_json(data)
    assert caught.value.details["field"] == field
    assert caught.value.message.startswith(field)


def test_patterns_are_frozen():
    with pytest.raises(AttributeError):
        EXAMPLES[0].tz = "UTC"  # type: ignore[misc]


# -- reconciliation helpers ---------------------------------------------------------------------

@pytest.fixture
def day_and_evening() -> list[Shift]:
    """09:00-13:00 and 13:00-17:00 back to back (BST), then 19:00-21:00 with a break."""
    return expand([weekly((0,), "09:00", "13:00", id="am"),
                   weekly((0,), "13:00", "17:00", id="pm"),
                   weekly((0,), "19:00", "21:00", id="eve", breaks=(Break(15, at=time(20)),))],
                  [], utc(2026, 6, 1), utc(2026, 6, 2))


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2026, 6, 1, 7), (None, None, False, utc(2026, 6, 1, 8))),
        (utc(2026, 6, 1, 8), ("am", 480, False, utc(2026, 6, 1, 12))),
        (utc(2026, 6, 1, 11, 30), ("am", 270, False, utc(2026, 6, 1, 12))),
        (utc(2026, 6, 1, 12), ("pm", 240, False, utc(2026, 6, 1, 16))),
        (utc(2026, 6, 1, 15, 59), ("pm", 1, False, utc(2026, 6, 1, 16))),
        (utc(2026, 6, 1, 16), (None, None, False, utc(2026, 6, 1, 18))),
        (utc(2026, 6, 1, 19, 5), ("eve", 55, True, utc(2026, 6, 1, 19, 15))),
        (utc(2026, 6, 1, 20), (None, None, False, None)),
    ],
)
def test_reconciliation_helpers(day_and_evening, now, expected):
    shift_id, left, breaking, change = expected
    current = current_shift(day_and_evening, now)
    assert (current.pattern_id if current else None) == shift_id
    assert on_shift(day_and_evening, now) is (shift_id is not None)
    assert minutes_left(day_and_evening, now) == left
    assert on_break(day_and_evening, now) is breaking
    assert next_change(day_and_evening, now) == change


def test_helpers_need_an_aware_now(day_and_evening):
    with pytest.raises(InvalidInput):
        on_shift(day_and_evening, datetime(2026, 6, 1, 12))


# -- properties ---------------------------------------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(patterns(), windows())
def test_expanded_shifts_are_well_formed(pattern, window):
    start, end = window
    shifts = expand([pattern], [], start, end)
    assert shifts == sorted(shifts, key=lambda s: s.start)
    for shift in shifts:
        assert shift.end > shift.start
        assert shift.start < end and shift.end > start  # overlaps the window
        assert shift.start.utcoffset() == timedelta(0)
        assert shift.pattern_id == pattern.id and shift.expert_id == pattern.expert_id
        assert all(shift.start <= b.start < b.end <= shift.end for b in shift.breaks)
    for before, after in pairwise(shifts):
        assert before.end <= after.start  # one pattern never overlaps itself


@settings(max_examples=100, deadline=None)
@given(patterns(), windows(), st.integers(1, 100))
def test_splitting_the_window_changes_no_shift(pattern, window, percent):
    start, end = window
    middle = start + (end - start) * percent / 101
    whole = set(expand([pattern], [], start, end))
    halves = set(expand([pattern], [], start, middle)) | set(expand([pattern], [], middle, end))
    assert whole == halves


@settings(max_examples=100, deadline=None)
@given(patterns(), windows(), st.lists(absences(), max_size=3))
def test_absences_leave_no_work_behind(pattern, window, away):
    pattern = pattern.__class__.from_json({**pattern.to_json(), "expert_id": "e1"})
    shifts = expand([pattern], away, *window)
    for shift in shifts:
        assert shift.end > shift.start
        for absence in away:
            if absence.timed:
                gap = absence.span()
                assert not shift.overlaps(gap.start, gap.end)
            else:
                starts = shift.start.astimezone(ZoneInfo(absence.tz)).date()
                assert not absence.start <= starts <= absence.end
    assert set(shifts) <= {piece for s in expand([pattern], [], *window)
                           for piece in _pieces_of(s, shifts)}


def _pieces_of(original: Shift, shifts: list[Shift]) -> list[Shift]:
    """The shifts lying inside ``original`` (what an absence could have left of it)."""
    return [s for s in shifts if original.start <= s.start and s.end <= original.end]
