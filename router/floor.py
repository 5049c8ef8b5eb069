"""The floor now, as the scheduler's breach alerts read it (``router.ports.FloorPort``).

``read_floor(core, records, now)`` is pure: the contacts queued per skill (the core's queues,
as the wallboard counts them), every active expert who is working now (available, offered,
busy or wrapping up; the rota's "off shift" is already away) with the skills they hold and
whether they are free, and the organisations whose active experts hold each skill (what a
supervisor's view of the alerts is scoped by).
"""

from __future__ import annotations

from collections.abc import Mapping

from router.core import RoutingCore
from router.model import STAFFED, ExpertState
from router.ports import Floor, OnDuty
from skills.snapshot import ExpertRecord


def read_floor(core: RoutingCore, records: Mapping[str, ExpertRecord], now: float) -> Floor:
    waiting: dict[str, int] = {}
    for queue in core.queue_stats(now):
        waiting[queue.skill] = waiting.get(queue.skill, 0) + queue.waiting
    on_duty: list[OnDuty] = []
    orgs: dict[str, set[str]] = {}
    for record in records.values():
        if not record.active:
            continue
        for skill in record.skills:
            orgs.setdefault(skill, set()).add(record.org)
        view = core.expert(record.id)
        if view is not None and view.state in STAFFED:
            on_duty.append(OnDuty(record.id, record.name or record.id, record.org,
                                  frozenset(record.skills),
                                  view.state is ExpertState.AVAILABLE))
    return Floor(at=now, waiting=waiting, on_duty=tuple(on_duty),
                 orgs={skill: frozenset(found) for skill, found in orgs.items()})
