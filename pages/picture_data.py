"""The facts behind the console's pictures, as plain frozen data (pure: no I/O).

``neighbourhood(graph, holders, skill, depth)`` is the skills graph around one skill: every skill
up to ``depth`` links away, with its substitution cost from the chosen skill (the graph's
cheapest path), its active holders and their organisations, and the links among them (a link's
cost is the cheaper of its broader/narrower and related costs, as the graph's distances use).

``coverage_cells(rows)`` reads the scheduler's coverage cells (``Cell.to_json()`` dicts),
``heatmap(...)`` arranges them per skill and interval, ``totals`` and ``shortfalls`` are what
the coverage table shows. Times are shown in ``zone`` (Europe/London).

``today_slots(data, zone)`` reads the router's figures per interval of today (``Today``);
``rota_week(data, first, zone)`` reads a team's shifts, absences and leave for the week from
Monday ``first`` (``RotaWeek``), and ``RotaWeek.pieces()`` cuts them at each day's midnight,
as the week view draws them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from skills.graph import Holder, SkillGraph

SHORT, ENOUGH, SPARE, IDLE = "short", "enough", "spare", "idle"
HALF_HOUR = timedelta(minutes=30)
DASH = "\u2013"


@dataclass(frozen=True, slots=True)
class SkillNode:
    """One skill in the picture: how far it is from the chosen one and who holds it."""

    id: str
    name: str
    steps: int
    cost: float  # substitution cost from the chosen skill
    holders: int  # active experts holding it
    orgs: int  # organisations those experts belong to

    @property
    def uncovered(self) -> bool:
        return self.holders == 0

    @property
    def fragile(self) -> bool:
        """Held, but by one organisation's experts only."""
        return self.orgs == 1


@dataclass(frozen=True, slots=True, order=True)
class Link:
    """A link between two skills (``a < b``); ``kind`` is "broader" or "related"."""

    a: str
    b: str
    cost: float
    kind: str


@dataclass(frozen=True, slots=True)
class Neighbourhood:
    centre: str
    depth: int
    nodes: tuple[SkillNode, ...]  # the chosen skill first, then by steps, cost and name
    links: tuple[Link, ...]

    def node(self, skill_id: str) -> SkillNode:
        return next(n for n in self.nodes if n.id == skill_id)


def neighbourhood(graph: SkillGraph, holders: Mapping[str, Collection[Holder]], centre: str,
                  depth: int) -> Neighbourhood:
    """The skills within ``depth`` links of ``centre`` (which must be in ``graph``)."""
    adjacent = adjacency(graph)
    steps = steps_from(adjacent, centre, depth)
    nodes = [_node(graph, holders, centre, skill, n) for skill, n in steps.items()]
    nodes.sort(key=lambda n: (n.steps, n.cost, n.name, n.id))
    links = {link for skill in steps for other, link in adjacent.get(skill, {}).items()
             if other in steps}
    return Neighbourhood(centre, depth, tuple(nodes), tuple(sorted(links)))


def _node(graph: SkillGraph, holders: Mapping[str, Collection[Holder]], centre: str,
          skill: str, steps: int) -> SkillNode:
    held = set(holders.get(skill, ()))
    return SkillNode(skill, graph.spec(skill).name, steps, graph.distance(centre, skill),
                     len(held), len({h.org_id for h in held}))


def adjacency(graph: SkillGraph) -> dict[str, dict[str, Link]]:
    """Skill -> neighbour -> the cheapest link between them."""
    adjacent: dict[str, dict[str, Link]] = defaultdict(dict)

    def add(a: str, b: str, cost: float, kind: str) -> None:
        current = adjacent[a].get(b)
        if current is None or cost < current.cost:
            adjacent[a][b] = adjacent[b][a] = Link(min(a, b), max(a, b), cost, kind)

    for spec in graph.specs():
        if spec.broader is not None:
            add(spec.id, spec.broader, graph.taxonomy_cost, "broader")
        for other, cost in spec.related.items():
            add(spec.id, other, cost, "related")
    return dict(adjacent)


def steps_from(adjacent: Mapping[str, Mapping[str, Link]], centre: str,
               depth: int) -> dict[str, int]:
    """Skill -> the fewest links from ``centre``, for skills at most ``depth`` links away."""
    steps = {centre: 0}
    frontier = [centre]
    for step in range(1, depth + 1):
        frontier = sorted({n for f in frontier for n in adjacent.get(f, {}) if n not in steps})
        steps.update((n, step) for n in frontier)
    return steps


# -- coverage -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CoverCell:
    """One skill in one interval: agents the forecast needs and experts the rota gives."""

    skill: str
    start: datetime
    required: int
    scheduled: float

    @property
    def gap(self) -> float:
        return round(self.scheduled - self.required, 3)

    @property
    def state(self) -> str:
        """short (fewer than needed), idle (none needed, nobody on), spare (one or more over),
        else enough."""
        if self.gap < 0:
            return SHORT
        if self.required == 0 and self.scheduled == 0:
            return IDLE
        return SPARE if self.gap >= 1 else ENOUGH


@dataclass(frozen=True, slots=True)
class Heatmap:
    rows: tuple[tuple[str, str], ...]  # (skill id, name), by name
    starts: tuple[datetime, ...]  # the intervals, in order
    cells: Mapping[tuple[str, datetime], CoverCell]
    zone: ZoneInfo
    interval: timedelta

    def label(self, start: datetime) -> str:
        return interval_label(start, self.interval, self.zone)


@dataclass(frozen=True, slots=True)
class SkillTotal:
    skill: str
    name: str
    intervals: int
    short: int  # intervals short of staff
    worst_gap: float
    required_hours: float  # agent-hours the forecast needs
    scheduled_hours: float  # expert-hours the rota gives


def coverage_cells(rows: Iterable[Mapping[str, Any]]) -> list[CoverCell]:
    """The scheduler's cell dicts (skill, start as ISO text, required, scheduled, …)."""
    return [CoverCell(str(r["skill"]), datetime.fromisoformat(str(r["start"])),
                      int(r["required"]), float(r["scheduled"])) for r in rows]


def heatmap(cells: Iterable[CoverCell], names: Mapping[str, str], zone: ZoneInfo) -> Heatmap:
    by_key = {(c.skill, c.start): c for c in cells}
    skills = {skill for skill, _ in by_key}
    rows = sorted(((s, names.get(s, s)) for s in skills), key=lambda r: (r[1].lower(), r[0]))
    starts = tuple(sorted({start for _, start in by_key}))
    return Heatmap(tuple(rows), starts, by_key, zone, interval_of(starts))


def interval_of(starts: tuple[datetime, ...]) -> timedelta:
    """The length of one interval: the smallest step between starts (half an hour alone)."""
    steps = [b - a for a, b in pairwise(starts) if b > a]
    return min(steps, default=HALF_HOUR)


def interval_words(length: timedelta) -> tuple[str, str]:
    """What to call one interval, and several: half-hours unless configured otherwise."""
    minutes = round(length / timedelta(minutes=1))
    if minutes == 30:
        return "half-hour", "half-hours"
    return f"{minutes}-minute interval", f"{minutes}-minute intervals"


def interval_label(start: datetime, length: timedelta, zone: ZoneInfo) -> str:
    """``Tue 8 Dec 10:00`` to ``10:30`` (an en dash between) in ``zone``."""
    local, end = start.astimezone(zone), (start + length).astimezone(zone)
    return f"{day_label(local)} {local:%H:%M}{DASH}{end:%H:%M}"


def day_label(moment: date) -> str:
    return f"{moment:%a} {moment.day} {moment:%b}"


def totals(grid: Heatmap) -> list[SkillTotal]:
    hours = grid.interval / timedelta(hours=1)
    by_skill: dict[str, list[CoverCell]] = defaultdict(list)
    for cell in grid.cells.values():
        by_skill[cell.skill].append(cell)
    return [_total(skill, name, by_skill[skill], hours) for skill, name in grid.rows]


def _total(skill: str, name: str, mine: list[CoverCell], hours: float) -> SkillTotal:
    return SkillTotal(skill, name, len(mine), sum(1 for c in mine if c.state == SHORT),
                      min((c.gap for c in mine), default=0.0),
                      sum(c.required for c in mine) * hours,
                      sum(c.scheduled for c in mine) * hours)


def shortfalls(grid: Heatmap) -> list[CoverCell]:
    """Every cell short of staff, by skill (as the rows are) and then time."""
    order = {skill: n for n, (skill, _) in enumerate(grid.rows)}
    short = [c for c in grid.cells.values() if c.state == SHORT]
    return sorted(short, key=lambda c: (order[c.skill], c.start))


def figure(value: float) -> str:
    """A figure for people: one decimal, more when that would hide a small gap; a true minus."""
    text = f"{value:.1f}"
    if float(text) == 0 and value != 0:
        text = f"{value:.3f}".rstrip("0")
    return text.replace("-", "\u2212")


# -- today per interval -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TodaySlot:
    """One interval of today: the contacts that arrived in it and the queue at its end."""

    start: datetime
    end: datetime
    arrived: int
    answered: int
    within: int  # answered within the target
    abandoned: int
    service_level: float | None  # within / (answered + abandoned); None when none settled
    waiting: int  # contacts waiting at ``waiting_at``
    waiting_at: datetime  # the interval's end, or now for the current interval

    @property
    def settled(self) -> int:
        return self.answered + self.abandoned


@dataclass(frozen=True, slots=True)
class Today:
    skill: str | None
    start: datetime  # the last midnight in ``zone``
    now: datetime
    interval: timedelta
    target_s: float
    goal: float  # the service level aimed for (``staffing.service_level``)
    slots: tuple[TodaySlot, ...]
    zone: ZoneInfo

    def label(self, slot: TodaySlot) -> str:
        """``10:00`` to ``10:30`` (an en dash between) in ``zone``."""
        return f"{self.clock(slot.start)}{DASH}{self.clock(slot.end)}"

    def clock(self, moment: datetime) -> str:
        return f"{moment.astimezone(self.zone):%H:%M}"


def _instant(epoch: Any) -> datetime:
    return datetime.fromtimestamp(float(epoch), UTC)


def today_slots(data: Mapping[str, Any], zone: ZoneInfo) -> Today:
    """The router's ``today_by_interval`` answer (epoch seconds) as a ``Today``."""
    slots = tuple(TodaySlot(
        _instant(s["start"]), _instant(s["end"]), int(s["offered"]), int(s["answered"]),
        int(s["within_target"]), int(s["abandoned"]),
        None if s["service_level"] is None else float(s["service_level"]),
        int(s["waiting"]), _instant(s["waiting_at"])) for s in data["intervals"])
    return Today(data["skill"], _instant(data["start"]), _instant(data["now"]),
                 timedelta(seconds=float(data["interval_s"])), float(data["target_s"]),
                 float(data["goal"]), slots, zone)


def percent(value: float | None) -> str:
    """A service level for people: ``75%``, ``66.7%``; an en dash for none."""
    if value is None:
        return DASH
    return f"{value * 100:.1f}".removesuffix(".0") + "%"


# -- a team's rota as a week --------------------------------------------------------------------

SHIFT, ABSENCE, LEAVE = "shift", "absence", "leave"
KIND_WORDS = {SHIFT: "Shift", ABSENCE: "Away (part of a day)", LEAVE: "Leave"}
WEEK = 7


@dataclass(frozen=True, slots=True)
class RotaEntry:
    """A shift, a timed absence or a leave, as aware UTC instants."""

    expert: str
    kind: str  # SHIFT, ABSENCE or LEAVE
    start: datetime
    end: datetime
    breaks: tuple[tuple[datetime, datetime], ...] = ()


@dataclass(frozen=True, slots=True)
class RotaPiece:
    """The part of an entry on one day of the week, as drawn: hours from that day's midnight
    (wall clock, so 24 is the next midnight)."""

    entry: RotaEntry
    day: int  # 0 = Monday
    start: datetime
    end: datetime
    from_h: float
    to_h: float


@dataclass(frozen=True, slots=True)
class RotaWeek:
    first: date  # the Monday
    experts: tuple[tuple[str, str], ...]  # (id, name), by name
    entries: tuple[RotaEntry, ...]
    zone: ZoneInfo

    @property
    def days(self) -> tuple[date, ...]:
        return tuple(self.first + timedelta(days=n) for n in range(WEEK))

    def midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0), self.zone)

    def pieces(self) -> list[RotaPiece]:
        """Every entry cut at the week's midnights, by expert (as the rows are), day, time."""
        order = {expert: n for n, (expert, _) in enumerate(self.experts)}
        found = [p for e in self.entries if e.expert in order for p in self._cut(e)]
        return sorted(found, key=lambda p: (order[p.entry.expert], p.day, p.start,
                                            p.entry.kind))

    def _cut(self, entry: RotaEntry) -> list[RotaPiece]:
        found = []
        for n, day in enumerate(self.days):
            begin, end = self.midnight(day), self.midnight(day + timedelta(days=1))
            start, stop = max(entry.start, begin), min(entry.end, end)
            if start < stop:
                found.append(RotaPiece(entry, n, start, stop, self._hours(start, day),
                                       self._hours(stop, day)))
        return found

    def _hours(self, moment: datetime, day: date) -> float:
        local = moment.astimezone(self.zone)
        if local.date() > day:
            return 24.0
        return local.hour + local.minute / 60 + local.second / 3600

    def name(self, expert: str) -> str:
        return dict(self.experts).get(expert, expert)


def rota_week(data: Mapping[str, Any], first: date, zone: ZoneInfo) -> RotaWeek:
    """The composition root's rota answer (experts, shifts as ``Shift.to_json()``, absences as
    ``{expert_id, kind, start, end}``) for the week from Monday ``first``."""
    experts = sorted(((str(e["id"]), str(e["name"])) for e in data["experts"]),
                     key=lambda e: (e[1].lower(), e[0]))
    shifts = [RotaEntry(str(s["expert_id"]), SHIFT, _aware(s["start"]), _aware(s["end"]),
                        tuple((_aware(b["start"]), _aware(b["end"])) for b in s["breaks"]))
              for s in data["shifts"]]
    away = [RotaEntry(str(a["expert_id"]), LEAVE if a["kind"] == LEAVE else ABSENCE,
                      _aware(a["start"]), _aware(a["end"])) for a in data["absences"]]
    return RotaWeek(first, tuple(experts), tuple(shifts + away), zone)


def _aware(text: Any) -> datetime:
    return datetime.fromisoformat(str(text)).astimezone(UTC)


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def hour_text(hours: float) -> str:
    """``9.5`` -> ``09:30``; 24 is ``24:00`` (the next midnight)."""
    minutes = round(hours * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def piece_time(piece: RotaPiece, zone: ZoneInfo) -> str:
    """What the table says of a piece's hours: ``09:00`` to ``17:00``, ``All day``, and where a
    shift or an absence runs over a midnight, when it really starts or ends; its breaks."""
    if piece.from_h == 0 and piece.to_h == 24:
        words = "All day"
    else:
        words = f"{hour_text(piece.from_h)}{DASH}{hour_text(piece.to_h)}"
    entry, notes = piece.entry, []
    if entry.start < piece.start and entry.kind != LEAVE:
        notes.append(f"from {_moment(entry.start, zone)}")
    if entry.end > piece.end and entry.kind != LEAVE:
        notes.append(f"until {_moment(entry.end, zone)}")
    notes += [f"break {_moment(a, zone, day=False)}{DASH}{_moment(b, zone, day=False)}"
              for a, b in entry.breaks if piece.start <= a < piece.end]
    return f"{words} ({'; '.join(notes)})" if notes else words


def _moment(moment: datetime, zone: ZoneInfo, *, day: bool = True) -> str:
    local = moment.astimezone(zone)
    return f"{local:%H:%M} {day_label(local)}" if day else f"{local:%H:%M}"
