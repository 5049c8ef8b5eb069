"""From the skills pool (``skills.PoolSnapshot``) to what the routing core indexes.

Pure functions: an ``ExpertRecord`` becomes an ``ExpertProfile`` (capacities from config, the
rota's "no new voice offers near the end of a shift" as voice capacity 0, accreditation expiry
dates as epoch seconds at the end of their last valid day), and the graph plus the sharing
agreements become a ``Pool``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from router.model import ExpertProfile, Pool, RoutingConfig
from skills.snapshot import ExpertRecord, PoolSnapshot


@dataclass(frozen=True, slots=True)
class Capacity:
    voice: int = 1
    chat: int = 3


def expiry_epoch(day: date | None) -> float | None:
    """An accreditation valid through ``day`` stops counting at the following UTC midnight."""
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=1), time(0), UTC).timestamp()


def profile_of(record: ExpertRecord, capacity: Capacity, *, voice_ok: bool = True
               ) -> ExpertProfile:
    return ExpertProfile(
        id=record.id, skills=dict(record.skills), org=record.org,
        languages=record.languages,
        accreditations={name: expiry_epoch(day) for name, day in record.accreditations.items()},
        voice_capacity=capacity.voice if voice_ok else 0, chat_capacity=capacity.chat)


def pool_of(snapshot: PoolSnapshot, config: RoutingConfig) -> Pool:
    """Substitutes up to the widest escalation step, and the sharing agreements in force."""
    radius = max(step.max_cost for step in config.steps)
    table = snapshot.graph.substitutes_table(radius)
    substitutes = {skill: tuple(s for s in subs if s[0] != skill) for skill, subs in table.items()}
    return Pool(substitutes=substitutes, sharing=snapshot.sharing)
