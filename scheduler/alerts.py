"""Breach alerts in the running service: each skill's outlook (``scheduler.breach``) from the
live floor, every ``staffing.breach_every_s``, kept in memory for ``GET /api/v1/alerts`` and the
console's wallboard.

The scheduler runs ``BreachAlerts.refresh`` as an interval job, so only the process that runs
the scheduler (the routing leader) computes it; a follower relays ``/api`` and ``/ws`` to the
leader. Each time, for every skill with demand planned today or contacts waiting, ``gather``
builds a ``SkillNow`` from plain inputs:

* ``waiting``: contacts queued for the skill now (the routing engine's ``Floor``,
  ``router.ports.FloorPort``; an offered contact has an expert and is not counted);
* ``staffed``: experts working now (available, offered, busy or wrapping up) who hold it;
* ``nearby_spare``: experts free now who do not hold it but hold a skill within substitution
  cost ``NEARBY_COST`` of it in the skills graph (``FloorPort.related``), each counted once;
* ``aht_s``: the mean ``ended_at - answered_at`` (wrap-up included: a contact ends when its
  wrap-up does) of the skill's contacts answered today, once there are ``MIN_TODAY``; else
  over the history the plan is made from; else over every skill there; else
  ``scheduler.coverage.DEFAULT_AHT_S``;
* ``planned_per_hour``: the history forecast (``scheduler.forecast``, as coverage makes it:
  ``staffing.forecast_weeks`` of contacts before today, per ``staffing.interval_min``) over the
  next half-hour and the one after, as rates per hour;
* ``recent_arrivals`` / ``recent_planned``: contacts that arrived in the last ``RECENT_S`` and
  what the plan expected in that time;
* ``target_s`` and ``level``: ``StaffingConfig.target_of`` / ``level_of``;
* ``flex``: the names of up to ``MAX_FLEX`` experts working now who hold such a related skill
  and not the skill itself, free ones first.

"Now" is the routing engine's clock when the floor was read. The plan is made once per
Europe/London day (its history does not change during the day); a horizon past midnight counts
no planned demand.
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from base.access import Principal, Role
from base.config import StaffingConfig
from router.ports import Floor, FloorPort, OnDuty
from router.tables import ContactRow
from scheduler import breach
from scheduler.coverage import DEFAULT_AHT_S
from scheduler.coverage_data import handle_times
from scheduler.forecast import Forecast, build_history
from scheduler.forecast import forecast as plan_day

log = logging.getLogger("expertline.alerts")
LONDON = ZoneInfo("Europe/London")
RECENT_S = 900.0  # today's arrivals are set against the plan over this window
NEARBY_COST = 1.0  # how far in the skills graph a free expert counts as spare capacity
MAX_FLEX = 10
MIN_TODAY = 5  # answered contacts of a skill today before today's handle time is used
HALF_HOUR_S = 1800.0


# -- the plan (pure) --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Plan:
    """The history forecast of one London ``day`` and the mean handle time per skill over
    that history (``"*"``: over every skill)."""

    day: date
    forecast: Forecast
    handle_s: Mapping[str, float]

    def _starts(self) -> list[float]:
        return [start.timestamp() for start in self.forecast.intervals]

    def planned(self, skill: str, start: float, end: float) -> float:
        """Contacts the plan expects for ``skill`` in ``[start, end)`` (epoch seconds)."""
        contacts = self.forecast.contacts.get(skill)
        if not contacts or end <= start:
            return 0.0
        length = self.forecast.interval_min * 60.0
        starts = self._starts()
        total = 0.0
        for i in range(max(bisect.bisect_right(starts, start) - 1, 0), len(starts)):
            if starts[i] >= end:
                break
            lo, hi = max(start, starts[i]), min(end, starts[i] + length)
            if hi > lo:
                total += contacts[i] * (hi - lo) / length
        return total

    def per_hour(self, skill: str, start: float, end: float) -> float:
        """The plan's mean arrival rate per hour for ``skill`` over ``[start, end)``."""
        return self.planned(skill, start, end) * 3600.0 / (end - start) if end > start else 0.0

    def skills(self) -> set[str]:
        """The skills with any demand planned on the day."""
        return {skill for skill, contacts in self.forecast.contacts.items() if sum(contacts) > 0}

    def aht(self, skill: str) -> float:
        return self.handle_s.get(skill) or self.handle_s.get("*") or DEFAULT_AHT_S


def make_plan(day: date, rows: Iterable[Any], *, interval_min: int, until: datetime) -> Plan:
    """The plan of ``day`` from ``(arrived_at, skill, answered_at, ended_at)`` history rows
    before ``until`` (the day's London midnight)."""
    kept = list(rows)
    history = build_history(((datetime.fromtimestamp(r[0], UTC), r[1]) for r in kept),
                            tz="Europe/London", interval_min=interval_min, until=until)
    return Plan(day, plan_day(history, day), handle_times(kept))


# -- gathering (pure) -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Gathered:
    """A skill's ``SkillNow``, the experts its ``flex`` names, and the organisations whose
    experts hold the skill (a supervisor sees the skills of their own organisations)."""

    now: breach.SkillNow
    flex: tuple[OnDuty, ...]
    orgs: frozenset[str]


def flex_for(skill: str, related: Sequence[str], on_duty: Iterable[OnDuty]) -> list[OnDuty]:
    """Experts working now who hold a related skill and not ``skill``: free ones first."""
    near = set(related)
    found = [e for e in on_duty if skill not in e.skills and e.skills & near]
    return sorted(found, key=lambda e: (not e.idle, e.name, e.expert_id))


def gather(floor: Floor, plan: Plan, *, recent: Mapping[str, int],
           handle_today: Mapping[str, float], related: Mapping[str, Sequence[str]],
           staffing: StaffingConfig) -> dict[str, Gathered]:
    """A ``SkillNow`` for every skill with demand planned on the plan's day or contacts waiting
    (the module docstring says where each field comes from)."""
    now = floor.at
    wanted = plan.skills() | {skill for skill, n in floor.waiting.items() if n > 0}
    found: dict[str, Gathered] = {}
    for skill in sorted(wanted):
        flex = flex_for(skill, related.get(skill, ()), floor.on_duty)
        skill_now = breach.SkillNow(
            skill=skill, target_s=staffing.target_of(skill), level=staffing.level_of(skill),
            waiting=floor.waiting.get(skill, 0),
            staffed=sum(1 for e in floor.on_duty if skill in e.skills),
            nearby_spare=float(sum(1 for e in flex if e.idle)),
            aht_s=handle_today.get(skill) or plan.aht(skill),
            planned_per_hour=(plan.per_hour(skill, now, now + HALF_HOUR_S),
                              plan.per_hour(skill, now + HALF_HOUR_S, now + 2 * HALF_HOUR_S)),
            recent_arrivals=recent.get(skill, 0),
            recent_planned=plan.planned(skill, now - RECENT_S, now),
            flex=tuple(e.name for e in flex[:MAX_FLEX]))
        found[skill] = Gathered(skill_now, tuple(flex[:MAX_FLEX]),
                                floor.orgs.get(skill, frozenset()))
    return found


# -- the latest forecasts ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Outlook:
    forecast: breach.Forecast
    gathered: Gathered


class AlertBoard:
    """The latest forecasts (replaced whole each time), and each caller's view of them."""

    def __init__(self) -> None:
        self.at: float | None = None
        self._outlooks: dict[str, Outlook] = {}

    def put(self, at: float, outlooks: Mapping[str, Outlook]) -> None:
        self.at, self._outlooks = at, dict(outlooks)

    def new_breaches(self, outlooks: Mapping[str, Outlook]) -> set[str]:
        """The skills in breach in ``outlooks`` that were not at the last ``put``."""
        before = {skill for skill, o in self._outlooks.items() if o.forecast.breach}
        return {skill for skill, o in outlooks.items() if o.forecast.breach} - before

    def view(self, caller: Principal, skill: str | None = None) -> dict[str, Any]:
        """``{"at", "alerts", "outlook"}`` as ``caller`` may see them: an admin every skill; a
        supervisor the skills their organisations' experts hold, naming only their own experts
        among those who could flex in. ``at`` is None before the first computation."""
        shown = [self._seen_by(caller, o) for name, o in sorted(self._outlooks.items())
                 if (skill is None or name == skill) and _sees(caller, o.gathered)]
        alerts = sorted((f for f in shown if f.breach), key=_worst)
        at = None if self.at is None else datetime.fromtimestamp(self.at, UTC).isoformat()
        return {"at": at, "alerts": [f.to_json() for f in alerts],
                "outlook": [f.to_json() for f in shown]}

    @staticmethod
    def _seen_by(caller: Principal, outlook: Outlook) -> breach.Forecast:
        found = outlook.forecast
        if caller.role is Role.ADMIN or not found.flex:
            return found
        own = tuple(e.name for e in outlook.gathered.flex if e.org in caller.orgs)
        return dataclasses.replace(found, flex=own)


def _sees(caller: Principal, gathered: Gathered) -> bool:
    return caller.role is Role.ADMIN or bool(gathered.orgs & caller.orgs)


def _worst(found: breach.Forecast) -> tuple[float, str]:
    return min(o.service_level for o in found.outlooks), found.skill


# -- the I/O ----------------------------------------------------------------------------------
async def today_figures(session: AsyncSession, *, now: float, midnight: float
                        ) -> tuple[dict[str, int], dict[str, float]]:
    """The arrivals per skill in the last ``RECENT_S``, and the mean handle time (answer to the
    end of wrap-up) of each skill with ``MIN_TODAY`` contacts that arrived today and are
    done: two aggregates, whatever the day's volume."""
    arrived = col(ContactRow.arrived_at)
    recent_q = select(ContactRow.skill, func.count()).where(
        arrived >= now - RECENT_S, arrived <= now).group_by(ContactRow.skill)
    span = col(ContactRow.ended_at) - col(ContactRow.answered_at)
    handle_q = select(ContactRow.skill, func.count(), func.avg(span)).where(
        arrived >= midnight, arrived <= now, col(ContactRow.answered_at).is_not(None),
        col(ContactRow.ended_at) > col(ContactRow.answered_at)).group_by(ContactRow.skill)
    recent = {skill: int(n) for skill, n in (await session.exec(recent_q)).all()}
    handle = {skill: float(mean) for skill, n, mean in (await session.exec(handle_q)).all()
              if n >= MIN_TODAY and mean is not None}
    return recent, handle


async def _rows(session: AsyncSession, since: float, until: float) -> list[Any]:
    query = select(ContactRow.arrived_at, ContactRow.skill, ContactRow.answered_at,
                   ContactRow.ended_at).where(col(ContactRow.arrived_at) >= since,
                                              col(ContactRow.arrived_at) < until)
    return list((await session.exec(query)).all())


class BreachAlerts:
    """Reads the floor and the contacts, forecasts every skill, keeps the result in
    ``board``. ``floor()`` returns None until the routing engine is up."""

    def __init__(self, *, sessions: Callable[[], AsyncSession], staffing: StaffingConfig,
                 floor: Callable[[], FloorPort | None]) -> None:
        self._sessions, self._staffing, self._floor = sessions, staffing, floor
        self._plan: Plan | None = None
        self.board = AlertBoard()

    async def refresh(self) -> bool:
        """Forecast every skill now; False when the routing engine is not there yet."""
        port = self._floor()
        if port is None:
            return False
        floor = port.floor()
        now = floor.at
        day = datetime.fromtimestamp(now, UTC).astimezone(LONDON).date()
        midnight = datetime.combine(day, time(0), LONDON)
        plan = await self._plan_of(day, midnight)
        async with self._sessions() as session:
            recent, handle = await today_figures(session, now=now,
                                                 midnight=midnight.timestamp())
        wanted = plan.skills() | set(floor.waiting)
        related = {skill: port.related(skill, NEARBY_COST) for skill in wanted}
        gathered = gather(floor, plan, recent=recent, handle_today=handle, related=related,
                          staffing=self._staffing)
        forecasts = breach.forecast_all({skill: g.now for skill, g in gathered.items()},
                                        related)
        outlooks = {skill: Outlook(forecasts[skill], g) for skill, g in gathered.items()}
        for skill in sorted(self.board.new_breaches(outlooks)):
            log.warning("skill %s is heading for a breach of its service level: %s", skill,
                        outlooks[skill].forecast.suggestion())
        self.board.put(now, outlooks)
        return True

    async def _plan_of(self, day: date, midnight: datetime) -> Plan:
        if self._plan is None or self._plan.day != day:
            since = midnight - timedelta(weeks=self._staffing.forecast_weeks)
            async with self._sessions() as session:
                rows = await _rows(session, since.timestamp(), midnight.timestamp())
            # weeks of history: counted off the event loop, once a day
            self._plan = await asyncio.to_thread(
                make_plan, day, rows, interval_min=self._staffing.interval_min, until=midnight)
        return self._plan
