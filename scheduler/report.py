"""The daily report (pure): one London day's contacts summarised.

``service_level`` = answered within the target / (answered + abandoned), as the simulator
defines it (docs/simulator.md); ``asa_s`` = mean wait of answered contacts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Promise = tuple[float, float]  # (target_s, service level to reach)


def summarise(rows: Iterable[tuple[str, str, float | None]], *, target_s: float,
              service_level_target: float,
              promises: Mapping[str, Promise] | None = None) -> dict[str, Any]:
    """``rows``: (skill, state, waited_s) per contact arrived that day. A skill with a promise
    of its own (``promises``: ``[staffing.skills.ID]``) is measured against it, alone and in
    the day's overall figure; each skill's figures name its target."""
    rows = list(rows)
    own = promises or {}
    targets = {skill: promise[0] for skill, promise in own.items()}
    by_skill = sorted({skill for skill, _, _ in rows})
    return {**_figures(rows, target_s, targets), "target_s": target_s,
            "service_level_target": service_level_target,
            "by_skill": {s: {**_figures([r for r in rows if r[0] == s], target_s, targets),
                             "target_s": own.get(s, (target_s, 0.0))[0],
                             "service_level_target": own.get(
                                 s, (0.0, service_level_target))[1]}
                         for s in by_skill}}


def _figures(rows: list[tuple[str, str, float | None]], target_s: float,
             targets: Mapping[str, float]) -> dict[str, Any]:
    answered = [(skill, w or 0.0) for skill, state, w in rows
                if state in ("connected", "wrapup", "completed")]
    abandoned = sum(1 for _, state, _ in rows if state == "abandoned")
    served = len(answered) + abandoned
    within = sum(1 for skill, w in answered if w <= targets.get(skill, target_s))
    return {"offered": len(rows), "answered": len(answered), "abandoned": abandoned,
            "service_level": within / served if served else None,
            "asa_s": sum(w for _, w in answered) / len(answered) if answered else None}
