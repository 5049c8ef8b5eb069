"""The daily report (pure): one London day's contacts summarised.

``service_level`` = answered within the target / (answered + abandoned), as the simulator
defines it (docs/simulator.md); ``asa_s`` = mean wait of answered contacts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def summarise(rows: Iterable[tuple[str, str, float | None]], *, target_s: float,
              service_level_target: float) -> dict[str, Any]:
    """``rows``: (skill, state, waited_s) per contact arrived that day."""
    rows = list(rows)
    by_skill = sorted({skill for skill, _, _ in rows})
    return {**_figures(rows, target_s), "target_s": target_s,
            "service_level_target": service_level_target,
            "by_skill": {s: _figures([r for r in rows if r[0] == s], target_s) for s in by_skill}}


def _figures(rows: list[tuple[str, str, float | None]], target_s: float) -> dict[str, Any]:
    answered = [w or 0.0 for _, state, w in rows if state in ("connected", "wrapup", "completed")]
    abandoned = sum(1 for _, state, _ in rows if state == "abandoned")
    served = len(answered) + abandoned
    within = sum(1 for w in answered if w <= target_s)
    return {"offered": len(rows), "answered": len(answered), "abandoned": abandoned,
            "service_level": within / served if served else None,
            "asa_s": sum(answered) / len(answered) if answered else None}
