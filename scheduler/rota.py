"""Shift patterns in each expert's own time zone, and their expansion into concrete shifts.

Patterns are frozen dataclasses that round-trip through JSON (``to_json`` / ``pattern_from_json``)
so they can be stored as a JSON column; every constructor validates and raises ``InvalidInput``
naming the offending field.

* ``Weekly``: the same local start/end on some days of the week.
* ``Cycle``: a repeating day sequence from an anchor date, e.g. ``"DDDD----"`` (4 on, 4 off);
  each letter names a shift time, ``-`` is a day off. ``on_off(n, m, ...)`` and
  ``preset(name, ...)`` build the usual ones (see ``PRESETS``).
* ``OneOff``: one shift with explicit local start and end.
* ``Absence``: leave or an appointment. A *date* range (inclusive, local dates) cancels every shift
  that starts on one of those dates, so a night shift that began the evening before leave starts
  is still worked. A *datetime* range trims: the overlapping time is cut out of any shift, which may
  leave two pieces.

Local wall times stay right across clock changes: a 19:00-07:00 Europe/London night lasts 11 h on
29 March 2026 and 13 h on 25 October 2026. A local time that does not exist (in the spring gap)
moves forward by the gap (01:30 becomes 02:30 BST); an ambiguous one (in the autumn overlap) means
its first occurrence (``fold=0``, 01:30 BST). A break given as ``offset_min`` is measured in
elapsed minutes from the shift's start; one given ``at`` a local time is that wall time on the
shift's first day (the next day if earlier than the start). Breaks are clipped to their shift.
Should a clock change stretch a shift into the next one from the same pattern, the earlier one
ends where the later one starts, so one pattern never yields overlapping shifts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any, ClassVar, TypedDict, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from base.errors import InvalidInput

_Iso = TypeVar("_Iso", date, datetime, time)  # what ``_parse`` reads from ISO strings

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OFF = "-"
PRESETS: Mapping[str, str] = {
    # 8-day cycle: four on, four off. Four crews (anchors 0, 2, 4, 6 days apart with day and
    # night crews) or two crews per shift cover every day.
    "4-on-4-off": "DDDD----",
    # Panama 2-2-3, 14-day cycle: on 2, off 2, on 3, off 2, on 2, off 3.
    "2-2-3": "DD--DDD--DD---",
    # Continental, the 8-day "2 days, 2 nights, 4 off" rotation (not the 4-team 28-day
    # variant): four teams anchored 2 days apart cover 24/7 with 12-hour shifts.
    "continental": "DDNN----",
}
_DAY = timedelta(days=1)


def _invalid(path: str, problem: str) -> InvalidInput:
    return InvalidInput(f"{path}: {problem}", field=path)


def zone_of(tz: str, path: str = "tz") -> ZoneInfo:
    """The IANA zone named ``tz``, or InvalidInput naming ``path``."""
    if not isinstance(tz, str) or not tz:
        raise _invalid(path, "must be an IANA time zone name such as 'Europe/London'")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise _invalid(path, f"unknown time zone {tz!r}") from None


def to_utc(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local wall time: a time in the spring gap moves forward by the gap,
    an ambiguous autumn time is its first occurrence (``fold=0``)."""
    return datetime.combine(day, wall.replace(fold=0), tzinfo=zone).astimezone(UTC)


# -- concrete shifts ----------------------------------------------------------------------------

@dataclass(frozen=True, order=True)
class Interval:
    """A half-open span ``[start, end)`` of aware UTC datetimes."""

    start: datetime
    end: datetime

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def to_json(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


@dataclass(frozen=True)
class Shift:
    """One concrete shift: aware UTC start and end, its breaks, and the pattern it came from."""

    expert_id: str
    start: datetime
    end: datetime
    breaks: tuple[Interval, ...] = ()
    pattern_id: str = ""

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def break_time(self) -> timedelta:
        return sum((b.duration for b in self.breaks), timedelta())

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.start < end and start < self.end

    def clipped(self, start: datetime, end: datetime) -> Shift | None:
        """This shift cut to ``[start, end)`` (breaks clipped too), or None when nothing is left."""
        start, end = max(start, self.start), min(end, self.end)
        if end <= start:
            return None
        return replace(self, start=start, end=end, breaks=_clip_breaks(self.breaks, start, end))

    def to_json(self) -> dict[str, Any]:
        return {"expert_id": self.expert_id, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "breaks": [b.to_json() for b in self.breaks],
                "pattern_id": self.pattern_id}


def _clip_breaks(breaks: Iterable[Interval], start: datetime,
                 end: datetime) -> tuple[Interval, ...]:
    kept = (Interval(max(b.start, start), min(b.end, end)) for b in breaks)
    return tuple(sorted(b for b in kept if b.end > b.start))


# -- JSON parsing helpers -----------------------------------------------------------------------

def _get(data: Mapping[str, Any], key: str, path: str, default: Any = ...) -> Any:
    if not isinstance(data, Mapping):
        raise _invalid(path or "pattern", "must be a JSON object")
    if key in data and data[key] is not None:
        return data[key]
    if default is ...:
        raise _invalid(_join(path, key), "is required")
    return default


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _nested(path: str, exc: InvalidInput) -> InvalidInput:
    """``exc`` re-raised under ``path`` (a field of a nested object)."""
    name = exc.details.get("field", "")
    if not path or not name or name.startswith(path):
        return exc
    return _invalid(_join(path, name), exc.message.removeprefix(f"{name}: "))


def _whole_minutes(value: time | datetime, path: str) -> None:
    if value.second or value.microsecond:
        raise _invalid(path, "must be in whole minutes")


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid(path, "must be a non-empty string")
    return value


def _parse(kind: type[_Iso], value: Any, path: str) -> _Iso:
    if isinstance(value, kind) and not (kind is date and isinstance(value, datetime)):
        return value
    if not isinstance(value, str):
        raise _invalid(path, f"must be an ISO {kind.__name__} string")
    try:
        return kind.fromisoformat(value)
    except ValueError:
        raise _invalid(path, f"not an ISO {kind.__name__}: {value!r}") from None


def _wall(value: Any, path: str) -> time:
    wall = _parse(time, value, path)
    if wall.tzinfo is not None:
        raise _invalid(path, "must be a local wall time without an offset")
    _whole_minutes(wall, path)
    return wall


def _opt_date(data: Mapping[str, Any], key: str, path: str) -> date | None:
    value = _get(data, key, path, None)
    return None if value is None else _parse(date, value, _join(path, key))


def _opt_iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _minutes(wall: time) -> int:
    return wall.hour * 60 + wall.minute


# -- pattern building blocks --------------------------------------------------------------------

@dataclass(frozen=True)
class Break:
    """A break of ``minutes``: ``offset_min`` minutes after the shift starts, or ``at`` a local
    wall time."""

    minutes: int
    offset_min: int | None = None
    at: time | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.minutes, int) or self.minutes < 1:
            raise _invalid("minutes", "must be a whole number of minutes, at least 1")
        if (self.offset_min is None) == (self.at is None):
            raise _invalid("offset_min", "give exactly one of offset_min and at")
        if self.offset_min is not None and (not isinstance(self.offset_min, int)
                                            or self.offset_min < 0):
            raise _invalid("offset_min", "must be a whole number of minutes, 0 or more")
        if self.at is not None:
            if not isinstance(self.at, time) or self.at.tzinfo is not None:
                raise _invalid("at", "must be a local wall time")
            _whole_minutes(self.at, "at")

    def minutes_in(self, start: time) -> int:
        """Minutes from a shift's nominal local start to this break."""
        if self.offset_min is not None:
            return self.offset_min
        assert self.at is not None
        return (_minutes(self.at) - _minutes(start)) % 1440

    def span(self, start: datetime, first_day: date, start_wall: time,
             zone: ZoneInfo) -> Interval:
        if self.offset_min is not None:
            begin = start + timedelta(minutes=self.offset_min)
        else:
            assert self.at is not None
            day = first_day if self.at >= start_wall else first_day + _DAY
            begin = to_utc(day, self.at, zone)
        return Interval(begin, begin + timedelta(minutes=self.minutes))

    def to_json(self) -> dict[str, Any]:
        where = {"offset_min": self.offset_min} if self.at is None else {
            "at": self.at.isoformat("minutes")}
        return {**where, "minutes": self.minutes}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], path: str = "break") -> Break:
        minutes = _get(data, "minutes", path)
        offset = _get(data, "offset_min", path, None)
        at = _get(data, "at", path, None)
        try:
            return cls(minutes, offset, None if at is None else _wall(at, _join(path, "at")))
        except InvalidInput as exc:
            raise _nested(path, exc) from None


def _breaks_from_json(data: Mapping[str, Any], path: str) -> tuple[Break, ...]:
    raw = _get(data, "breaks", path, [])
    if not isinstance(raw, list):
        raise _invalid(_join(path, "breaks"), "must be a list")
    return tuple(Break.from_json(b, f"{_join(path, 'breaks')}[{i}]") for i, b in enumerate(raw))


@dataclass(frozen=True)
class ShiftTime:
    """Local start and end wall times (an end at or before the start is on the next day)."""

    start: time
    end: time
    breaks: tuple[Break, ...] = ()

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, time) or value.tzinfo is not None:
                raise _invalid(name, "must be a local wall time")
            _whole_minutes(value, name)
        if self.start == self.end:
            raise _invalid("end", "must differ from start")
        object.__setattr__(self, "breaks", tuple(self.breaks))
        for i, b in enumerate(self.breaks):
            if not isinstance(b, Break):
                raise _invalid(f"breaks[{i}]", "must be a Break")
            if b.minutes_in(self.start) + b.minutes > self.nominal_minutes:
                raise _invalid(f"breaks[{i}]", "must lie within the shift")

    @property
    def nominal_minutes(self) -> int:
        """Length on a day without a clock change."""
        return (_minutes(self.end) - _minutes(self.start)) % 1440 or 1440

    def on(self, day: date, zone: ZoneInfo, expert_id: str, pattern_id: str) -> Shift | None:
        """The concrete shift starting on local ``day``; None if a clock change leaves nothing."""
        start = to_utc(day, self.start, zone)
        end = to_utc(day if self.end > self.start else day + _DAY, self.end, zone)
        if end <= start:
            return None
        spans = (b.span(start, day, self.start, zone) for b in self.breaks)
        return Shift(expert_id, start, end, _clip_breaks(spans, start, end), pattern_id)

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start.isoformat("minutes"), "end": self.end.isoformat("minutes"),
                "breaks": [b.to_json() for b in self.breaks]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], path: str = "") -> ShiftTime:
        start = _wall(_get(data, "start", path), _join(path, "start"))
        end = _wall(_get(data, "end", path), _join(path, "end"))
        breaks = _breaks_from_json(data, path)
        try:
            return cls(start, end, breaks)
        except InvalidInput as exc:
            raise _nested(path, exc) from None


# -- patterns -----------------------------------------------------------------------------------

class _OwnerFields(TypedDict):
    """``_Owned``'s fields read from JSON."""

    id: str
    expert_id: str
    tz: str


class _DateFields(TypedDict):
    """``_Daily``'s optional dates read from JSON."""

    starts_on: date | None
    ends_on: date | None


@dataclass(frozen=True)
class _Owned:
    """Fields every pattern has: its id, the expert, and the expert's time zone."""

    id: str
    expert_id: str
    tz: str

    def _check_owner(self) -> None:
        for name in ("id", "expert_id"):
            _text(getattr(self, name), name)
        zone_of(self.tz)

    def _owner_json(self, kind: str) -> dict[str, Any]:
        return {"kind": kind, "id": self.id, "expert_id": self.expert_id, "tz": self.tz}

    @staticmethod
    def _owner_from_json(data: Mapping[str, Any]) -> _OwnerFields:
        return _OwnerFields(id=_text(_get(data, "id", ""), "id"),
                            expert_id=_text(_get(data, "expert_id", ""), "expert_id"),
                            tz=_text(_get(data, "tz", ""), "tz"))


@dataclass(frozen=True)
class _Daily(_Owned):
    """A pattern that starts at most one shift per local date, optionally within dates."""

    starts_on: date | None = field(default=None, kw_only=True)
    ends_on: date | None = field(default=None, kw_only=True)

    def _check_dates(self) -> None:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise _invalid("ends_on", "must not be before starts_on")

    def active_on(self, day: date) -> bool:
        return (self.starts_on is None or day >= self.starts_on) and (
            self.ends_on is None or day <= self.ends_on)

    def shift_time_on(self, day: date) -> ShiftTime | None:
        raise NotImplementedError

    def expand(self, start: datetime, end: datetime) -> list[Shift]:
        """Shifts of this pattern overlapping ``[start, end)``."""
        zone = zone_of(self.tz)
        first = start.astimezone(zone).date() - 2 * _DAY
        last = end.astimezone(zone).date() + _DAY
        made: list[Shift] = []
        for offset in range((last - first).days + 1):
            day = first + offset * _DAY
            shift_time = self.shift_time_on(day) if self.active_on(day) else None
            shift = shift_time.on(day, zone, self.expert_id, self.id) if shift_time else None
            if shift is not None:
                made.append(shift)
        return [s for s in _no_overlaps(made) if s.overlaps(start, end)]

    def _dates_json(self) -> dict[str, str | None]:
        return {"starts_on": _opt_iso(self.starts_on), "ends_on": _opt_iso(self.ends_on)}

    @staticmethod
    def _dates_from_json(data: Mapping[str, Any]) -> _DateFields:
        return _DateFields(starts_on=_opt_date(data, "starts_on", ""),
                           ends_on=_opt_date(data, "ends_on", ""))


def _no_overlaps(shifts: list[Shift]) -> list[Shift]:
    """End each shift no later than the next one starts (a clock change can stretch one)."""
    shifts = sorted(shifts, key=lambda s: s.start)
    out: list[Shift] = []
    for i, shift in enumerate(shifts):
        kept: Shift | None = shift
        if i + 1 < len(shifts) and shift.end > shifts[i + 1].start:
            kept = shift.clipped(shift.start, shifts[i + 1].start)
        if kept is not None:
            out.append(kept)
    return out


@dataclass(frozen=True)
class Weekly(_Daily):
    """The same local shift on the listed weekdays (0 = Monday ... 6 = Sunday)."""

    kind: ClassVar[str] = "weekly"
    days: tuple[int, ...]
    start: time
    end: time
    breaks: tuple[Break, ...] = ()

    def __post_init__(self) -> None:
        self._check_owner()
        self._check_dates()
        days = tuple(sorted(set(self.days))) if isinstance(self.days, Iterable) else ()
        if not days or any(not isinstance(d, int) or not 0 <= d <= 6 for d in days):
            raise _invalid("days", "must list weekdays 0 (Monday) to 6 (Sunday)")
        object.__setattr__(self, "days", days)
        object.__setattr__(self, "breaks", self.shift_time.breaks)

    @cached_property
    def shift_time(self) -> ShiftTime:
        return ShiftTime(self.start, self.end, tuple(self.breaks))

    def shift_time_on(self, day: date) -> ShiftTime | None:
        return self.shift_time if day.weekday() in self.days else None

    def to_json(self) -> dict[str, Any]:
        return {**self._owner_json(self.kind), "days": [WEEKDAYS[d] for d in self.days],
                **self.shift_time.to_json(), **self._dates_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Weekly:
        raw_days = _get(data, "days", "")
        if not isinstance(raw_days, list) or any(d not in WEEKDAYS for d in raw_days):
            raise _invalid("days", f"must be a list of {', '.join(WEEKDAYS)}")
        shift_time = ShiftTime.from_json(data)
        return cls(**cls._owner_from_json(data), days=tuple(WEEKDAYS.index(d) for d in raw_days),
                   start=shift_time.start, end=shift_time.end, breaks=shift_time.breaks,
                   **cls._dates_from_json(data))


@dataclass(frozen=True)
class Cycle(_Daily):
    """A day sequence repeating from ``anchor``: each letter is a shift time, ``-`` a day off."""

    kind: ClassVar[str] = "cycle"
    anchor: date
    sequence: str
    times: tuple[tuple[str, ShiftTime], ...]

    def __post_init__(self) -> None:
        self._check_owner()
        self._check_dates()
        if not isinstance(self.anchor, date) or isinstance(self.anchor, datetime):
            raise _invalid("anchor", "must be a date")
        times = dict(self.times.items() if isinstance(self.times, Mapping) else self.times)
        for letter, shift_time in times.items():
            if not isinstance(letter, str) or len(letter) != 1 or letter == OFF:
                raise _invalid("times", f"keys must be single letters other than {OFF!r}")
            if not isinstance(shift_time, ShiftTime):
                raise _invalid(f"times.{letter}", "must be a ShiftTime")
        object.__setattr__(self, "times", tuple(sorted(times.items())))
        if not isinstance(self.sequence, str) or not self.sequence:
            raise _invalid("sequence", "must be a non-empty string such as 'DDDD----'")
        unknown = sorted(set(self.sequence) - set(times) - {OFF})
        if unknown:
            raise _invalid("sequence", f"letters {unknown} have no entry in times")

    def shift_time_on(self, day: date) -> ShiftTime | None:
        letter = self.sequence[(day - self.anchor).days % len(self.sequence)]
        return next((t for key, t in self.times if key == letter), None)

    def to_json(self) -> dict[str, Any]:
        return {**self._owner_json(self.kind), "anchor": self.anchor.isoformat(),
                "sequence": self.sequence,
                "times": {letter: t.to_json() for letter, t in self.times},
                **self._dates_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Cycle:
        raw = _get(data, "times", "")
        if not isinstance(raw, Mapping):
            raise _invalid("times", "must map letters to shift times")
        times = tuple((str(k), ShiftTime.from_json(v, f"times.{k}")) for k, v in raw.items())
        return cls(**cls._owner_from_json(data), anchor=_parse(date, _get(data, "anchor", ""),
                                                                "anchor"),
                   sequence=_get(data, "sequence", ""), times=times,
                   **cls._dates_from_json(data))


@dataclass(frozen=True)
class OneOff(_Owned):
    """A single shift between two local wall datetimes (naive, in ``tz``)."""

    kind: ClassVar[str] = "one_off"
    start: datetime
    end: datetime
    breaks: tuple[Break, ...] = ()

    def __post_init__(self) -> None:
        self._check_owner()
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, datetime) or value.tzinfo is not None:
                raise _invalid(name, "must be a local date and time without an offset")
            _whole_minutes(value, name)
        if self.end <= self.start:
            raise _invalid("end", "must be after start")
        object.__setattr__(self, "breaks", tuple(self.breaks))
        minutes = (self.end - self.start) / timedelta(minutes=1)
        for i, b in enumerate(self.breaks):
            if b.minutes_in(self.start.time()) + b.minutes > minutes:
                raise _invalid(f"breaks[{i}]", "must lie within the shift")

    def expand(self, start: datetime, end: datetime) -> list[Shift]:
        zone = zone_of(self.tz)
        begin = to_utc(self.start.date(), self.start.time(), zone)
        finish = to_utc(self.end.date(), self.end.time(), zone)
        if finish <= begin or not (begin < end and start < finish):
            return []
        spans = (b.span(begin, self.start.date(), self.start.time(), zone) for b in self.breaks)
        return [Shift(self.expert_id, begin, finish, _clip_breaks(spans, begin, finish), self.id)]

    def to_json(self) -> dict[str, Any]:
        return {**self._owner_json(self.kind), "start": self.start.isoformat(timespec="minutes"),
                "end": self.end.isoformat(timespec="minutes"),
                "breaks": [b.to_json() for b in self.breaks]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OneOff:
        start = _parse(datetime, _get(data, "start", ""), "start")
        end = _parse(datetime, _get(data, "end", ""), "end")
        return cls(**cls._owner_from_json(data), start=start, end=end,
                   breaks=_breaks_from_json(data, ""))


Pattern = Weekly | Cycle | OneOff
_KINDS: Mapping[str, type[Weekly] | type[Cycle] | type[OneOff]] = {
    "weekly": Weekly, "cycle": Cycle, "one_off": OneOff}


def pattern_from_json(data: Mapping[str, Any]) -> Pattern:
    """A pattern from its ``to_json()`` form; InvalidInput names the first bad field."""
    kind = _get(data, "kind", "")
    if kind not in _KINDS:
        raise _invalid("kind", f"must be one of {', '.join(_KINDS)}")
    return _KINDS[kind].from_json(data)


def on_off(on_days: int, off_days: int, *, id: str, expert_id: str, tz: str, anchor: date,
           shift: ShiftTime, starts_on: date | None = None,
           ends_on: date | None = None) -> Cycle:
    """``on_days`` shifts then ``off_days`` off, repeating from ``anchor`` (the first on-day)."""
    for name, value in (("on_days", on_days), ("off_days", off_days)):
        if not isinstance(value, int) or value < (1 if name == "on_days" else 0):
            raise _invalid(name, "must be a whole number of days")
    return Cycle(id, expert_id, tz, anchor=anchor, sequence="D" * on_days + OFF * off_days,
                 times=(("D", shift),), starts_on=starts_on, ends_on=ends_on)


def preset(name: str, *, id: str, expert_id: str, tz: str, anchor: date, day: ShiftTime,
           night: ShiftTime | None = None, starts_on: date | None = None,
           ends_on: date | None = None) -> Cycle:
    """A named rotation from ``PRESETS``. ``day`` is the shift worked on on-days ("D"); the
    continental rotation also needs ``night`` ("N"). ``anchor`` is the cycle's first day."""
    if name not in PRESETS:
        raise _invalid("preset", f"must be one of {', '.join(PRESETS)}")
    sequence = PRESETS[name]
    times = [("D", day)]
    if "N" in sequence:
        if night is None:
            raise _invalid("night", f"the {name} rotation needs a night shift time")
        times.append(("N", night))
    return Cycle(id, expert_id, tz, anchor=anchor, sequence=sequence, times=tuple(times),
                 starts_on=starts_on, ends_on=ends_on)


# -- absences -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Absence:
    """Leave (``date`` range, inclusive: cancels shifts starting on those local dates) or a
    timed absence (``datetime`` range, naive = local in ``tz``: trims shifts)."""

    expert_id: str
    tz: str
    start: date | datetime
    end: date | datetime
    reason: str = ""
    id: str = ""

    def __post_init__(self) -> None:
        _text(self.expert_id, "expert_id")
        zone_of(self.tz)
        if not isinstance(self.start, date) or not isinstance(self.end, date) or (
                self.timed != isinstance(self.end, datetime)):
            raise _invalid("end", "start and end must both be dates or both be datetimes")
        if self.timed:
            span = self.span()
            if span.end <= span.start:
                raise _invalid("end", "must be after start")
        elif self.end < self.start:
            raise _invalid("end", "must not be before start")

    @property
    def timed(self) -> bool:
        return isinstance(self.start, datetime)

    def span(self) -> Interval:
        """The absence as a UTC interval (a date range runs from midnight to midnight)."""
        zone = zone_of(self.tz)

        def instant(value: date, next_day: bool) -> datetime:
            if isinstance(value, datetime):
                return to_utc(value.date(), value.time(), zone) if value.tzinfo is None \
                    else value.astimezone(UTC)
            return to_utc(value + (_DAY if next_day else timedelta()), time(0), zone)

        return Interval(instant(self.start, False), instant(self.end, True))

    def apply(self, shift: Shift) -> list[Shift]:
        """What is left of ``shift`` after this absence."""
        if not self.timed:
            starts = shift.start.astimezone(zone_of(self.tz)).date()
            return [] if self.start <= starts <= self.end else [shift]
        gap = self.span()
        if not shift.overlaps(gap.start, gap.end):
            return [shift]
        pieces = (shift.clipped(shift.start, gap.start), shift.clipped(gap.end, shift.end))
        return [p for p in pieces if p is not None]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "expert_id": self.expert_id, "tz": self.tz,
                "start": self.start.isoformat(), "end": self.end.isoformat(),
                "reason": self.reason}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Absence:
        start, end = (_absence_bound(_get(data, key, ""), key) for key in ("start", "end"))
        return cls(_text(_get(data, "expert_id", ""), "expert_id"), _get(data, "tz", ""),
                   start, end, str(_get(data, "reason", "", "")), str(_get(data, "id", "", "")))


def _absence_bound(value: Any, path: str) -> date | datetime:
    if isinstance(value, str) and "T" not in value and " " not in value:
        return _parse(date, value, path)
    return _parse(datetime, value, path)


# -- expansion ----------------------------------------------------------------------------------

def _check_window(start: datetime, end: datetime) -> None:
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise _invalid(name, "must be an aware datetime")
    if end <= start:
        raise _invalid("end", "must be after start")


def expand(patterns: Iterable[Pattern], absences: Iterable[Absence], start_utc: datetime,
           end_utc: datetime) -> list[Shift]:
    """Concrete shifts (aware UTC) overlapping ``[start_utc, end_utc)``, sorted by start.

    Shifts are whole, not clipped to the window: one that began before it and runs into it is
    included. Absences apply to the shifts of their own expert.
    """
    _check_window(start_utc, end_utc)
    start_utc, end_utc = start_utc.astimezone(UTC), end_utc.astimezone(UTC)
    away: dict[str, list[Absence]] = {}
    for absence in absences:
        away.setdefault(absence.expert_id, []).append(absence)
    shifts: list[Shift] = []
    for pattern in patterns:
        for shift in pattern.expand(start_utc, end_utc):
            shifts.extend(_after_absences(shift, away.get(shift.expert_id, ())))
    kept = (s for s in shifts if s.overlaps(start_utc, end_utc))
    return sorted(kept, key=lambda s: (s.start, s.end, s.expert_id, s.pattern_id))


def _after_absences(shift: Shift, absences: Sequence[Absence]) -> list[Shift]:
    pieces = [shift]
    for absence in absences:
        pieces = [rest for piece in pieces for rest in absence.apply(piece)]
    return pieces


# -- reconciliation helpers ---------------------------------------------------------------------

def _aware(now: datetime) -> datetime:
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise _invalid("now", "must be an aware datetime")
    return now


def current_shift(shifts: Iterable[Shift], now: datetime) -> Shift | None:
    """The shift running at ``now`` (the one ending last if several), or None."""
    now = _aware(now)
    running = [s for s in shifts if s.start <= now < s.end]
    return max(running, key=lambda s: s.end, default=None)


def on_shift(shifts: Iterable[Shift], now: datetime) -> bool:
    """Whether a shift is running at ``now`` (breaks included: see ``on_break``)."""
    return current_shift(shifts, now) is not None


def on_break(shifts: Iterable[Shift], now: datetime) -> bool:
    """Whether ``now`` falls in a break of a running shift."""
    now = _aware(now)
    return any(s.start <= now < s.end and any(b.start <= now < b.end for b in s.breaks)
               for s in shifts)


def minutes_left(shifts: Iterable[Shift], now: datetime) -> float | None:
    """Minutes until the expert goes off shift (following back-to-back shifts), or None if off."""
    shifts = list(shifts)
    current = current_shift(shifts, now)
    if current is None:
        return None
    end = current.end
    extended = True
    while extended:
        later = [s.end for s in shifts if s.start <= end < s.end]
        extended = bool(later)
        end = max(later, default=end)
    return (end - now) / timedelta(minutes=1)


def next_change(shifts: Iterable[Shift], now: datetime) -> datetime | None:
    """The first shift or break boundary strictly after ``now``: when to reconcile next."""
    now = _aware(now)
    edges = (t for s in shifts for t in (s.start, s.end, *(e for b in s.breaks
                                                           for e in (b.start, b.end))))
    return min((t for t in edges if t > now), default=None)
