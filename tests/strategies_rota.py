"""Hypothesis strategies for the scheduler: Erlang loads, shift patterns, windows, absences.

Time zones are chosen so that clock changes are exercised: Europe/London, Australia/Sydney
(southern-hemisphere dates), America/New_York (other dates), Australia/Lord_Howe (a 30-minute
change), Asia/Kolkata and UTC (none).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import strategies as st

from scheduler.rota import Absence, Break, Cycle, OneOff, Pattern, ShiftTime, Weekly

ZONES = ("Europe/London", "Australia/Sydney", "America/New_York", "Australia/Lord_Howe",
         "Asia/Kolkata", "UTC")
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)


def erlang_loads() -> st.SearchStrategy[tuple[float, float, float, float | None]]:
    """``(per_hour, aht_s, target_s, patience_s or None)`` for a contact centre queue."""
    return st.tuples(
        st.floats(1, 4000, allow_nan=False),
        st.floats(30, 1200, allow_nan=False),
        st.sampled_from([0.0, 10.0, 20.0, 30.0, 60.0, 120.0]),
        st.none() | st.floats(5, 3600, allow_nan=False),
    )


def walls() -> st.SearchStrategy[time]:
    """Local wall times on a 5-minute grid (which reaches into the spring gaps)."""
    return st.builds(time, st.integers(0, 23), st.sampled_from(range(0, 60, 5)))


@st.composite
def shift_times(draw: st.DrawFn) -> ShiftTime:
    start, end = draw(walls()), draw(walls())
    if start == end:
        end = (datetime.combine(date(2026, 1, 1), end) + timedelta(hours=8)).time()
    probe = ShiftTime(start, end)
    breaks: list[Break] = []
    if probe.nominal_minutes > 60 and draw(st.booleans()):
        minutes = draw(st.integers(10, 45))
        offset = draw(st.integers(0, probe.nominal_minutes - minutes))
        if draw(st.booleans()):
            breaks.append(Break(minutes, offset_min=offset))
        else:
            at = datetime.combine(date(2026, 1, 1), start) + timedelta(minutes=offset)
            breaks.append(Break(minutes, at=at.time()))
    return ShiftTime(start, end, tuple(breaks))


def _owner(prefix: str) -> dict[str, st.SearchStrategy]:
    return {"id": st.just(f"{prefix}-1"), "expert_id": st.sampled_from(["e1", "e2"]),
            "tz": st.sampled_from(ZONES)}


@st.composite
def weekly_patterns(draw: st.DrawFn) -> Weekly:
    owner = {k: draw(v) for k, v in _owner("weekly").items()}
    shift = draw(shift_times())
    days = tuple(draw(st.sets(st.integers(0, 6), min_size=1)))
    return Weekly(**owner, days=days, start=shift.start, end=shift.end, breaks=shift.breaks)


@st.composite
def cycle_patterns(draw: st.DrawFn) -> Cycle:
    owner = {k: draw(v) for k, v in _owner("cycle").items()}
    sequence = draw(st.text(alphabet="DN-", min_size=1, max_size=14))
    times = {"D": draw(shift_times()), "N": draw(shift_times())}
    anchor = draw(st.dates(date(2025, 11, 1), date(2026, 12, 31)))
    return Cycle(**owner, anchor=anchor, sequence=sequence, times=tuple(times.items()))


@st.composite
def one_offs(draw: st.DrawFn) -> OneOff:
    owner = {k: draw(v) for k, v in _owner("oneoff").items()}
    start = datetime.combine(draw(st.dates(date(2026, 1, 1), date(2026, 12, 31))), draw(walls()))
    end = start + timedelta(minutes=draw(st.integers(5, 60 * 30)) // 5 * 5)
    return OneOff(**owner, start=start, end=end)


def patterns() -> st.SearchStrategy[Pattern]:
    return st.one_of(weekly_patterns(), cycle_patterns(), one_offs())


@st.composite
def windows(draw: st.DrawFn) -> tuple[datetime, datetime]:
    """A UTC window of a few hours to three weeks somewhere in 2026."""
    start = YEAR_START + timedelta(minutes=draw(st.integers(0, 364 * 24 * 60)))
    return start, start + timedelta(minutes=draw(st.integers(60, 21 * 24 * 60)))


@st.composite
def absences(draw: st.DrawFn, expert_id: str = "e1") -> Absence:
    tz = draw(st.sampled_from(ZONES))
    first = draw(st.dates(date(2026, 1, 1), date(2026, 12, 31)))
    if draw(st.booleans()):
        return Absence(expert_id, tz, first, first + timedelta(days=draw(st.integers(0, 10))))
    start = datetime.combine(first, draw(walls()))
    return Absence(expert_id, tz, start, start + timedelta(minutes=draw(st.integers(90, 3000))))
