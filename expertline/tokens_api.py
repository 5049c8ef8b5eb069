"""The admin's API for API tokens: list, issue, revoke (what ``expertline token`` does).

``GET /api/v1/tokens`` lists every token, never its hash or secret (``ApiToken.to_json``),
paginated like every list. ``POST /api/v1/tokens`` takes ``{"role", "orgs"?, "expert"?,
"label"?, "expires_in_days"?}`` and answers 201 with the plain ``token`` once (only its hash
is stored); the organisations and the expert must be in the pool, and the scope must fit the
role (``base.access.check_scope``). ``DELETE /api/v1/tokens/{id}`` and ``POST
/api/v1/tokens/{id}/revoke`` revoke one: its next request is a 401, and the WebSockets it
opened here are closed at once (4401; ``base.socket_auth``). Admins only (anyone else:
403, before the body is read); every issue and revocation is audited with who did it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web
from sqlmodel import col, func, select

from base import audit
from base.access import Role, require_role
from base.api_spec import PAGING, Body, Integer, Reply, Text, TextList, obj, operation, page
from base.clock import now_utc, utc
from base.db import Sessions
from base.errors import InvalidInput
from base.http import json_response, page_of, principal, read_json
from base.socket_auth import OPEN_SOCKETS
from expertline.auth import ApiToken, issue_token, revoke_token, token_key
from skills.api_common import NUMERIC_PATH, path_int
from skills.pool import check_in_pool

MAX_DAYS = 3650
ROLES = tuple(r.value for r in Role)
TOKEN = Body({
    "role": Text(16, required=True, enum=ROLES),
    "orgs": TextList(doc="a supervisor's organisations"),
    "expert": Text(64, doc="an expert token's expert"),
    "label": Text(),
    "expires_in_days": Integer(1, MAX_DAYS, doc="never, when left out"),
})
TOKEN_SCHEMA = obj(("id", "role"), id={"type": "integer"}, role={"type": "string"})
ADMIN, ID = ("admin",), {"id": NUMERIC_PATH}


@dataclass(frozen=True, slots=True)
class Tokens:
    sessions: Sessions


TOKENS = web.AppKey("expertline.tokens", Tokens)


def setup(app: web.Application, *, sessions: Sessions) -> None:
    app[TOKENS] = Tokens(sessions)
    app.router.add_get("/api/v1/tokens", list_tokens)
    app.router.add_post("/api/v1/tokens", create_token)
    app.router.add_delete("/api/v1/tokens/{id}", revoke)
    app.router.add_post("/api/v1/tokens/{id}/revoke", revoke)


@operation("Every API token, never its secret", roles=ADMIN, query=PAGING,
           reply=Reply(schema=page(TOKEN_SCHEMA)))
async def list_tokens(request: web.Request) -> web.Response:
    require_role(principal(request), Role.ADMIN)
    limit, offset = (query.read(request) for query in PAGING)
    async with request.app[TOKENS].sessions() as session:
        total = (await session.exec(select(func.count()).select_from(ApiToken))).one()
        rows = (await session.exec(select(ApiToken).order_by(col(ApiToken.id))
                                   .offset(offset).limit(limit))).all()
    return json_response(page_of([row.to_json() for row in rows], total=total, limit=limit,
                                 offset=offset))


@operation("Issue a token (its secret is answered once)", roles=ADMIN, body=TOKEN,
           reply=Reply(201, obj(("token", "id", "role"), token={"type": "string"})))
async def create_token(request: web.Request) -> web.Response:
    who = principal(request)
    require_role(who, Role.ADMIN)
    body = TOKEN.read(await read_json(request))
    role = body.get("role")
    if role not in ROLES:
        raise InvalidInput(f"'role' must be one of {', '.join(ROLES)}", field="role")
    orgs = frozenset(body.get("orgs") or ())
    expert = body.get("expert") or None
    days = body.get("expires_in_days")
    expires_at = now_utc() + timedelta(days=days) if days else None
    async with request.app[TOKENS].sessions() as session, session.begin():
        plain, row = await issue_token(session, role=Role(role), orgs=orgs, expert_id=expert,
                                       label=body.get("label") or "", expires_at=expires_at)
        await check_in_pool(session, orgs, expert)
        audit.record(session, actor=who, action="create", entity="api_token",
                     entity_id=str(row.id), after={"role": row.role, "orgs": row.orgs,
                                                   "expert_id": row.expert_id,
                                                   "label": row.label,
                                                   "expires_at": _iso(row)})
        answer = {"token": plain, **row.to_json()}
    return json_response(answer, status=201)


@operation("Revoke a token: its next request is a 401", roles=ADMIN, path=ID,
           reply=Reply(schema=TOKEN_SCHEMA))
async def revoke(request: web.Request) -> web.Response:
    who = principal(request)
    require_role(who, Role.ADMIN)
    token_id = path_int(request, "token", "id")
    async with request.app[TOKENS].sessions() as session, session.begin():
        row = await revoke_token(session, token_id)
        audit.record(session, actor=who, action="revoke", entity="api_token",
                     entity_id=str(row.id), before={"revoked_at": None},
                     after={"revoked_at": (utc(row.revoked_at) or now_utc()).isoformat()})
        answer, key = row.to_json(), token_key(row.token_hash)
    open_sockets = request.app.get(OPEN_SOCKETS)
    if open_sockets is not None:
        open_sockets.end(key, "token revoked")
    return json_response(answer)


def _iso(row: ApiToken) -> str | None:
    at = utc(row.expires_at)
    return at.isoformat() if at else None
