"""``/api/v1/skills``: read by admins and supervisors, written by admins only.

Every write builds the whole new ``SkillGraph`` before anything is stored, so a broader cycle, an
unknown broader or related skill, or a bad cost is refused (422, naming it) with nothing written.
A skill that contacts not yet finished ask for cannot be deleted (409: they would wait for a
skill nobody can hold); ``PoolApi.live_contacts``, passed in by the composition root, counts them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from base.access import Role, require_pool_reader, require_role
from base.api_spec import (
    NO_CONTENT,
    PAGING,
    Body,
    Object,
    Query,
    Reply,
    Text,
    TextList,
    operation,
    page,
)
from base.errors import Conflict, InvalidInput, NotFound
from base.http import json_response, page_of, paging, principal, read_json
from skills import pool
from skills.api_common import SLUG, SLUG_HINT, SLUG_PATH, PoolApi, api_of, is_slug, path_slug
from skills.graph import SkillGraph, SkillSpec
from skills.pool import SkillRecord
from skills.serialise import SKILL_SCHEMA, skill_json
from skills.watch import PoolChange

MAX_RELATED, MAX_TERMS = 100, 200
MAX_COST = 100.0  # as the import accepts
SKILL = Body({
    "id": Text(64, required=True, pattern=SLUG, doc=SLUG_HINT),
    "name": Text(required=True, nullable=False),
    "description": Text(2000),
    "broader": Text(64, pattern=SLUG, doc="the broader skill's id, or null for none"),
    "related": Object({"type": "number", "exclusiveMinimum": 0, "maximum": MAX_COST},
                      max_keys=MAX_RELATED, doc="related skill id -> substitution cost"),
    "synonyms": TextList(200),
    "keywords": TextList(200),
})
SKILL_PATCH = SKILL.without("id").partial()
FIELDS = frozenset(SKILL.fields)
ID = {"id": SLUG_PATH}
SKILLS = ("admin", "supervisor")
FORCE = Query("force", "bool", default=False, doc="delete it from the experts who hold it too")
WAITING_STATES = ("queued", "offered", "callback")  # the contact states a move applies to


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v1/skills", list_skills),
        web.post("/api/v1/skills", create_skill),
        web.get("/api/v1/skills/{id}", get_skill),
        web.patch("/api/v1/skills/{id}", patch_skill),
        web.delete("/api/v1/skills/{id}", delete_skill),
    ]


# -- reading ------------------------------------------------------------------------------------


@operation("List the skills", roles=SKILLS, query=PAGING, reply=Reply(schema=page(SKILL_SCHEMA)))
async def list_skills(request: web.Request) -> web.Response:
    require_pool_reader(principal(request))
    limit, offset = paging(request)
    async with api_of(request).reading() as session:
        rows, total = await pool.list_skills(session, limit=limit, offset=offset)
    return json_response(
        page_of([skill_json(r) for r in rows], total=total, limit=limit, offset=offset)
    )


@operation("Read one skill", roles=SKILLS, path=ID, reply=Reply(schema=SKILL_SCHEMA))
async def get_skill(request: web.Request) -> web.Response:
    require_pool_reader(principal(request))
    skill_id = path_slug(request, "skill")
    async with api_of(request).reading() as session:
        return json_response(skill_json(await _existing(session, skill_id)))


async def _existing(session: AsyncSession, skill_id: str) -> SkillRecord:
    found = await pool.get_skill(session, skill_id=skill_id)
    if found is None:
        raise NotFound(f"no skill {skill_id!r}", skill=skill_id)
    return found


# -- the body -----------------------------------------------------------------------------------


def parse_skill(body: dict[str, Any], current: SkillRecord | None) -> SkillRecord:
    """A new skill from a POST body, or ``current`` patched by a PATCH body."""
    f = (SKILL if current is None else SKILL_PATCH).read(body)
    if current is None:
        current = SkillRecord(id=f.get("id") or "", name=f.get("name") or "")
    changes: dict[str, Any] = {}
    if f.has("name"):
        changes["name"] = f.get("name")
    if f.has("description"):
        changes["description"] = f.get("description") or ""
    if f.has("broader"):
        changes["broader"] = f.get("broader") or None
    if f.has("related"):
        changes["related"] = _related(f.get("related") or {})
    for key in ("synonyms", "keywords"):
        if f.has(key):
            changes[key] = _terms(f.get(key) or [], key)
    record = dataclasses.replace(current, **changes)
    clash = sorted(set(record.synonyms) & set(record.keywords))
    if clash:
        raise InvalidInput(f"{clash[0]!r} is both a synonym and a keyword", field="keywords")
    return record


def _related(raw: dict[str, Any]) -> dict[str, float]:
    if len(raw) > MAX_RELATED:
        raise InvalidInput(f"'related' holds more than {MAX_RELATED} skills", field="related")
    out: dict[str, float] = {}
    for key, cost in raw.items():
        if not is_slug(key):
            raise InvalidInput(f"'related' key {key!r} is not {SLUG_HINT}", field="related")
        if isinstance(cost, bool) or not isinstance(cost, int | float):
            raise InvalidInput(f"'related' cost for {key!r} must be a number", field="related")
        if not math.isfinite(cost) or not 0 < cost <= MAX_COST:
            raise InvalidInput(
                f"'related' cost for {key!r} must be above 0 and at most {MAX_COST:g}, got {cost}",
                field="related",
            )
        out[key] = float(cost)
    return dict(sorted(out.items()))


def _terms(values: list[str], key: str) -> tuple[str, ...]:
    if len(values) > MAX_TERMS:
        raise InvalidInput(f"{key!r} holds more than {MAX_TERMS} terms", field=key)
    return tuple(dict.fromkeys(values))


def candidate(
    specs: Iterable[SkillSpec], skill_id: str, record: SkillRecord | None
) -> list[SkillSpec]:
    """The taxonomy after writing ``record`` (or deleting ``skill_id`` when None).

    Writing a skill's ``related`` replaces every pair touching it, so other skills' declarations
    of a pair with it are dropped first.
    """
    out = []
    for spec in specs:
        if spec.id == skill_id:
            continue
        kept = {k: v for k, v in spec.related.items() if k != skill_id}
        out.append(
            spec if len(kept) == len(spec.related) else dataclasses.replace(spec, related=kept)
        )
    if record is not None:
        out.append(record.spec())
    return out


async def _build(
    api: PoolApi, session: Any, skill_id: str, record: SkillRecord | None
) -> SkillGraph:
    specs = candidate(await pool.load_specs(session), skill_id, record)
    return SkillGraph.build(specs, taxonomy_cost=api.watch.taxonomy_cost)


# -- writing ------------------------------------------------------------------------------------


@operation("Add a skill", roles=("admin",), body=SKILL,
           reply=Reply(201, SKILL_SCHEMA))
async def create_skill(request: web.Request) -> web.Response:
    who = principal(request)
    require_role(who, Role.ADMIN)
    record = parse_skill(await read_json(request), None)
    api = api_of(request)
    async with api.watch.taxonomy_lock:
        async with api.writing() as session:
            await api.lock_taxonomy(session)
            if await pool.get_skill(session, skill_id=record.id) is not None:
                raise Conflict(f"skill {record.id!r} already exists", skill=record.id)
            graph = await _build(api, session, record.id, record)
            await pool.save_skill(session, record=record, new=True)
            after = skill_json(await _existing(session, record.id))
            api.record(
                session, who, action="create", entity="skill", entity_id=record.id, after=after
            )
        await api.changed(PoolChange(graph=True), graph=graph)
    return json_response(after, status=201)


@operation("Change a skill", roles=("admin",), path=ID, body=SKILL_PATCH,
           reply=Reply(schema=SKILL_SCHEMA))
async def patch_skill(request: web.Request) -> web.Response:
    who = principal(request)
    require_role(who, Role.ADMIN)
    skill_id = path_slug(request, "skill")
    body = await read_json(request)
    api = api_of(request)
    async with api.watch.taxonomy_lock:
        async with api.writing() as session:
            await api.lock_taxonomy(session)
            current = await _existing(session, skill_id)
            record = parse_skill(body, current)
            if record == current:  # nothing to change, nothing to record
                return json_response(skill_json(current))
            graph = await _build(api, session, skill_id, record)
            await pool.save_skill(session, record=record, new=False)
            after = skill_json(await _existing(session, skill_id))
            api.record(
                session,
                who,
                action="update",
                entity="skill",
                entity_id=skill_id,
                before=skill_json(current),
                after=after,
            )
        await api.changed(PoolChange(graph=True), graph=graph)
    return json_response(after)


@operation("Delete a skill (from its holders too with ?force=true; never while contacts "
           "ask for it)", roles=("admin",), path=ID, query=(FORCE,), reply=NO_CONTENT)
async def delete_skill(request: web.Request) -> web.Response:
    """409 while narrower skills hang under it, while contacts not yet finished ask for it
    (even with ``?force=true``), or while experts hold it (unless ``?force=true``)."""
    who = principal(request)
    require_role(who, Role.ADMIN)
    skill_id = path_slug(request, "skill")
    force = FORCE.read(request)
    api = api_of(request)
    async with api.watch.taxonomy_lock:
        async with api.writing() as session:
            await api.lock_taxonomy(session)
            current = await _existing(session, skill_id)
            live = await api.live_contacts(session, skill_id)
            holders = await _check_deletable(session, current, force=force, live=live)
            graph = await _build(api, session, skill_id, None)
            await pool.delete_skill(session, skill_id=skill_id)
            before = {**skill_json(current), "held_by": holders}
            api.record(
                session, who, action="delete", entity="skill", entity_id=skill_id, before=before
            )
        await api.changed(PoolChange(experts=frozenset(holders), graph=True), graph=graph)
    return web.Response(status=204)


def live_contacts_problem(live: Mapping[str, int]) -> str | None:
    """Why a skill that these contacts (not yet finished: ``{state: count}``) ask for cannot
    be deleted, in words; None when no contact asks for it. The API's refusal and the
    console's skill page both say this."""
    waiting = sum(n for state, n in live.items() if state in WAITING_STATES)
    busy = sum(n for state, n in live.items() if state not in WAITING_STATES)
    if waiting:
        return (f"{_contacts(waiting)} waiting for this skill: move "
                f"{'it' if waiting == 1 else 'them'} to another skill first"
                + (f" ({_contacts(busy)} in a session or wrap-up on it too)" if busy else ""))
    if busy:
        return (f"{_contacts(busy)} in a session or wrap-up on this skill: wait for "
                f"{'it' if busy == 1 else 'them'} to end")
    return None


def _contacts(n: int) -> str:
    return f"{n} contact is" if n == 1 else f"{n} contacts are"


async def _check_deletable(
    session: AsyncSession, current: SkillRecord, *, force: bool, live: Mapping[str, int]
) -> dict[str, int]:
    if current.narrower:
        raise Conflict(
            f"skill {current.id!r} is the broader skill of "
            f"{', '.join(current.narrower)}: move or delete those first",
            narrower=list(current.narrower),
        )
    problem = live_contacts_problem(live)
    if problem is not None:
        raise Conflict(problem, code="skill_in_use", skill=current.id,
                       contacts={state: n for state, n in sorted(live.items()) if n})
    holders = await pool.skill_holders(session, skill_id=current.id)
    if holders and not force:
        raise Conflict(
            f"{len(holders)} expert(s) hold skill {current.id!r}; "
            "add ?force=true to delete it and their proficiencies",
            holders=len(holders),
        )
    return holders
