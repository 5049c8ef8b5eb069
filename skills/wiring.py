"""``setup(app, sessions=…)``: the supervisor API for the skills pool, and its ``PoolWatch``.

``setup`` registers the routes under ``/api/v1`` (skills, experts with their proficiencies and
accreditations, organisations, sharing agreements, import and export, the graph, coverage,
triage and the audit log) and stores a ``PoolWatch`` under a typed key:
``pool_watch(app).subscribe(callback)`` hears about every committed pool change.
``live_contacts`` counts the contacts not yet finished that ask for a skill (the composition
root passes the routing engine's query): a skill they ask for cannot be deleted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from base.db import Sessions
from skills import api_experts, api_graph, api_orgs, api_skills, transfer_api
from skills.api_common import POOL_API, LiveContacts, PoolApi, no_live_contacts
from skills.watch import EVERYTHING, PoolWatch

__all__ = ["POOL_WATCH", "pool_watch", "setup"]

POOL_WATCH = web.AppKey("skills.pool_watch", PoolWatch)


def setup(app: web.Application, *, sessions: Sessions, taxonomy_cost: float = 0.5,
          live_contacts: LiveContacts = no_live_contacts) -> None:
    """Register the pool routes on ``app`` and its ``PoolWatch`` (see ``pool_watch``)."""
    watch = PoolWatch(taxonomy_cost=taxonomy_cost)
    app[POOL_WATCH] = watch
    app[POOL_API] = PoolApi(sessions=sessions, watch=watch, live_contacts=live_contacts)
    app.cleanup_ctx.append(_watch_ctx)
    app.router.add_routes(
        [*api_skills.routes(), *api_experts.routes(), *api_orgs.routes(), *api_graph.routes()]
    )
    transfer_api.add_routes(app, sessions=sessions, on_change=lambda: watch.publish(EVERYTHING),
                            lock=watch.taxonomy_lock)


def pool_watch(app: web.Application) -> PoolWatch:
    """The app's ``PoolWatch``; fails with a fix-it message when ``setup`` was not called."""
    try:
        return app[POOL_WATCH]
    except KeyError:
        raise RuntimeError(
            "no PoolWatch on this app: call skills.wiring.setup(app, sessions=…) "
            "in the app factory before using pool_watch(app)"
        ) from None


async def _watch_ctx(app: web.Application) -> AsyncIterator[None]:
    async with app[POOL_WATCH]:
        yield
