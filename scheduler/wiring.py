"""``setup(app, …)``: the scheduler's lifecycle (jobs start and stop with the app) and its API.

``setup`` stores a ``Scheduler`` under ``SCHEDULER`` and registers the shift, rota, callback,
coverage and report routes; ``scheduler_of(app)`` finds it again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime

from aiohttp import web

from base.clock import now_utc
from base.config import Config
from base.db import Sessions
from router.ports import AvailabilityPort, RoutingPort
from scheduler import api
from scheduler.service import Scheduler

SCHEDULER = web.AppKey("scheduler.scheduler", Scheduler)

__all__ = ["SCHEDULER", "scheduler_of", "setup"]


def setup(app: web.Application, *, sessions: Sessions, config: Config,
          availability: Callable[[], AvailabilityPort | None],
          routing: Callable[[], RoutingPort | None],
          clock: Callable[[], datetime] = now_utc) -> None:
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
        raise RuntimeError("no Scheduler on this app: call scheduler.wiring.setup(app, sessions=…, "
                           "config=…, availability=…, routing=…) in the app factory") from None


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    async with app[SCHEDULER]:
        yield
