"""``setup(app, …)``: the scheduler's lifecycle (jobs start and stop with the app) and its API.

``setup`` stores a ``Scheduler`` under ``SCHEDULER`` and registers the shift, rota, callback,
coverage and report routes; ``scheduler_of(app)`` finds it again. With a ``floor`` it also
keeps the breach alerts (``scheduler.alerts``, a job every ``staffing.breach_every_s``) under
``ALERTS`` and serves them at ``GET /api/v1/alerts``; ``alerts_of(app)`` finds them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime

from aiohttp import web

from base.clock import now_utc
from base.config import Config
from base.db import Sessions
from router.ports import AvailabilityPort, FloorPort, RoutingPort
from scheduler import alerts_api, api
from scheduler.alerts import BreachAlerts
from scheduler.alerts_api import ALERTS
from scheduler.service import Scheduler

SCHEDULER = web.AppKey("scheduler.scheduler", Scheduler)

__all__ = ["ALERTS", "SCHEDULER", "alerts_of", "scheduler_of", "setup"]


def setup(app: web.Application, *, sessions: Sessions, config: Config,
          availability: Callable[[], AvailabilityPort | None],
          routing: Callable[[], RoutingPort | None],
          clock: Callable[[], datetime] = now_utc,
          floor: Callable[[], FloorPort | None] | None = None) -> None:
    """Store a ``Scheduler`` under ``SCHEDULER``; it starts (when ``scheduler.enabled``) and
    stops with the app. ``availability`` and ``routing`` are called when needed, so they may
    return None until the routing engine is up; so may ``floor``, the engine as the breach
    alerts read it."""
    sched = Scheduler(sessions=sessions, config=config, availability=availability,
                      routing=routing, clock=clock)
    app[SCHEDULER] = sched
    app[api.SCHEDULER_API] = api.SchedulerApi(sessions=sessions, scheduler=sched)
    app.router.add_routes(api.routes())
    if floor is not None:
        alerts = app[ALERTS] = BreachAlerts(sessions=sessions, staffing=config.staffing,
                                            floor=floor)
        sched.every("breach-alerts", config.staffing.breach_every_s, alerts.refresh)
        app.router.add_routes(alerts_api.routes())
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


def alerts_of(app: web.Application) -> BreachAlerts | None:
    """The app's breach alerts, None when ``setup`` was given no ``floor``."""
    return app.get(ALERTS)
