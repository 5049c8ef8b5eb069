"""Loading coverage inputs from the database and running ``scheduler.coverage`` over days.

Demand comes from ``ContactRow`` history (arrivals per skill, Europe/London half-hours) over the
``staffing.forecast_weeks`` before the first day; the handle time per skill is the mean
``ended_at - answered_at`` of answered contacts in that history (``DEFAULT_AHT_S`` without any).
Supply is every active expert's expanded rota and the skills they hold.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from base.errors import InvalidInput
from router.tables import ContactRow
from scheduler import reconcile, rota, store
from scheduler.coverage import DEFAULT_AHT_S, Cell, Target, coverage
from scheduler.forecast import build_history, forecast
from skills.models import Expert, Proficiency, Skill

LONDON = "Europe/London"
MAX_DAYS = 14


async def _history(session: AsyncSession, since: datetime, until: datetime) -> list[Any]:
    query = select(ContactRow.arrived_at, ContactRow.skill, ContactRow.answered_at,
                   ContactRow.ended_at).where(col(ContactRow.arrived_at) >= since.timestamp(),
                                              col(ContactRow.arrived_at) < until.timestamp())
    return list((await session.exec(query)).all())


def handle_times(rows: Iterable[Any]) -> dict[str, float]:
    spans: dict[str, list[float]] = {}
    for _, skill, answered, ended in rows:
        if answered is not None and ended is not None and ended > answered:
            spans.setdefault(skill, []).append(ended - answered)
    every = [s for v in spans.values() for s in v]
    fallback = sum(every) / len(every) if every else DEFAULT_AHT_S
    return {k: sum(v) / len(v) for k, v in spans.items()} | {"*": fallback}


async def _holds(session: AsyncSession) -> dict[str, frozenset[str]]:
    query = select(Proficiency.expert_id, Proficiency.skill_id).join(
        Expert, col(Expert.id) == col(Proficiency.expert_id)).where(col(Expert.active).is_(True))
    found: dict[str, set[str]] = {}
    for expert_id, skill_id in (await session.exec(query)).all():
        found.setdefault(expert_id, set()).add(skill_id)
    return {k: frozenset(v) for k, v in found.items()}


async def load_coverage(session: AsyncSession, *, first: date, days: int, skill: str | None,
                        config: Any, now: datetime) -> list[Cell]:
    """Coverage cells for ``days`` London days from ``first`` (``skill`` filters)."""
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"days must be 1..{MAX_DAYS}", field="days")
    skills = set((await session.exec(select(Skill.id))).all())
    if skill is not None and skill not in skills:
        raise InvalidInput(f"unknown skill {skill!r}", field="skill")
    staffing = config.staffing
    zone = rota.zone_of(LONDON)
    start = rota.to_utc(first, time(0), zone)
    end = rota.to_utc(first + timedelta(days=days), time(0), zone)
    since = start - timedelta(weeks=staffing.forecast_weeks)
    rows = await _history(session, since, min(end, now))
    history = build_history(((datetime.fromtimestamp(r[0], UTC), r[1]) for r in rows), tz=LONDON,
                            interval_min=staffing.interval_min, until=min(end, now))
    aht = handle_times(rows)
    zones = await store.zones(session)
    patterns, absences = reconcile.rota_of(
        [r for r in await store.all_patterns(session) if r["expert_id"] in zones], zones)
    shifts = rota.expand(patterns, absences, start - timedelta(days=1), end)
    holds = await _holds(session)
    target = Target(staffing.service_level, staffing.target_s)
    targets = {s: Target(staffing.level_of(s), staffing.target_of(s)) for s in staffing.skills}
    wanted = {skill} if skill else skills
    cells: list[Cell] = []
    for n in range(days):
        day_forecast = forecast(history, first + timedelta(days=n), skills=skills)
        per_skill = {s: aht.get(s, aht["*"]) for s in skills}
        cells += [c for c in coverage(day_forecast, shifts, holds, target=target, aht_s=per_skill,
                                      targets=targets) if c.skill in wanted]
    return cells


def summary(cells: Iterable[Cell]) -> dict[str, dict[str, float]]:
    """Per skill: contacts, peak required, intervals short, worst gap."""
    out: dict[str, dict[str, float]] = {}
    for c in cells:
        s = out.setdefault(c.skill, {"contacts": 0.0, "peak_required": 0, "intervals_short": 0,
                                     "worst_gap": 0.0})
        s["contacts"] += c.contacts
        s["peak_required"] = max(s["peak_required"], c.required)
        s["intervals_short"] += 1 if c.gap < 0 else 0
        s["worst_gap"] = min(s["worst_gap"], c.gap)
    return out
