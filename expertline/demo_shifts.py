"""Demo shift patterns and demo contact history, each from its own random stream.

Patterns are deterministic in the seed (``"{seed}:shifts:{n}"``): weekday 09-17 style templates,
4-on-4-off day and night rotations, Panama 2-2-3, evening shifts and part-timers, in each
expert's own time zone. The contact history (so ``expertline coverage`` has demand to forecast)
covers the ``HISTORY_DAYS`` London days before the day it is seeded, deterministic in the seed and
that day; its rows are finished contacts with negative ``seq`` (before any real contact).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from expertline.demo_desk import FOR_PEOPLE
from router.tables import ContactRow
from scheduler import rota
from scheduler.tables import ShiftPatternRow

ANCHOR = date(2026, 1, 5)  # a Monday: every rotation counts from here
HISTORY_DAYS = 14
LONDON = rota.zone_of("Europe/London")
LUNCH = (rota.Break(30, at=time(12, 30)),)
LONG_BREAK = (rota.Break(60, offset_min=300),)
# half-hour demand shape of a public helpline (slot 0 = 00:00 local), weekday contacts per day
SHAPE = [0.2] * 14 + [0.6, 1.2, 2.4, 3.6, 4.4, 4.6, 4.5, 4.2, 3.6, 3.4, 3.8, 4.2, 4.2, 4.0,
                      3.6, 3.2, 2.6, 2.2, 1.8, 1.6, 1.4, 1.2, 1.0, 0.8, 0.6, 0.5] + [0.3] * 8
PER_DAY = {0: 1500, 1: 1400, 2: 1350, 3: 1350, 4: 1250, 5: 600, 6: 450}


def _weekly(
    days: Sequence[int], start: int, end: int, breaks: tuple[rota.Break, ...] = LUNCH
) -> dict[str, Any]:
    return {"kind": "weekly", "days": [rota.WEEKDAYS[d] for d in days], "breaks": [
        b.to_json() for b in breaks], "start": f"{start:02d}:00", "end": f"{end:02d}:00"}


def _cycle(sequence: str, offset: int, start: int, end: int) -> dict[str, Any]:
    times = {"D": {"start": f"{start:02d}:00", "end": f"{end:02d}:00",
                   "breaks": [b.to_json() for b in LONG_BREAK]}}
    return {"kind": "cycle", "anchor": (ANCHOR + timedelta(days=offset)).isoformat(),
            "sequence": sequence, "times": times}


def demo_pattern(seed: int, n: int) -> dict[str, Any]:
    """Expert ``n``'s pattern JSON (without id, expert and zone)."""
    rng = random.Random(f"{seed}:shifts:{n}")
    roll, pick = rng.random(), rng.randrange(14)
    mix: tuple[tuple[float, Callable[[], dict[str, Any]]], ...] = (
        (0.42, lambda: _weekly(range(5), 8 + pick % 3, 16 + pick % 3)),
        (0.56, lambda: _cycle(rota.PRESETS["4-on-4-off"], pick % 8, 7, 19)),
        (0.64, lambda: _cycle(rota.PRESETS["4-on-4-off"], pick % 8, 19, 7)),
        (0.70, lambda: _cycle(rota.PRESETS["2-2-3"], pick, 8, 20)),
        (0.82, lambda: _weekly(range(5), 16, 22, ())),
        (0.92, lambda: _weekly(((0, 2, 4), (1, 3), (0, 1, 2))[pick % 3], 9, 14, ())),
    )
    return next((make for limit, make in mix if roll < limit), lambda: _weekly((5, 6), 9, 17))()


def demo_patterns(seed: int, experts: Sequence[Mapping[str, Any]]) -> list[ShiftPatternRow]:
    rows = []
    for n, expert in enumerate(experts, start=1):
        if expert["id"] in FOR_PEOPLE:
            continue  # the experts a person signs in as: no rota keeps them off shift
        data = {**demo_pattern(seed, n), "id": f"demo-shift-{n:04d}", "expert_id": expert["id"],
                "tz": expert["timezone"]}
        pattern = rota.pattern_from_json(data).to_json()
        rows.append(ShiftPatternRow(id=data["id"], expert_id=expert["id"], kind=pattern["kind"],
                                    pattern=pattern, created_by="demo-seed"))
    return rows


def demo_history(seed: int, skills: Mapping[str, int], today: date) -> list[dict[str, Any]]:
    """Contact rows for the ``HISTORY_DAYS`` before ``today``; ``skills``: holders per skill."""
    rows: list[dict[str, Any]] = []
    for back in range(HISTORY_DAYS, 0, -1):
        day = today - timedelta(days=back)
        rng = random.Random(f"{seed}:history:{day.isoformat()}")
        count = round(PER_DAY[day.weekday()] * rng.uniform(0.9, 1.1))
        slots = rng.choices(range(48), weights=SHAPE, k=count)
        chosen = rng.choices(list(skills), weights=list(skills.values()), k=count)
        midnight = rota.to_utc(day, time(0), LONDON).timestamp()
        for slot, skill in sorted(zip(slots, chosen, strict=True)):
            rows.append(_contact(rng, len(rows) + 1, skill, midnight + slot * 1800 +
                                 rng.uniform(0, 1800), day))
    return rows


def _contact(rng: random.Random, n: int, skill: str, arrived: float, day: date) -> dict[str, Any]:
    waited = rng.expovariate(1 / 25)
    abandoned = rng.random() < 0.07
    handle = rng.lognormvariate(math.log(480), 0.5)
    return {"id": f"demo-h-{day:%Y%m%d}-{n:06d}", "seq": -n,
            "external_ref": f"demo-history:{day.isoformat()}:{n}", "channel": "voice",
            "medium": "phone", "skill": skill, "language": "en", "priority": 0, "org": None,
            "accreditations": [], "address": "", "callback_number": "", "triage": None,
            "state": "abandoned" if abandoned else "completed", "reason": "demo history",
            "arrived_at": arrived, "answered_at": None if abandoned else arrived + waited,
            "ended_at": arrived + waited + (0 if abandoned else handle), "waited_s": waited,
            "expert_id": None}


async def seed_shifts(session: AsyncSession, pool: Mapping[str, Any], seed: int) -> None:
    """Add the demo patterns and history for ``pool`` (the demo import document)."""
    session.add_all(demo_patterns(seed, pool["experts"]))
    holders: dict[str, int] = {}
    for expert in pool["experts"]:
        for skill in expert["skills"]:
            holders[skill] = holders.get(skill, 0) + 1
    today = datetime.now(UTC).astimezone(LONDON).date()
    rows = demo_history(seed, holders, today)
    await session.flush()
    if rows:
        # ContactRow's Core table (the same object as its __table__, which is untyped)
        contact = ContactRow.metadata.tables[ContactRow.__tablename__]
        await session.exec(sa.insert(contact), params=rows)
