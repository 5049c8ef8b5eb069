"""The scheduler's supervisor API: shift patterns, the expanded rota, scheduled callbacks.

Roles: admins do anything; supervisors read and change only their organisations' experts'
shifts and rota (another organisation's expert is a 404 to read, as ``GET /api/v1/experts/{id}``
answers, and a 403 to change); an expert reads their own. A supervisor lists the callbacks of
the shared national line and of their organisations' lines only. A pattern whose shifts break
the Working Time Regulations is refused with 409 listing the violations (and the shifts
involved) unless the body says ``"override": true`` with an ``"override_reason"``; the override
is audited with the rules it waived. Every change is audited in the same transaction.
"""

from __future__ import annotations

import re
import uuid
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from aiohttp import web
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from base import audit
from base.access import (
    Principal,
    Role,
    require_expert_reader,
    require_org_editor,
    require_role,
)
from base.api_spec import (
    DAY_SCHEMA,
    NO_CONTENT,
    TEXT,
    Body,
    Boolean,
    Path,
    Query,
    Raw,
    Reply,
    Text,
    TextList,
    items,
    obj,
    operation,
)
from base.clock import now_utc
from base.db import Sessions, writing
from base.errors import BadRequest, Conflict, InvalidInput, NotFound
from base.http import LANGUAGE, Fields, json_response, principal, read_json
from base.logs import mask_phone
from scheduler import coverage_data, reconcile, rota, store, wtr
from scheduler.service import Scheduler, line_of
from scheduler.tables import ScheduledCallbackRow, ShiftPatternRow
from skills.models import Expert, Skill

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
OVERRIDE = frozenset({"override", "override_reason"})  # = OVERRIDE_BODY's fields
KIND_FIELDS = {
    "weekly": {"days", "start", "end", "breaks", "starts_on", "ends_on"},
    "cycle": {"anchor", "sequence", "preset", "times", "starts_on", "ends_on"},
    "one_off": {"start", "end", "breaks"},
    "absence": {"start", "end", "reason"},
}
CHECK_WEEKS = 18  # WTR checks look this far ahead: the 17-week average and a margin
MAX_ROTA_DAYS = 62
MAX_CALLBACK_AHEAD = timedelta(days=90)
CLOCK = Text(5, doc="HH:MM, the expert's local time")
WHEN = Text(32, doc="an ISO datetime (one-off shifts, absences)")
OVERRIDE_BODY = Body({"override": Boolean(doc="save it although it breaks the WTR"),
                      "override_reason": Text(500, doc="why (audited)")})
SHIFT = Body({
    "kind": Text(16, required=True, enum=tuple(KIND_FIELDS)),
    "days": TextList(3, doc="weekly: mon..sun"),
    "start": Text(32, doc="HH:MM (weekly), an ISO datetime (one_off, absence)"),
    "end": Text(32, doc="as start"),
    "breaks": Raw({"type": "array", "items": {"type": "object"}}, doc='[{"at", "minutes"}]'),
    "starts_on": Raw(DAY_SCHEMA), "ends_on": Raw(DAY_SCHEMA),
    "anchor": Raw(DAY_SCHEMA, doc="cycle: the day its sequence starts"),
    "sequence": Raw({"type": "array"}, doc="cycle: the days on and off"),
    "preset": Text(32, enum=tuple(rota.PRESETS)), "times": Raw({"type": "object"}),
    "reason": Text(200, doc="absence"),
    **OVERRIDE_BODY.fields,
}, doc="the fields of its kind only (KIND_FIELDS)")
CALLBACK = Body({
    "number": Text(16, required=True, pattern=E164),
    "skill": Text(64, required=True),
    "language": Text(16, pattern=LANGUAGE),
    "due_at": Text(40, required=True, doc="an ISO datetime with an offset, within 90 days"),
})
SUPERVISORS = ("admin", "supervisor (changes: their organisations' experts)")
READERS = ("admin", "supervisor (their organisations' experts)", "expert (their own)")
CALLBACK_READERS = ("admin", "supervisor (the national line's and their organisations' lines')")
EXPERT_ID, SHIFT_ID = {"id": Path(max_len=64)}, {"sid": Path(max_len=64)}
FROM, TO = Query("from", "day", required=True), Query("to", "day", required=True)
DATE = Query("date", "day", required=True)
STATE_Q, SKILL_Q = Query("state", max_len=16), Query("skill", max_len=64)
PATTERN_SCHEMA = obj(("id", "expert_id", "kind", "pattern"), id=TEXT, expert_id=TEXT, kind=TEXT,
                     pattern={"type": "object"})
CALLBACK_SCHEMA = obj(("id", "number", "skill", "due_at", "state"), id=TEXT, number=TEXT,
                      skill=TEXT, due_at=TEXT, state=TEXT)


def _is_e164(value: str) -> bool:
    return E164.match(value) is not None


@dataclass(frozen=True, slots=True)
class SchedulerApi:
    sessions: Sessions
    scheduler: Scheduler

    def writing(self) -> AbstractAsyncContextManager[AsyncSession]:
        """One transaction (``base.db.writing``): a refused change is a 4xx, never a 500."""
        return writing(self.sessions)


SCHEDULER_API = web.AppKey("scheduler.api", SchedulerApi)


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v1/experts/{id}/shifts", list_shifts),
        web.post("/api/v1/experts/{id}/shifts", create_shift),
        web.patch("/api/v1/shifts/{sid}", patch_shift),
        web.delete("/api/v1/shifts/{sid}", delete_shift),
        web.get("/api/v1/experts/{id}/rota", get_rota),
        web.get("/api/v1/callbacks", list_callbacks),
        web.post("/api/v1/callbacks", create_callback),
        web.get("/api/v1/coverage", get_coverage),
        web.get("/api/v1/reports/daily", get_daily_report),
    ]


def _api(request: web.Request) -> SchedulerApi:
    return request.app[SCHEDULER_API]


# -- shift patterns -----------------------------------------------------------------------------

def row_json(row: ShiftPatternRow) -> dict[str, Any]:
    return {"id": row.id, "expert_id": row.expert_id, "kind": row.kind, "pattern": row.pattern,
            "wtr_override": row.wtr_override, "override_reason": row.override_reason,
            "created_by": row.created_by}


async def _expert(session: AsyncSession, expert_id: str) -> Expert:
    found = await session.get(Expert, expert_id)
    if found is None:
        raise NotFound(f"no expert {expert_id!r}", expert=expert_id)
    return found


async def _readable(session: AsyncSession, who: Principal, expert_id: str) -> Expert:
    """The expert whose shifts and rota ``who`` may read: an expert only themselves (anyone
    else: 403), a supervisor only their organisations' experts (another's is a 404, as if
    unknown, as ``GET /api/v1/experts/{id}`` answers), an admin anyone."""
    require_expert_reader(who, expert_id)
    found = await _expert(session, expert_id)
    if who.role is Role.SUPERVISOR and found.org_id not in who.orgs:
        raise NotFound(f"no expert {expert_id!r}", expert=expert_id)
    return found


async def _rows(session: AsyncSession, expert_id: str) -> list[ShiftPatternRow]:
    query = select(ShiftPatternRow).where(ShiftPatternRow.expert_id == expert_id)
    return list((await session.exec(query.order_by(ShiftPatternRow.id))).all())


@operation("An expert's shift patterns", roles=READERS, path=EXPERT_ID,
           reply=Reply(schema=items(PATTERN_SCHEMA)))
async def list_shifts(request: web.Request) -> web.Response:
    expert_id = request.match_info["id"]
    async with _api(request).sessions() as session:
        await _readable(session, principal(request), expert_id)
        rows = await _rows(session, expert_id)
    return json_response({"items": [row_json(r) for r in rows]})


def parse_pattern(body: dict[str, Any], *, pattern_id: str, expert: Expert) -> dict[str, Any]:
    """A validated pattern's JSON (``kind`` included) from a request body, or a 422."""
    kind = body.get("kind")
    if not isinstance(kind, str) or kind not in KIND_FIELDS:
        raise InvalidInput(f"'kind' must be one of {', '.join(KIND_FIELDS)}", field="kind")
    Fields(body, allowed=KIND_FIELDS[kind] | OVERRIDE | {"kind"})
    data = {k: v for k, v in body.items() if k not in OVERRIDE}
    if kind == "cycle" and "preset" in data:
        name = data.pop("preset")
        if name not in rota.PRESETS:
            raise InvalidInput(f"'preset' must be one of {', '.join(rota.PRESETS)}",
                               field="preset")
        data["sequence"] = rota.PRESETS[name]
    data |= {"id": pattern_id, "expert_id": expert.id, "tz": expert.timezone}
    if kind == "absence":
        return {**rota.Absence.from_json(data).to_json(), "kind": "absence"}
    return rota.pattern_from_json(data).to_json()


def _override(body: dict[str, Any]) -> tuple[bool, str]:
    f = OVERRIDE_BODY.read({k: body[k] for k in OVERRIDE if k in body})
    wanted = bool(f.get("override"))
    reason = f.get("override_reason") or ""
    if wanted and not reason:
        raise InvalidInput("an override needs an 'override_reason'", field="override_reason")
    return wanted, reason


def violations(rows: list[dict[str, Any]], expert: Expert, pattern_id: str,
               today: date) -> list[wtr.Violation]:
    """WTR violations over the coming weeks that involve the shifts of ``pattern_id``."""
    patterns, absences = reconcile.rota_of(rows, {expert.id: expert.timezone})
    start = datetime.combine(today - timedelta(days=7), time(), UTC)
    shifts = rota.expand(patterns, absences, start, start + timedelta(weeks=CHECK_WEEKS))
    if not shifts:
        return []
    found = wtr.check(shifts)
    return [v for v in found if any(s.pattern_id == pattern_id for s in v.shifts)]


async def _save(request: web.Request, *, row: ShiftPatternRow | None,
                expert_id: str) -> web.Response:
    who = principal(request)
    require_role(who, Role.ADMIN, Role.SUPERVISOR)
    body = await read_json(request)
    api = _api(request)
    async with api.writing() as session:
        expert = await _expert(session, expert_id)
        require_org_editor(who, expert.org_id)
        merged = {**row.pattern, **body} if row and body.get("kind", row.kind) == row.kind \
            else body
        if row is not None:
            merged = {k: v for k, v in merged.items() if k not in {"id", "expert_id", "tz"}}
        pattern_id = row.id if row else f"shp-{uuid.uuid4().hex[:12]}"
        data = parse_pattern(merged, pattern_id=pattern_id, expert=expert)
        override, reason = _override(body)
        before = row_json(row) if row else None
        others = [{**r.pattern, "kind": r.kind} for r in await _rows(session, expert_id)
                  if r.id != pattern_id]
        found = violations([*others, data], expert, pattern_id, api.scheduler.today())
        if found and not override:
            raise Conflict(f"the rota breaks the Working Time Regulations ({len(found)} "
                           "violations); resend with override and override_reason to save it",
                           code="wtr_violation", violations=[v.to_json() for v in found])
        row = row or ShiftPatternRow(id=pattern_id, expert_id=expert_id, kind=data["kind"],
                                     pattern=data, created_by=who.actor)
        row.kind, row.pattern, row.updated_at = data["kind"], data, now_utc()
        row.wtr_override, row.override_reason = bool(found), reason if found else ""
        session.add(row)
        after = {**row_json(row), "waived": sorted({v.rule for v in found})}
        _record(api, session, who, "update" if before else "create", pattern_id, before, after)
    await api.scheduler.rebuild_jobs()
    return json_response(row_json(row), status=200 if before else 201)


def _record(api: SchedulerApi, session: AsyncSession, who: Principal, action: str,
            entity_id: str, before: Any, after: Any, entity: str = "shift_pattern") -> None:
    audit.record(session, actor=who, action=action, entity=entity, entity_id=entity_id,
              before=before, after=after)


@operation("Add a shift pattern (409 when it breaks the Working Time Regulations)",
           roles=SUPERVISORS, path=EXPERT_ID, body=SHIFT, reply=Reply(201, PATTERN_SCHEMA))
async def create_shift(request: web.Request) -> web.Response:
    return await _save(request, row=None, expert_id=request.match_info["id"])


async def _pattern_row(session: AsyncSession, request: web.Request) -> ShiftPatternRow:
    found = await session.get(ShiftPatternRow, request.match_info["sid"])
    if found is None:
        raise NotFound(f"no shift pattern {request.match_info['sid']!r}")
    return found


@operation("Change a shift pattern", roles=SUPERVISORS, path=SHIFT_ID, body=SHIFT.partial(),
           reply=Reply(schema=PATTERN_SCHEMA))
async def patch_shift(request: web.Request) -> web.Response:
    async with _api(request).sessions() as session:
        row = await _pattern_row(session, request)
    return await _save(request, row=row, expert_id=row.expert_id)


@operation("Remove a shift pattern", roles=SUPERVISORS, path=SHIFT_ID, reply=NO_CONTENT)
async def delete_shift(request: web.Request) -> web.Response:
    who = principal(request)
    require_role(who, Role.ADMIN, Role.SUPERVISOR)
    api = _api(request)
    async with api.writing() as session:
        row = await _pattern_row(session, request)
        require_org_editor(who, (await _expert(session, row.expert_id)).org_id)
        _record(api, session, who, "delete", row.id, row_json(row), None)
        await session.delete(row)
    await api.scheduler.rebuild_jobs()
    return web.Response(status=204)


@operation("An expert's concrete shifts between two days", roles=READERS, path=EXPERT_ID,
           query=(FROM, TO), reply=Reply(schema=obj(("expert_id", "shifts", "violations"))))
async def get_rota(request: web.Request) -> web.Response:
    """``?from=&to=`` (dates, inclusive, UTC days): the expert's concrete shifts."""
    expert_id = request.match_info["id"]
    who = principal(request)
    require_expert_reader(who, expert_id)
    first, last = FROM.read(request), TO.read(request)
    if not 0 <= (last - first).days < MAX_ROTA_DAYS:
        raise BadRequest(f"'to' must be on or after 'from', at most {MAX_ROTA_DAYS} days on")
    async with _api(request).sessions() as session:
        expert = await _readable(session, who, expert_id)
        rows = [{**r.pattern, "kind": r.kind} for r in await _rows(session, expert_id)]
    patterns, absences = reconcile.rota_of(rows, {expert.id: expert.timezone})
    start = datetime.combine(first, time(), UTC)
    shifts = rota.expand(patterns, absences, start, start + timedelta(days=(last - first).days + 1))
    return json_response({"expert_id": expert_id, "timezone": expert.timezone,
                          "shifts": [s.to_json() for s in shifts],
                          "violations": [v.to_json() for v in wtr.check(shifts)]})


# -- scheduled callbacks ------------------------------------------------------------------------

def callback_json(row: ScheduledCallbackRow, caller: Principal) -> dict[str, Any]:
    """Admins see the citizen's number; everyone else sees it masked."""
    number = row.number if caller.role is Role.ADMIN else mask_phone(row.number)
    return {"id": row.id, "number": number, "skill": row.skill, "language": row.language,
            "due_at": datetime.fromtimestamp(row.due_at, UTC).isoformat(), "state": row.state,
            "contact_id": row.contact_id, "error": row.error, "created_by": row.created_by}


def _due_at(value: Any, now: datetime) -> float:
    try:
        due = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        due = None
    if due is None or due.utcoffset() is None:
        raise InvalidInput("'due_at' must be an ISO datetime with an offset", field="due_at")
    if due < now - timedelta(minutes=1):
        raise InvalidInput("'due_at' is in the past", field="due_at")
    if due > now + MAX_CALLBACK_AHEAD:
        raise InvalidInput(f"'due_at' is more than {MAX_CALLBACK_AHEAD.days} days ahead",
                           field="due_at")
    return due.timestamp()


@operation("Schedule a callback", roles=SUPERVISORS, body=CALLBACK,
           reply=Reply(201, CALLBACK_SCHEMA))
async def create_callback(request: web.Request) -> web.Response:
    """``{"number": "+44…", "skill", "language": "en", "due_at": ISO}``."""
    who = principal(request)
    require_role(who, Role.ADMIN, Role.SUPERVISOR)
    f = CALLBACK.read(await read_json(request))
    number, skill = f.get("number") or "", f.get("skill") or ""
    language = f.get("language") or "en"
    api = _api(request)
    due_at = _due_at(f.get("due_at"), api.scheduler.now())
    async with api.writing() as session:
        if await session.get(Skill, skill) is None:
            raise InvalidInput(f"unknown skill {skill!r}", field="skill")
        row = ScheduledCallbackRow(id=f"scb-{uuid.uuid4().hex[:12]}", number=number, skill=skill,
                                   language=language, due_at=due_at, created_by=who.actor)
        session.add(row)
        _record(api, session, who, "create", row.id, None,
                {**callback_json(row, who), "number": mask_phone(number)},
                entity="scheduled_callback")
    await api.scheduler.rebuild_jobs()
    return json_response(callback_json(row, who), status=201)


def sees_callback(caller: Principal, row: ScheduledCallbackRow) -> bool:
    """Admins see every callback; a supervisor those of the shared national line and those a
    citizen booked on one of their organisations' lines (submitted there, they become contacts
    only that organisation's supervisors see)."""
    if caller.role is Role.ADMIN:
        return True
    line = line_of(row.created_by)
    return line is None or line in caller.orgs


@operation("Scheduled callbacks", roles=CALLBACK_READERS, query=(STATE_Q,),
           reply=Reply(schema=items(CALLBACK_SCHEMA)))
async def list_callbacks(request: web.Request) -> web.Response:
    caller = principal(request)
    require_role(caller, Role.ADMIN, Role.SUPERVISOR)
    state = STATE_Q.read(request)
    async with _api(request).sessions() as session:
        rows = await store.callbacks(session, state=state)
    return json_response({"items": [callback_json(r, caller) for r in rows
                                    if sees_callback(caller, r)]})


@operation("Forecast against rota, per skill and half-hour", roles=SUPERVISORS,
           query=(FROM, TO, SKILL_Q), reply=Reply(schema=obj(("cells", "by_skill"))))
async def get_coverage(request: web.Request) -> web.Response:
    """``?from=DATE&to=DATE[&skill=]``: coverage cells and a per-skill summary."""
    require_role(principal(request), Role.ADMIN, Role.SUPERVISOR)
    first, last = FROM.read(request), TO.read(request)
    api = _api(request)
    async with api.sessions() as session:
        cells = await coverage_data.load_coverage(
            session, first=first, days=(last - first).days + 1, config=api.scheduler.config,
            skill=SKILL_Q.read(request), now=api.scheduler.now())
    return json_response({"cells": [c.to_json() for c in cells],
                          "by_skill": coverage_data.summary(cells)})


@operation("A London day's report", roles=SUPERVISORS, query=(DATE,))
async def get_daily_report(request: web.Request) -> web.Response:
    """``?date=YYYY-MM-DD``: that London day's report (written by the daily job)."""
    require_role(principal(request), Role.ADMIN, Role.SUPERVISOR)
    day = DATE.read(request)
    async with _api(request).sessions() as session:
        row = await store.get_report(session, day=day)
    if row is None:
        raise NotFound(f"no daily report for {day.isoformat()}")
    return json_response(row.summary)
