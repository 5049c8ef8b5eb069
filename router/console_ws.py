"""``/ws/console``: the supervisor wallboard's live channel (admins and supervisors; the session
cookie or a bearer token, through the app's auth middleware).

The server pushes ``{"type": "wallboard", "stats": …, "contacts": […], "alerts": […]}``:
``stats`` is what ``GET /api/v1/stats`` answers (the same function, ``router.stats.live_stats``,
read at most half a second before the push), ``contacts``
the contacts not yet finished that the caller may see (``router.supervision.sees_contact``),
longest-waiting first (id, channel, medium, skill, priority, state, seconds since arrival, the
expert on it; never the citizen's number or words), ``alerts`` the skills heading for a breach
as ``GET /api/v1/alerts`` names them to the caller (the composition root hands the source in
under ``ALERTS``: the router may not import the scheduler; none without one). It pushes once
on connect, again after routing changes (several changes within ``MIN_GAP_S`` make one push;
the consoles share one reading of the figures, at most two a second) and at least every
``EVERY_S`` while nothing changes, so waits keep growing on screen (and alerts appear within
``EVERY_S`` of their forecast). The console sends nothing; what it sends is ignored.
When the figures cannot be read (the database is down), the socket closes with 1011 and the page
reconnects. The socket lasts no longer than the session or token it was opened with
(``base.socket_auth``): on sign-out, or at the first check after it expired or was revoked, it
closes with 4401 and the reason."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import WSCloseCode, web

from base.access import Principal, Role, require_role
from base.http import principal
from base.socket_auth import held
from router.context import engine_of
from router.engine import Engine
from router.stats import SharedStats
from router.supervision import sees_contact

log = logging.getLogger("router.console")
EVERY_S = 5.0
MIN_GAP_S = 1.0
MAX_FRAME = 4096
SHARED = web.AppKey("router.console_stats", SharedStats)
AlertsSource = Callable[[Principal], list[dict[str, Any]]]
ALERTS = web.AppKey[AlertsSource]("router.console_alerts")


async def console_socket(request: web.Request) -> web.WebSocketResponse:
    caller = principal(request)
    require_role(caller, Role.ADMIN, Role.SUPERVISOR)
    engine = engine_of(request.app)
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=MAX_FRAME)
    await ws.prepare(request)
    changed = asyncio.Event()
    stop_watching = engine.watch_steps(changed.set)
    alerts = request.app.get(ALERTS)
    pusher = asyncio.create_task(_push(ws, request.app[SHARED], engine, changed, caller,
                                       alerts))
    try:
        with held(request, ws):
            async for _message in ws:
                pass  # the wallboard only listens
    finally:
        stop_watching()
        pusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pusher
    return ws


async def _push(ws: web.WebSocketResponse, figures: SharedStats, engine: Engine,
                changed: asyncio.Event, caller: Principal,
                alerts: AlertsSource | None = None) -> None:
    while not ws.closed:
        changed.clear()
        try:
            frame = wallboard(engine, await figures.read(caller), caller,
                              [] if alerts is None else alerts(caller))
        except Exception:  # the database is unreachable: the page reconnects and tries again
            log.warning("the wallboard's figures could not be read; closing its socket",
                        exc_info=True)
            await ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"figures unavailable")
            return
        await ws.send_json(frame)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), EVERY_S)
        await asyncio.sleep(MIN_GAP_S)  # a burst of changes makes one push, not one each


def wallboard(engine: Engine, stats: dict[str, Any], caller: Principal,
              alerts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The frame: the live figures, the contacts not yet finished that ``caller`` may see
    (``router.supervision.sees_contact``) and the breach ``alerts`` they may see."""
    now = engine.clock()
    contacts = [{"id": c.id, "channel": c.channel.value, "medium": c.medium.value,
                 "skill": c.skill, "priority": c.priority, "state": c.state.value,
                 "waited_s": round(max(now - c.arrived_at, 0.0), 1),
                 "expert_id": c.expert_id} for c in engine.live_contacts()
                if sees_contact(caller, c.org, None if c.expert_id is None
                                else engine.expert_org(c.expert_id))]
    return {"type": "wallboard", "stats": stats, "contacts": contacts,
            "alerts": alerts or []}
