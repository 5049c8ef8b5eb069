"""HTTP import and export of the pool.

- ``GET /api/v1/export?format=json|csv``: admins get the whole pool (JSON) or every expert
  (CSV); a supervisor gets their organisations' experts, as CSV only.
- ``POST /api/v1/import?format=json|csv&dry_run=true&replace=false`` (admins): a JSON pool
  document (``application/json``) or an experts CSV (``text/csv``). Invalid input is a 422
  listing every problem in ``error.details.problems``; a dry run answers 200 with the plan and
  writes nothing; otherwise the plan is applied in one transaction, one audit record per change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from base.access import Principal, Role, require_role
from base.api_spec import ANY_OBJECT, TEXT, Query, Reply, operation
from base.errors import BadRequest, Forbidden, InvalidInput
from base.http import json_response, principal, read_json
from base.inputs import read_body, text_problem
from skills import transfer

CSV_TYPES = ("text/csv", "text/plain", "application/csv")
OnChange = Callable[[], Awaitable[None] | None]
FORMAT = Query("format", enum=("json", "csv"), doc="json: the whole pool; csv: the experts")
DRY_RUN = Query("dry_run", "bool", default=False, doc="plan only, write nothing")
REPLACE = Query("replace", "bool", default=False, doc="delete what the file does not hold")


@dataclass(frozen=True, slots=True)
class Transfer:
    """What the routes need: sessions, and who to tell after a change."""

    sessions: Callable[[], AsyncSession]
    on_change: OnChange | None = None


TRANSFER = web.AppKey("skills.transfer", Transfer)


def add_routes(
    app: web.Application,
    *,
    sessions: Callable[[], AsyncSession],
    on_change: OnChange | None = None,
) -> None:
    """Register the routes; ``on_change`` (optional) is called after an import changed the pool."""
    app[TRANSFER] = Transfer(sessions, on_change)
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
    async with deps.sessions() as session, session.begin():
        plan = await _plan(session, fmt, data, replace=replace)
        if not plan.valid:
            problems = [str(p) for p in plan.problems]
            raise InvalidInput(plan.headline(), problems=problems, plan=plan.to_json())
        if not dry_run:
            await transfer.apply_import(session, plan, actor=who)
    if plan.changes and not dry_run and deps.on_change is not None:
        result = deps.on_change()
        if result is not None:
            await result
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
