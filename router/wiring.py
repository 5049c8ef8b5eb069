"""``setup(app, engine=…)``: the routing engine's lifecycle and its HTTP surface.

The engine is made in a cleanup context, inside the running loop once the database is open,
started before the channels subscribe to it and closed after them. The routes are the expert
desk (``/api/v1/me…``, ``/ws/expert``), contacts and live statistics (``router.api``), the
console's wallboard (``/ws/console``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from router import api, console_ws, desk_ws
from router.context import ENGINE, engine_of
from router.engine import Engine
from router.stats import SharedStats

__all__ = ["ENGINE", "engine_of", "setup"]


def setup(app: web.Application, *, engine: Callable[[web.Application], Engine]) -> None:
    """``engine(app)`` builds the engine once the database is open (inside the running loop)."""

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        made = engine(app)
        await made.start()
        app[ENGINE] = made
        app[console_ws.SHARED] = SharedStats(made, console_ws.MIN_GAP_S / 2)
        yield
        await made.close()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_routes(api.routes())
    app.router.add_get("/ws/expert", desk_ws.expert_socket)
    app.router.add_get("/ws/console", console_ws.console_socket)
