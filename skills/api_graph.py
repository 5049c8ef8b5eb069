"""The supervisor API for the skills pool: ``setup(app, sessions=…)``.

``setup`` registers the routes under ``/api/v1`` (skills, experts with their proficiencies and
accreditations, organisations, sharing agreements, the graph, coverage, triage and the audit log)
and stores a ``PoolWatch`` under a typed key: ``pool_watch(app).subscribe(callback)`` hears about
every committed pool change. Handlers check role and scope with ``base.access``; the auth
middleware of the composition root has already resolved the bearer token.
"""

from __future__ import annotations

from aiohttp import web

from base.access import Role, require_pool_reader, require_role
from base.errors import BadRequest
from base.http import json_response, page_of, paging, principal, query_int
from skills import pool
from skills.api_common import api_of
from skills.serialise import audit_json

MAX_TRIAGE_TEXT = 1000


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v1/graph", get_graph),
        web.get("/api/v1/graph/coverage", get_coverage),
        web.get("/api/v1/triage", get_triage),
        web.get("/api/v1/audit", get_audit),
    ]


async def get_graph(request: web.Request) -> web.Response:
    """The skills graph as node-link JSON (``?format=json``, default) or GraphML."""
    require_pool_reader(principal(request))
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "graphml"):
        raise BadRequest(f"format must be json or graphml, got {fmt!r}")
    api = api_of(request)
    async with api.reading() as session:
        graph = await api.graph(session)
    if fmt == "graphml":
        return web.Response(text=graph.to_graphml(), content_type="application/xml")
    return json_response(graph.to_node_link())


async def get_coverage(request: web.Request) -> web.Response:
    """Skills no active expert holds, held by ``?fragile_max=`` (default 2) or fewer, or by one
    organisation's experts only."""
    require_pool_reader(principal(request))
    fragile_max = query_int(request, "fragile_max", 2, lo=0, hi=100)
    api = api_of(request)
    async with api.reading() as session:
        graph = await api.graph(session)
        holders = await pool.holders_by_skill(session)
    known = {skill: held for skill, held in holders.items() if skill in graph}
    return json_response(graph.coverage(known, fragile_max=fragile_max).to_json())


async def get_triage(request: web.Request) -> web.Response:
    """``?text=…&limit=`` -> the likely skills, best first (what the IVR would pick)."""
    require_pool_reader(principal(request))
    text = request.query.get("text", "").strip()
    if not text:
        raise BadRequest("give the words to triage as ?text=")
    if len(text) > MAX_TRIAGE_TEXT:
        raise BadRequest(f"?text= is longer than {MAX_TRIAGE_TEXT} characters")
    limit = query_int(request, "limit", 5, lo=1, hi=50)
    api = api_of(request)
    async with api.reading() as session:
        graph = await api.graph(session)
    matches = [
        {
            "skill": m.skill_id,
            "name": graph.spec(m.skill_id).name,
            "score": round(m.score, 4),
            "matched": list(m.matched),
        }
        for m in graph.triage(text, limit=limit)
    ]
    return json_response({"text": text, "matches": matches})


async def get_audit(request: web.Request) -> web.Response:
    """Audit entries, newest first; ``?entity=`` and ``?entity_id=`` filter (admins only)."""
    require_role(principal(request), Role.ADMIN)
    limit, offset = paging(request)
    async with api_of(request).reading() as session:
        rows, total = await pool.list_audit(
            session,
            entity=request.query.get("entity") or None,
            entity_id=request.query.get("entity_id") or None,
            limit=limit,
            offset=offset,
        )
    items = [audit_json(r) for r in rows]
    return json_response(page_of(items, total=total, limit=limit, offset=offset))
