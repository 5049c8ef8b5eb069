"""Reconciliation (pure): from stored patterns and ``now``, the rota picture the engine applies.

``picture(patterns, absences, now, no_voice_last_min)`` -> ``(on_shift, rostered)`` for
``AvailabilityPort.apply_rota``. An expert is on shift when a shift runs at ``now`` and they are
not on a break; ``ends_at`` follows back-to-back shifts; ``voice_ok`` is False within the last
``no_voice_last_min`` minutes. ``rostered`` is every expert with a pattern. ``boundaries`` gives
the instants after ``now`` when the picture may change (shift and break edges, voice cut-offs):
the scheduler puts a date job on each.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from router.ports import OnShift
from scheduler import rota

LOOK_BACK = timedelta(days=2)  # long enough for any night or one-off shift running into now


def _by_expert(shifts: Iterable[rota.Shift]) -> dict[str, list[rota.Shift]]:
    found: dict[str, list[rota.Shift]] = {}
    for shift in shifts:
        found.setdefault(shift.expert_id, []).append(shift)
    return found


def picture(patterns: Iterable[rota.Pattern], absences: Iterable[rota.Absence], now: datetime,
            no_voice_last_min: float) -> tuple[dict[str, OnShift], frozenset[str]]:
    patterns = list(patterns)
    rostered = frozenset(p.expert_id for p in patterns)
    shifts = rota.expand(patterns, absences, now - LOOK_BACK, now + LOOK_BACK)
    on_shift: dict[str, OnShift] = {}
    for expert_id, mine in sorted(_by_expert(shifts).items()):
        left = rota.minutes_left(mine, now)
        if left is None or rota.on_break(mine, now):
            continue
        ends_at = (now + timedelta(minutes=left)).timestamp()
        on_shift[expert_id] = OnShift(expert_id, ends_at, voice_ok=left > no_voice_last_min)
    return on_shift, rostered


def boundaries(patterns: Iterable[rota.Pattern], absences: Iterable[rota.Absence],
               now: datetime, horizon: timedelta,
               no_voice_last_min: float) -> list[datetime]:
    """Every instant in ``(now, now + horizon]`` at which ``picture`` may change, sorted."""
    shifts = rota.expand(list(patterns), absences, now - LOOK_BACK, now + horizon)
    cutoff = timedelta(minutes=no_voice_last_min)
    edges = {t for s in shifts for t in (s.start, s.end, s.end - cutoff)}
    edges |= {t for s in shifts for b in s.breaks for t in (b.start, b.end)}
    return sorted(t for t in edges if now < t <= now + horizon)


def rota_of(rows: Iterable[Mapping[str, object]],
            zones: Mapping[str, str]) -> tuple[list[rota.Pattern], list[rota.Absence]]:
    """Stored pattern JSON (with ``kind``) into patterns and absences, each in its expert's
    current time zone (``zones``: expert id -> IANA zone)."""
    patterns: list[rota.Pattern] = []
    absences: list[rota.Absence] = []
    for data in rows:
        expert = str(data.get("expert_id", ""))
        fixed = {**data, "tz": zones.get(expert, data.get("tz", "Europe/London"))}
        if fixed.get("kind") == "absence":
            absences.append(rota.Absence.from_json(fixed))
        else:
            patterns.append(rota.pattern_from_json(fixed))
    return patterns, absences
