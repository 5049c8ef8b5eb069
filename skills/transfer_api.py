"""HTTP import and export of the pool.

- ``GET /api/v1/export?format=json|csv``: admins get the whole pool (JSON) or every expert
  (CSV); a supervisor gets their organisations' experts, as CSV only.
- ``POST /api/v1/import?format=json|csv&dry_run=true&replace=false`` (admins): a JSON pool
  document (``application/json``) or an experts CSV (``text/csv``). Invalid input is a 422
  listing every problem in ``error.details.problems``; a dry run answers 200 with the plan and
  writes nothing; otherwise the plan is applied in one transaction, one audit record per change.

An import may change the taxonomy (skills and their links), so it queues with every other
taxonomy write (``importing``): in this process behind ``PoolWatch.taxonomy_lock``, across
processes behind the database's taxonomy lock. Unserialised, an import and a skill edit made
together could each pass the cycle check against what the other had not yet committed, and
the edit's graph, built before the import committed, could be cached after it, hiding the
imported skills from routing until the next change.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from base.access import Principal, Role, require_role
from base.api_spec import ANY_OBJECT, TEXT, Query, Reply, operation
from base.db import writing
from base.errors import BadRequest, Forbidden, InvalidInput
from base.http import json_response, principal, read_json
from base.inputs import read_body, text_problem
from skills import transfer
from skills.api_common import lock_taxonomy

CSV_TYPES = ("text/csv", "text/plain", "application/csv")
OnChange = Callable[[], Awaitable[None] | None]
FORMAT = Query("format", enum=("json", "csv"), doc="json: the whole pool; csv: the experts")
DRY_RUN = Query("dry_run", "bool", default=False, doc="plan only, write nothing")
REPLACE = Query("replace", "bool", default=False, doc="delete what the file does not hold")


@dataclass(frozen=True, slots=True)
class Transfer:
    """What the routes need: sessions, who to tell after a change, and the lock that taxonomy
    writes in this process queue behind (``PoolWatch.taxonomy_lock``)."""

    sessions: Callable[[], AsyncSession]
    on_change: OnChange | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


TRANSFER = web.AppKey("skills.transfer", Transfer)


@dataclass(slots=True)
class Importing:
    """An import's transaction: set ``changed`` once the plan is applied."""

    session: AsyncSession
    changed: bool = False


@asynccontextmanager
async def importing(deps: Transfer) -> AsyncIterator[Importing]:
    """One import's transaction (``base.db.writing``: a clash is a 409, a busy database a 503),
    queued with every other taxonomy write, here and in other processes; when it ``changed``
    the pool, ``on_change`` is told after the commit and before the next write may start."""
    async with deps.lock:
        async with writing(deps.sessions) as session:
            await lock_taxonomy(session)
            run = Importing(session)
            yield run
        if run.changed and deps.on_change is not None:
            result = deps.on_change()
            if result is not None:
                await result


def add_routes(
    app: web.Application,
    *,
    sessions: Callable[[], AsyncSession],
    on_change: OnChange | None = None,
    lock: asyncio.Lock | None = None,
) -> None:
    """Register the routes; ``on_change`` (optional) is called after an import changed the
    pool; ``lock`` is the one skill edits hold (one of its own when not given)."""
    app[TRANSFER] = Transfer(sessions, on_change, lock or asyncio.Lock())
    app.router.add_get("/api/v1/export", export)
    app.router.add_post("/api/v1/import", import_pool)


@operation("Export the pool (JSON) or its experts (CSV)",
           roles=("admin", "supervisor (their organisations' experts, CSV only)"),
           query=(FORMAT,), reply=Reply(media={"text/csv": TEXT}))
async def export(request: web.Request) -> web.StreamResponse:
    fmt = _format(request, default="json")
    orgs = _export_scope(principal(request), fmt)
    async with request.app[TRANSFER].sessions() as session:
        if fmt == "json":
            return json_response(await transfer.export_pool(session))
        text = await transfer.export_experts_csv(session, orgs=orgs)
    disposition = {"Content-Disposition": 'attachment; filename="experts.csv"'}
    return web.Response(text=text, content_type="text/csv", charset="utf-8", headers=disposition)


@operation("Import a pool document (JSON) or experts (CSV), or plan it with dry_run",
           roles=("admin",), query=(FORMAT, DRY_RUN, REPLACE),
           body_media={"application/json": ANY_OBJECT, "text/csv": TEXT})
async def import_pool(request: web.Request) -> web.StreamResponse:
    who = principal(request)
    require_role(who, Role.ADMIN)
    deps = request.app[TRANSFER]
    dry_run, replace = DRY_RUN.read(request), REPLACE.read(request)
    fmt = _format(request, default="csv" if request.content_type in CSV_TYPES else "json")
    data = await _body(request, fmt)
    async with importing(deps) as run:
        plan = await _plan(run.session, fmt, data, replace=replace)
        if not plan.valid:
            problems = [str(p) for p in plan.problems]
            raise InvalidInput(plan.headline(), problems=problems, plan=plan.to_json())
        if not dry_run:
            await transfer.apply_import(run.session, plan, actor=who)
            run.changed = bool(plan.changes)
    return json_response({**plan.to_json(), "dry_run": dry_run, "applied": not dry_run})


def _format(request: web.Request, *, default: str) -> str:
    fmt: str = FORMAT.read(request) or default
    return fmt


def _export_scope(who: Principal, fmt: str) -> frozenset[str] | None:
    """None (everything) for an admin; a supervisor's organisations, for CSV only."""
    require_role(who, Role.ADMIN, Role.SUPERVISOR)
    if who.role is Role.ADMIN:
        return None
    if fmt != "csv":
        raise Forbidden(
            "a supervisor may export only their organisations' experts, as CSV (?format=csv)"
        )
    return who.orgs


async def _body(request: web.Request, fmt: str) -> Any:
    if fmt == "json":
        return await read_json(request)
    try:
        text = (await read_body(request)).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadRequest("the CSV body must be UTF-8 text") from None
    problem = text_problem(text)
    if problem is not None:
        raise BadRequest(f"the CSV body {problem}", code="invalid_text")
    return text


async def _plan(
    session: AsyncSession, fmt: str, data: Any, *, replace: bool
) -> transfer.ImportPlan:
    if fmt == "csv":
        return await transfer.plan_experts_csv(session, data, replace=replace)
    return await transfer.plan_import(session, data, replace=replace)
