"""Contacts forecast per skill and interval (half-hours by default) from arrival history.

Intervals are local to one time zone (citizens' demand follows their clock: Europe/London by
default) and are identified by their UTC start, so clock-change days have 46 or 50 half-hours.
An interval is *observed* on a past date when it lies wholly inside the history's span
``[since, until)``; an interval with no contacts on an observed date counts as a zero.

For each interval of the target day, looking back ``len(weights)`` weeks (4 by default):

1. ``weekday``: the same weekday and interval in each of the last weeks that were observed,
   weighted toward recent weeks (weights 4, 3, 2, 1 for last week ... four weeks ago,
   renormalised over the weeks that exist). Short history therefore just uses fewer weeks.
2. ``any_weekday``: when no same weekday was observed (less than a week of history), the mean of
   the same interval over every observed day in the look-back.
3. ``daily_mean``: when the interval was never observed (history began later that day, or the
   local time was skipped by a clock change), the mean contacts per observed interval in the
   look-back: the daily mean spread evenly.
4. ``none``: no history in the look-back at all: zero.

On the autumn clock change the repeated hour's intervals share one local slot; their history is
split evenly between the two occurrences.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from base.errors import InvalidInput
from scheduler.rota import to_utc, zone_of

WEIGHTS = (4.0, 3.0, 2.0, 1.0)
_DAY = timedelta(days=1)

Slot = tuple[date, int]


def day_intervals(day: date, zone: ZoneInfo, minutes: int = 30) -> list[tuple[datetime, int]]:
    """The intervals of local ``day``: (UTC start, local slot number from midnight)."""
    step = timedelta(minutes=minutes)
    moment, end = to_utc(day, time(0), zone), to_utc(day + _DAY, time(0), zone)
    out = []
    while moment < end:
        local = moment.astimezone(zone)
        out.append((moment, (local.hour * 60 + local.minute) // minutes))
        moment += step
    return out


@dataclass(frozen=True)
class History:
    """Arrivals counted per (skill, local date, slot), and the span the history covers."""

    tz: str
    interval_min: int
    since: datetime | None
    until: datetime | None
    counts: Mapping[tuple[str, date, int], int]
    skills: tuple[str, ...]

    def observed(self, first: date, last: date) -> dict[Slot, int]:
        """Observed (date, slot) pairs with ``first <= date < last``, and how often each slot
        occurs on its date (2 for the repeated autumn hour)."""
        if self.since is None or self.until is None:
            return {}
        zone, step = zone_of(self.tz), timedelta(minutes=self.interval_min)
        seen: Counter[Slot] = Counter()
        day = max(first, self.since.astimezone(zone).date())
        while day < last and to_utc(day, time(0), zone) < self.until:
            for start, slot in day_intervals(day, zone, self.interval_min):
                if self.since <= start and start + step <= self.until:
                    seen[(day, slot)] += 1
            day += _DAY
        return dict(seen)


def _bound(value: date | datetime | None, zone: ZoneInfo, path: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        if value is not None and value.utcoffset() is None:
            raise InvalidInput(f"{path}: must be a date or an aware datetime", field=path)
        return value
    if isinstance(value, date):
        return to_utc(value, time(0), zone)
    raise InvalidInput(f"{path}: must be a date or an aware datetime", field=path)


def build_history(arrivals: Iterable[tuple[datetime, str]], *, tz: str = "Europe/London",
                  interval_min: int = 30, since: date | datetime | None = None,
                  until: date | datetime | None = None) -> History:
    """Count ``(arrival time, skill)`` pairs. ``since``/``until`` bound the span the history
    covers (a date means its local midnight); by default from the first arrival's local midnight
    to the midnight after the last arrival's."""
    zone = zone_of(tz)
    if not isinstance(interval_min, int) or interval_min < 1 or 60 % interval_min:
        raise InvalidInput("interval_min: must divide an hour (15, 30, 60...)",
                           field="interval_min")
    counts: Counter[tuple[str, date, int]] = Counter()
    first = last = None
    for i, (moment, skill) in enumerate(arrivals):
        if not isinstance(moment, datetime) or moment.utcoffset() is None:
            raise InvalidInput(f"arrivals[{i}]: time must be an aware datetime",
                               field=f"arrivals[{i}]")
        local = moment.astimezone(zone)
        counts[(str(skill), local.date(), (local.hour * 60 + local.minute) // interval_min)] += 1
        first = local.date() if first is None else min(first, local.date())
        last = local.date() if last is None else max(last, local.date())
    start = _bound(since, zone, "since") or _bound(first, zone, "since")
    end = _bound(until, zone, "until") or _bound(last and last + _DAY, zone, "until")
    skills = tuple(sorted({skill for skill, _, _ in counts}))
    return History(tz, interval_min, start, end, MappingProxyType(dict(counts)), skills)


@dataclass(frozen=True)
class Forecast:
    """Expected contacts per skill in each interval of one local day."""

    day: date
    tz: str
    interval_min: int
    intervals: tuple[datetime, ...]
    methods: tuple[str, ...]
    contacts: Mapping[str, tuple[float, ...]]

    def per_hour(self, skill: str) -> tuple[float, ...]:
        """The forecast for ``skill`` as arrival rates per hour (for the Erlang functions)."""
        scale = 60 / self.interval_min
        return tuple(c * scale for c in self.contacts.get(skill, (0.0,) * len(self.intervals)))

    def to_json(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "tz": self.tz, "interval_min": self.interval_min,
                "intervals": [t.astimezone(UTC).isoformat() for t in self.intervals],
                "methods": list(self.methods),
                "contacts": {k: list(v) for k, v in self.contacts.items()}}


def _check_weights(weights: Sequence[float]) -> tuple[float, ...]:
    values = tuple(weights)
    if not values or any(not isinstance(w, int | float) or w < 0 for w in values) or not sum(
            values):
        raise InvalidInput("weights: must be non-negative numbers, not all zero",
                           field="weights")
    return tuple(float(w) for w in values)


def forecast(history: History, day: date, *, weights: Sequence[float] = WEIGHTS,
             skills: Iterable[str] = ()) -> Forecast:
    """Expected contacts per skill for each interval of local ``day``, from history before it.

    ``weights[k]`` weighs the same weekday ``k + 1`` weeks back; the look-back is
    ``len(weights)`` weeks. ``skills`` adds skills to forecast even without history (zeros).
    """
    weights = _check_weights(weights)
    zone = zone_of(history.tz)
    names = tuple(sorted({*history.skills, *skills}))
    seen = history.observed(day - len(weights) * 7 * _DAY, day)
    intervals = day_intervals(day, zone, history.interval_min)
    per_slot: dict[int, tuple[str, dict[str, float]]] = {}
    for _, slot in intervals:
        if slot not in per_slot:
            per_slot[slot] = _estimate(history, names, seen, day=day, slot=slot,
                                       weights=weights)
    contacts = {name: tuple(per_slot[slot][1][name] for _, slot in intervals) for name in names}
    return Forecast(day, history.tz, history.interval_min, tuple(t for t, _ in intervals),
                    tuple(per_slot[slot][0] for _, slot in intervals), MappingProxyType(contacts))


def _value(history: History, skill: str, key: Slot, seen: Mapping[Slot, int]) -> float:
    return history.counts.get((skill, *key), 0) / seen[key]


def _mean(history: History, names: Sequence[str], keys: Sequence[tuple[float, Slot]],
          seen: Mapping[Slot, int]) -> dict[str, float]:
    total = sum(w for w, _ in keys)
    return {name: sum(w * _value(history, name, key, seen) for w, key in keys) / total
            for name in names}


def _estimate(history: History, names: Sequence[str], seen: Mapping[Slot, int], *, day: date,
              slot: int, weights: Sequence[float]) -> tuple[str, dict[str, float]]:
    same_weekday = [(w, (day - 7 * (k + 1) * _DAY, slot)) for k, w in enumerate(weights)]
    keys = [(w, key) for w, key in same_weekday if key in seen and w > 0]
    if keys:
        return "weekday", _mean(history, names, keys, seen)
    keys = [(1.0, key) for key in seen if key[1] == slot]
    if keys:
        return "any_weekday", _mean(history, names, keys, seen)
    if seen:
        # weighted by occurrences: total contacts over observed intervals
        spread = [(float(count), key) for key, count in seen.items()]
        return "daily_mean", _mean(history, names, spread, seen)
    return "none", dict.fromkeys(names, 0.0)
