"""What the scheduler needs from the routing engine: the rota as it stands now.

The scheduler reconciles availability with the rota (at every shift boundary and every minute
as a safety net) by handing the engine the whole picture; the engine decides what it means for
each expert. This module imports nothing of ours, so both sides can depend on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class OnShift:
    """An expert on shift now. ``ends_at`` is epoch seconds; ``voice_ok`` is False in the last
    minutes of the shift (config ``scheduler.no_voice_offer_last_min``): no new voice offers."""

    expert_id: str
    ends_at: float
    voice_ok: bool = True


@runtime_checkable
class AvailabilityPort(Protocol):
    async def apply_rota(self, on_shift: Mapping[str, OnShift], rostered: frozenset[str]) -> None:
        """``rostered``: every expert with a rota (others are not restricted by it). A rostered
        expert missing from ``on_shift`` is off shift: no new offers, they finish what they
        have. Idempotent: the same picture twice changes nothing."""
        ...
