"""The routing engine's live figures as Prometheus metric families, computed at scrape time.

They are what ``GET /api/v1/stats`` answers at that moment (``router.stats.live_stats``: the
core's queues and experts, and today's contacts from the database), so a dashboard and the
console's wallboard never disagree. Every skill in the skills graph has a queue on each channel,
at 0 while nobody waits (a series that comes and goes would break graphs and alerts); a skill's
service level appears once one of its contacts today was answered or abandoned.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from router.engine import Engine
from router.model import Channel
from router.stats import live_stats


async def live_families(engine: Engine) -> list[Metric]:
    known = () if engine.graph is None else engine.graph
    return families_of(await live_stats(engine), known)


def families_of(stats: dict[str, Any], skills: Iterable[str]) -> list[Metric]:
    """``stats`` (``live_stats``'s object) as gauges; ``skills`` get a queue at 0 each."""
    waiting = GaugeMetricFamily("expertline_queue_waiting", "Contacts waiting now, by "
                                "channel and skill.", labels=("channel", "skill"))
    longest = GaugeMetricFamily("expertline_queue_longest_wait_seconds", "How long the "
                                "longest-waiting contact has waited, by channel and skill.",
                                labels=("channel", "skill"))
    queues = {(c.value, s): (0, 0.0) for s in skills for c in Channel}
    queues.update({(q["channel"], q["skill"]): (q["waiting"], q["longest_wait_s"])
                   for q in stats["queues"]})
    for (channel, skill), (count, wait) in sorted(queues.items()):
        waiting.add_metric((channel, skill), count)
        longest.add_metric((channel, skill), wait)
    experts = GaugeMetricFamily("expertline_experts", "Experts in the pool by state now.",
                                labels=("state",))
    for state, count in sorted(stats["experts"].items()):
        experts.add_metric((state,), count)
    level = GaugeMetricFamily("expertline_service_level_today", "Share of today's contacts "
                              "answered within their skill's target, of those answered or "
                              "abandoned (0..1), by skill.", labels=("skill",))
    goal = GaugeMetricFamily("expertline_service_level_goal", "The service level each skill "
                             "promises (0..1), for the skills with contacts today.",
                             labels=("skill",))
    for skill, figures in stats["by_skill"].items():
        today = figures["today"]
        if today["service_level"] is not None:
            level.add_metric((skill,), today["service_level"])
        goal.add_metric((skill,), today["goal"])
    return [waiting, longest, experts, level, goal]
