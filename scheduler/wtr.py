"""UK Working Time Regulations 1998 checks over concrete shifts (adult workers).

``check(shifts)`` looks at each expert's shifts separately and returns the violations found, each
with the shifts involved; an empty list means the rota complies. The rules and how they are read:

* ``daily_rest`` (reg. 10): 11 consecutive hours of rest in each 24 hours. Shifts less than 11 h
  apart form one duty period (a split shift, or a shift cut in two by an appointment); a duty
  period spanning more than 13 h leaves under 11 h of rest in the 24 h from its start.
* ``rest_break`` (reg. 12): a duty period with more than 6 h of working time (shift time less
  breaks) needs one uninterrupted rest of at least 20 minutes inside it: a break, or a gap
  between its shifts.
* ``weekly_rest`` (reg. 11): 24 uninterrupted hours off inside each 7-day reference period. The
  periods are fixed weeks starting at ``week_start`` (default Monday 00:00 UTC, the regulations'
  default of weeks starting at midnight between Sunday and Monday; pass the expert's local
  Monday midnight to use their own weeks). Rest straddling two periods counts in each only for
  the part inside it.
* ``average_week`` (reg. 4): at most 48 h of working time a week on average over 17 weeks, checked
  over every run of 17 consecutive reference weeks (a rolling reference period); shifts spanning
  fewer weeks are averaged over the weeks they span, as a rota that repeats would be. Experts
  who signed the opt-out (``opted_out``) are not checked.
* ``overlap``: two shifts of one expert at the same time (double booking).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from base.errors import InvalidInput
from scheduler.rota import Shift

_WEEK = timedelta(days=7)
_HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Limits:
    """The limits checked; ``UK`` holds the regulations' figures for adult workers."""

    daily_rest: timedelta = timedelta(hours=11)
    break_after: timedelta = timedelta(hours=6)
    min_break: timedelta = timedelta(minutes=20)
    weekly_rest: timedelta = timedelta(hours=24)
    max_average_week: timedelta = timedelta(hours=48)
    reference_weeks: int = 17


UK = Limits()


@dataclass(frozen=True)
class Violation:
    """One broken rule, a readable explanation, and the shifts involved."""

    rule: str
    message: str
    shifts: tuple[Shift, ...]

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "message": self.message,
                "shifts": [s.to_json() for s in self.shifts]}


def _hours(span: timedelta) -> str:
    return f"{span / _HOUR:.1f} h"


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def working_time(shift: Shift, start: datetime | None = None,
                 end: datetime | None = None) -> timedelta:
    """Shift time less breaks, optionally only the part inside ``[start, end)``."""
    part = shift.clipped(start or shift.start, end or shift.end)
    return timedelta() if part is None else part.duration - part.break_time


def check(shifts: Iterable[Shift], *, opted_out: Iterable[str] = (),
          week_start: datetime | None = None, limits: Limits = UK) -> list[Violation]:
    """Every violation in ``shifts``, expert by expert; ``opted_out`` lists experts who signed
    the 48-hour opt-out. ``week_start`` anchors the 7-day reference periods."""
    if week_start is not None and (not isinstance(week_start, datetime)
                                   or week_start.utcoffset() is None):
        raise InvalidInput("week_start: must be an aware datetime", field="week_start")
    by_expert: dict[str, list[Shift]] = {}
    for shift in shifts:
        by_expert.setdefault(shift.expert_id, []).append(shift)
    skip = set(opted_out)
    found: list[Violation] = []
    for expert_id, mine in sorted(by_expert.items()):
        mine.sort(key=lambda s: (s.start, s.end))
        anchor = week_start or _monday(mine[0].start)
        found += _overlaps(mine)
        blocks = duty_periods(mine, limits.daily_rest)
        found += [v for block in blocks for v in _block_violations(block, limits)]
        found += _weekly_rest(mine, anchor, limits)
        if expert_id not in skip:
            found += _average_week(mine, anchor, limits)
    return found


def _monday(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def _overlaps(shifts: Sequence[Shift]) -> list[Violation]:
    found = []
    for before, after in pairwise(shifts):
        if after.start < before.end:
            found.append(Violation("overlap", f"shifts overlap from {_when(after.start)}",
                                   (before, after)))
    return found


def duty_periods(shifts: Sequence[Shift], rest: timedelta = UK.daily_rest) -> list[list[Shift]]:
    """Shifts (sorted by start) grouped into duty periods: consecutive shifts less than ``rest``
    apart belong together."""
    blocks: list[list[Shift]] = []
    end: datetime | None = None
    for shift in shifts:
        if end is None or shift.start - end >= rest:
            blocks.append([])
            end = shift.end
        blocks[-1].append(shift)
        end = max(end, shift.end)
    return blocks


def _block_violations(block: list[Shift], limits: Limits) -> list[Violation]:
    found = []
    span = max(s.end for s in block) - block[0].start
    if span > timedelta(hours=24) - limits.daily_rest:
        found.append(Violation("daily_rest", _daily_rest_message(block, span, limits),
                               tuple(block)))
    work = sum((working_time(s) for s in block), timedelta())
    if work > limits.break_after and _longest_rest(block) < limits.min_break:
        found.append(Violation(
            "rest_break", f"{_hours(work)} of work from {_when(block[0].start)} without an "
            f"uninterrupted break of {limits.min_break / timedelta(minutes=1):.0f} minutes",
            tuple(block)))
    return found


def _daily_rest_message(block: list[Shift], span: timedelta, limits: Limits) -> str:
    if len(block) == 1:
        return (f"a {_hours(span)} shift from {_when(block[0].start)} leaves less than "
                f"{_hours(limits.daily_rest)} of rest in 24 h")
    gap, later = min(((b.start - a.end, b) for a, b in pairwise(block)), key=lambda g: g[0])
    return (f"only {_hours(max(gap, timedelta()))} of rest before the shift at "
            f"{_when(later.start)} (needs {_hours(limits.daily_rest)} in each 24 h)")


def _longest_rest(block: list[Shift]) -> timedelta:
    breaks = [b.duration for s in block for b in s.breaks]
    gaps = [b.start - a.end for a, b in pairwise(block)]
    return max([*breaks, *gaps], default=timedelta())


def _weeks(shifts: Sequence[Shift], anchor: datetime) -> list[datetime]:
    """Starts of the 7-day reference periods from the first shift's to the last shift's."""
    first = (shifts[0].start - anchor) // _WEEK
    last = (max(s.end for s in shifts) - timedelta(microseconds=1) - anchor) // _WEEK
    return [anchor + k * _WEEK for k in range(first, last + 1)]


def _weekly_rest(shifts: Sequence[Shift], anchor: datetime, limits: Limits) -> list[Violation]:
    found = []
    for week in _weeks(shifts, anchor):
        inside = [s for s in shifts if s.overlaps(week, week + _WEEK)]
        longest = _longest_free(inside, week, week + _WEEK)
        if longest < limits.weekly_rest:
            found.append(Violation(
                "weekly_rest", f"the week from {_when(week)} has at most {_hours(longest)} "
                f"off in one stretch (needs {_hours(limits.weekly_rest)})", tuple(inside)))
    return found


def _longest_free(shifts: Sequence[Shift], start: datetime, end: datetime) -> timedelta:
    longest, free_from = timedelta(), start
    for shift in sorted(shifts, key=lambda s: s.start):
        longest = max(longest, shift.start - free_from)
        free_from = max(free_from, shift.end)
    return max(longest, end - free_from)


def _average_week(shifts: Sequence[Shift], anchor: datetime, limits: Limits) -> list[Violation]:
    weeks = _weeks(shifts, anchor)
    hours = [sum((working_time(s, w, w + _WEEK) for s in shifts), timedelta()) for w in weeks]
    size = min(limits.reference_weeks, len(weeks))
    totals = [sum(hours[i:i + size], timedelta()) for i in range(len(weeks) - size + 1)]
    worst = max(range(len(totals)), key=totals.__getitem__)
    average = totals[worst] / size
    if average <= limits.max_average_week:
        return []
    begin, end = weeks[worst], weeks[worst] + size * _WEEK
    return [Violation(
        "average_week", f"{_hours(average)} a week on average over the {size} weeks from "
        f"{_when(begin)} (limit {_hours(limits.max_average_week)} without an opt-out)",
        tuple(s for s in shifts if s.overlaps(begin, end)))]
