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
from base.api_spec import PAGING, TEXT, Query, Reply, obj, operation, page
from base.errors import BadRequest
from base.http import json_response, page_of, paging, principal
from skills import pool
from skills.api_common import api_of
from skills.serialise import AUDIT_SCHEMA, audit_json

MAX_TRIAGE_TEXT = 1000
READERS = ("admin", "supervisor")
FORMAT = Query("format", enum=("json", "graphml"), default="json")
FRAGILE_MAX = Query("fragile_max", "int", lo=0, hi=100, default=2)
TRIAGE_TEXT = Query("text", required=True, max_len=MAX_TRIAGE_TEXT, doc="the words to triage")
TRIAGE_LIMIT = Query("limit", "int", lo=1, hi=50, default=5)
ENTITY, ENTITY_ID = Query("entity"), Query("entity_id")
MATCH = obj(("skill", "name", "score", "matched"), skill=TEXT, name=TEXT,
            score={"type": "number"}, matched={"type": "array", "items": TEXT})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v1/graph", get_graph),
        web.get("/api/v1/graph/coverage", get_coverage),
        web.get("/api/v1/triage", get_triage),
        web.get("/api/v1/audit", get_audit),
    ]


@operation("The skills graph, as node-link JSON or GraphML", roles=READERS, query=(FORMAT,),
           reply=Reply(media={"application/xml": TEXT}))
async def get_graph(request: web.Request) -> web.Response:
    """The skills graph as node-link JSON (``?format=json``, default) or GraphML."""
    require_pool_reader(principal(request))
    fmt = FORMAT.read(request)
    api = api_of(request)
    async with api.reading() as session:
        graph = await api.graph(session)
    if fmt == "graphml":
        return web.Response(text=graph.to_graphml(), content_type="application/xml")
    return json_response(graph.to_node_link())


@operation("Skills nobody, few or one organisation holds", roles=READERS,
           query=(FRAGILE_MAX,))
async def get_coverage(request: web.Request) -> web.Response:
    """Skills no active expert holds, held by ``?fragile_max=`` (default 2) or fewer, or by one
    organisation's experts only."""
    require_pool_reader(principal(request))
    fragile_max = FRAGILE_MAX.read(request)
    api = api_of(request)
    async with api.reading() as session:
        graph = await api.graph(session)
        holders = await pool.holders_by_skill(session)
    known = {skill: held for skill, held in holders.items() if skill in graph}
    return json_response(graph.coverage(known, fragile_max=fragile_max).to_json())


@operation("The skills some words are likely about, best first", roles=READERS,
           query=(TRIAGE_TEXT, TRIAGE_LIMIT),
           reply=Reply(schema=obj(("text", "matches"), text=TEXT,
                                  matches={"type": "array", "items": MATCH})))
async def get_triage(request: web.Request) -> web.Response:
    """``?text=…&limit=`` -> the likely skills, best first (what the IVR would pick)."""
    require_pool_reader(principal(request))
    text = TRIAGE_TEXT.read(request)
    if not text:
        raise BadRequest("give the words to triage as ?text=")
    limit = TRIAGE_LIMIT.read(request)
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


@operation("The audit log, newest first", roles=("admin",), query=(ENTITY, ENTITY_ID, *PAGING),
           reply=Reply(schema=page(AUDIT_SCHEMA)))
async def get_audit(request: web.Request) -> web.Response:
    """Audit entries, newest first; ``?entity=`` and ``?entity_id=`` filter (admins only)."""
    require_role(principal(request), Role.ADMIN)
    limit, offset = paging(request)
    async with api_of(request).reading() as session:
        rows, total = await pool.list_audit(
            session,
            entity=ENTITY.read(request),
            entity_id=ENTITY_ID.read(request),
            limit=limit,
            offset=offset,
        )
    items = [audit_json(r) for r in rows]
    return json_response(page_of(items, total=total, limit=limit, offset=offset))
