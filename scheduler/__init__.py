"""Shift patterns, rota reconciliation, scheduled callbacks, staffing maths and coverage.

Others import from here: ``setup`` (the composition root) and ``scheduler_of(app)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from base.clock import now_utc
from router.ports import AvailabilityPort, OnShift
from scheduler import api
from scheduler.service import Scheduler

SCHEDULER = web.AppKey("scheduler.scheduler", Scheduler)

__all__ = ["SCHEDULER", "AvailabilityPort", "OnShift", "Scheduler", "scheduler_of", "setup"]


def setup(app: web.Application, *, sessions: Callable[[], AsyncSession], config: Any,
          availability: Callable[[], AvailabilityPort | None],
          routing: Callable[[], Any], clock: Callable[[], datetime] = now_utc) -> None:
    """Store a ``Scheduler`` under ``SCHEDULER``; it starts (when ``scheduler.enabled``) and
    stops with the app. ``availability`` and ``routing`` are called when needed, so they may
    return None until the routing engine is up."""
    sched = Scheduler(sessions=sessions, config=config, availability=availability,
                      routing=routing, clock=clock)
    app[SCHEDULER] = sched
    app[api.SCHEDULER_API] = api.SchedulerApi(sessions=sessions, scheduler=sched)
    app.router.add_routes(api.routes())
    app.cleanup_ctx.append(_lifecycle)


def scheduler_of(app: web.Application) -> Scheduler:
    try:
        return app[SCHEDULER]
    except KeyError:
        raise RuntimeError("no Scheduler on this app: call scheduler.setup(app, sessions=…, "
                           "config=…, availability=…, routing=…) in the app factory") from None


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    async with app[SCHEDULER]:
        yield
