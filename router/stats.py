"""Live statistics: what ``GET /api/v1/stats`` answers and the console's wallboard shows.

``live_stats(engine)`` reads the core's queues and experts (no I/O) and the contacts that
arrived today and in the last 30 minutes (two small database reads), and returns one JSON
object. The wallboard's WebSocket pushes exactly this object, so the two never differ.

``summarise`` and ``by_skill`` are pure: service level = answered within the target /
(answered + abandoned); contacts still waiting are not yet counted either way.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from router.desk import local_midnight
from router.engine import Engine

RECENT_S = 30 * 60
Row = tuple[str, str, float | None]  # (skill, state, waited_s)
ANSWERED = ("connected", "wrapup", "completed")


async def live_stats(engine: Engine) -> dict[str, Any]:
    now = engine.clock()
    target = engine.config.staffing.target_s
    queues = [{"channel": q.channel.value, "skill": q.skill, "waiting": q.waiting,
               "longest_wait_s": round(q.longest_wait_s, 1), "eligible_experts": q.holders,
               "available_experts": q.available} for q in engine.core.queue_stats(now)]
    today_rows = await engine.store.since(local_midnight(now))
    recent_rows = await engine.store.since(now - RECENT_S)
    return {"at": datetime.fromtimestamp(now, UTC).isoformat(), "waiting": engine.core.waiting,
            "queues": queues, "experts": engine.experts_by_state(),
            "today": summarise(today_rows, target),
            "last_30_min": summarise(recent_rows, target),
            "by_skill": by_skill(today_rows, recent_rows, target)}


def summarise(rows: list[Row], target_s: float) -> dict[str, Any]:
    answered = [w for _, state, w in rows if state in ANSWERED
                or (state == "failed" and w is not None)]
    abandoned = sum(1 for _, state, _ in rows if state == "abandoned")
    within = sum(1 for w in answered if w is not None and w <= target_s)
    settled = len(answered) + abandoned
    waits = [w for w in answered if w is not None]
    return {"offered": len(rows), "answered": len(answered), "abandoned": abandoned,
            "service_level": round(within / settled, 4) if settled else None,
            "target_s": target_s,
            "abandon_rate": round(abandoned / settled, 4) if settled else None,
            "asa_s": round(sum(waits) / len(waits), 1) if waits else None}


def by_skill(today: list[Row], recent: list[Row], target_s: float
             ) -> dict[str, dict[str, Any]]:
    """Per skill that had a contact today: its ``today`` and ``last_30_min`` summaries."""
    grouped: dict[str, tuple[list[Row], list[Row]]] = defaultdict(lambda: ([], []))
    for row in today:
        grouped[row[0]][0].append(row)
    for row in recent:
        grouped[row[0]][1].append(row)
    return {skill: {"today": summarise(t, target_s), "last_30_min": summarise(r, target_s)}
            for skill, (t, r) in sorted(grouped.items())}
