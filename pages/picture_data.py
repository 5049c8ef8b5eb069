"""The facts behind the console's two pictures, as plain frozen data (pure: no I/O).

``neighbourhood(graph, holders, skill, depth)`` is the skills graph around one skill: every skill
up to ``depth`` links away, with its substitution cost from the chosen skill (the graph's
cheapest path), its active holders and their organisations, and the links among them (a link's
cost is the cheaper of its broader/narrower and related costs, as the graph's distances use).

``coverage_cells(rows)`` reads the scheduler's coverage cells (``Cell.to_json()`` dicts),
``heatmap(...)`` arranges them per skill and interval, ``totals`` and ``shortfalls`` are what
the coverage table shows. Times are shown in ``zone`` (Europe/London).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
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


def day_label(moment: datetime) -> str:
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
