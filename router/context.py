"""How the router's handlers find the engine and the caller: the typed AppKey and two getters.

``router.wiring.setup`` stores the running engine under ``ENGINE``; the REST handlers
(``router.api``) and the desk WebSocket (``router.desk_ws``) read it through ``engine_of``.
"""

from __future__ import annotations

from aiohttp import web

from base.access import Role, require_role
from base.http import principal
from router.engine import Engine

ENGINE = web.AppKey("router.engine", Engine)


def engine_of(app: web.Application) -> Engine:
    """The app's running engine, or a fix-it message when ``router.wiring.setup`` was not
    called or the app has not started."""
    try:
        return app[ENGINE]
    except KeyError:
        raise RuntimeError("the routing engine is not running: call router.wiring.setup(app, "
                           "engine=...) and start the app") from None


def me(request: web.Request) -> str:
    """The calling expert's id (expert tokens only)."""
    caller = principal(request)
    require_role(caller, Role.EXPERT)
    if caller.expert_id is None:  # an expert token always names its expert
        raise RuntimeError("an expert principal without an expert id")
    return caller.expert_id
