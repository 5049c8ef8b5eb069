"""Live statistics: what ``GET /api/v1/stats`` answers and the console's wallboard shows.

``live_stats(engine)`` reads the core's queues and experts (no I/O) and the contacts that
arrived today and in the last 30 minutes (two small database reads), and returns one JSON
object. The wallboard's WebSocket pushes exactly this object, so the two never differ.

``summarise`` and ``by_skill`` are pure: service level = answered within the target /
(answered + abandoned); contacts still waiting are not yet counted either way.

``today_by_interval(engine, skill, interval_s)`` is what the console's "Today" page draws: per
interval from the last Europe/London midnight up to the one holding ``now`` (the engine's
clock), the contacts that arrived in it, their service level by the same rule, and how many
contacts were waiting at the interval's end (at ``now`` for the current one), reconstructed
from arrival, answer and end times. ``by_interval`` is its pure arithmetic.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from base.config import StaffingConfig
from router.desk import local_midnight
from router.engine import Engine

RECENT_S = 30 * 60
Row = tuple[str, str, float | None]  # (skill, state, waited_s)
# (skill, state, arrived_at, answered_at, ended_at, waited_s)
Arrival = tuple[str, str, float, float | None, float | None, float | None]
ANSWERED = ("connected", "wrapup", "completed")


async def live_stats(engine: Engine) -> dict[str, Any]:
    now = engine.clock()
    staffing = engine.config.staffing
    target, targets = staffing.target_s, own_targets(staffing)
    queues = [{"channel": q.channel.value, "skill": q.skill, "waiting": q.waiting,
               "longest_wait_s": round(q.longest_wait_s, 1), "eligible_experts": q.holders,
               "available_experts": q.available} for q in engine.core.queue_stats(now)]
    midnight, recent = local_midnight(now), now - RECENT_S
    read = await engine.store.since(min(midnight, recent))  # one read serves both spans
    today_rows = [(skill, state, w) for at, skill, state, w in read if at >= midnight]
    recent_rows = [(skill, state, w) for at, skill, state, w in read if at >= recent]
    return {"at": datetime.fromtimestamp(now, UTC).isoformat(), "waiting": engine.core.waiting,
            "queues": queues, "experts": engine.experts_by_state(),
            "today": {**summarise(today_rows, target, targets), "goal": staffing.service_level},
            "last_30_min": {**summarise(recent_rows, target, targets),
                            "goal": staffing.service_level},
            "by_skill": by_skill(today_rows, recent_rows, staffing)}


def own_targets(staffing: StaffingConfig) -> dict[str, float]:
    """The skills with an answer target of their own (``[staffing.skills.ID]``)."""
    return {skill: staffing.target_of(skill) for skill in staffing.skills}


def summarise(rows: Sequence[Row], target_s: float,
              targets: Mapping[str, float] | None = None) -> dict[str, Any]:
    """Each contact counts as answered in time within its skill's own target (``targets``)
    or else ``target_s``, the one the summary names."""
    answered = [(skill, w) for skill, state, w in rows if state in ANSWERED
                or (state == "failed" and w is not None)]
    abandoned = sum(1 for _, state, _ in rows if state == "abandoned")
    within = answered_within(rows, target_s, targets)
    settled = len(answered) + abandoned
    waits = [w for _, w in answered if w is not None]
    return {"offered": len(rows), "answered": len(answered), "abandoned": abandoned,
            "service_level": round(within / settled, 4) if settled else None,
            "target_s": target_s,
            "abandon_rate": round(abandoned / settled, 4) if settled else None,
            "asa_s": round(sum(waits) / len(waits), 1) if waits else None}


def by_skill(today: list[Row], recent: list[Row], staffing: StaffingConfig
             ) -> dict[str, dict[str, Any]]:
    """Per skill that had a contact today: its ``today`` and ``last_30_min`` summaries, each
    against the skill's own target and ``goal`` (its service level to reach)."""
    grouped: dict[str, tuple[list[Row], list[Row]]] = defaultdict(lambda: ([], []))
    for row in today:
        grouped[row[0]][0].append(row)
    for row in recent:
        grouped[row[0]][1].append(row)
    return {skill: {"today": {**summarise(t, staffing.target_of(skill)),
                              "goal": staffing.level_of(skill)},
                    "last_30_min": {**summarise(r, staffing.target_of(skill)),
                                    "goal": staffing.level_of(skill)}}
            for skill, (t, r) in sorted(grouped.items())}


async def today_by_interval(engine: Engine, skill: str | None,
                            interval_s: float) -> dict[str, Any]:
    """Today's figures per interval for ``skill`` (every skill for None); times are epoch
    seconds on the engine's clock."""
    now = engine.clock()
    start = local_midnight(now)
    rows = [r for r in await engine.store.arrivals_since(start) if skill in (None, r[0])]
    staffing = engine.config.staffing
    if skill is not None:
        target, goal, targets = staffing.target_of(skill), staffing.level_of(skill), None
    else:
        target, goal, targets = staffing.target_s, staffing.service_level, own_targets(staffing)
    return {"skill": skill, "start": start, "now": now, "interval_s": interval_s,
            "target_s": target, "goal": goal,
            "intervals": by_interval(rows, start, now, interval_s, target, targets)}


def by_interval(rows: Sequence[Arrival], start: float, now: float, interval_s: float,
                target_s: float, targets: Mapping[str, float] | None = None
                ) -> list[dict[str, Any]]:
    """One summary per interval of ``interval_s`` from ``start`` up to and including the one
    holding ``now``: ``summarise`` of the contacts that arrived in it, how many of them were
    answered within their target (``targets`` per skill, else ``target_s``), and ``waiting``,
    the queue at its end (or at ``now``)."""
    if interval_s <= 0:
        raise ValueError("interval_s must be positive")
    count = int(max(now - start, 0.0) // interval_s) + 1
    found = []
    for n in range(count):
        begin = start + n * interval_s
        end = begin + interval_s
        mine = [r for r in rows if begin <= r[2] < end]
        settled = [(skill, state, waited) for skill, state, _, _, _, waited in mine]
        at = min(end, now)
        found.append({**summarise(settled, target_s, targets), "start": begin, "end": end,
                      "within_target": answered_within(settled, target_s, targets),
                      "waiting_at": at, "waiting": waiting_at(rows, at)})
    return found


def answered_within(rows: Sequence[Row], target_s: float,
                    targets: Mapping[str, float] | None = None) -> int:
    """How many contacts were answered within their target (their skill's in ``targets``,
    else ``target_s``): ``summarise``'s numerator."""
    own = targets or {}
    return sum(1 for skill, state, w in rows if (state in ANSWERED or state == "failed")
               and w is not None and w <= own.get(skill, target_s))


def waiting_at(rows: Sequence[Arrival], at: float) -> int:
    """How many contacts had arrived by ``at`` and were neither answered nor ended by then."""
    return sum(1 for _, _, arrived, answered, ended, _ in rows if arrived <= at
               and (answered is None or answered > at) and (ended is None or ended > at))


class SharedStats:
    """One reading of ``live_stats`` shared by every wallboard that asks within ``ttl_s``
    (each reading scans today's contacts: 17 ms at 10,000 contacts a day, 270 ms at 100,000,
    on SQLite), so ten consoles cost what one does."""

    def __init__(self, engine: Engine, ttl_s: float, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._engine, self._ttl_s, self._clock = engine, ttl_s, clock
        self._lock = asyncio.Lock()
        self._read_at = -math.inf
        self._figures: dict[str, Any] = {}

    async def read(self) -> dict[str, Any]:
        async with self._lock:
            if self._clock() - self._read_at >= self._ttl_s:
                self._figures = await live_stats(self._engine)
                self._read_at = self._clock()
            return self._figures
