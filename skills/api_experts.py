"""``/api/v1/experts`` with their proficiencies and accreditations.

Admins do anything; supervisors read every expert but create, change and delete only experts of
their organisations (and cannot move one outside them); an expert reads their own profile only.
Giving ``skills`` or ``languages`` in a POST or PATCH replaces the expert's whole set.
``public_name`` (up to 64 characters), ``public_role`` (up to 100) and ``show_organisation``
are the expert's public profile: all a citizen is ever told about who they talk to.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from base.access import (
    Principal,
    Role,
    require_expert_reader,
    require_org_editor,
    require_pool_reader,
    require_role,
)
from base.api_spec import (
    NO_CONTENT,
    PAGING,
    Body,
    Boolean,
    Checked,
    Day,
    Integer,
    Object,
    Query,
    Reply,
    Text,
    TextList,
    operation,
    page,
)
from base.clock import today_utc
from base.errors import BadRequest, Conflict, InvalidInput, NotFound
from base.http import json_response, page_of, paging, principal, read_json
from base.inputs import text_problem
from skills import pool
from skills.api_common import (
    EXPERT_ID,
    EXPERT_PATH,
    NUMERIC_PATH,
    SLUG,
    SLUG_PATH,
    PoolApi,
    api_of,
    is_slug,
    path_expert,
    path_int,
    path_slug,
)
from skills.models import PROFICIENCY_MAX, PROFICIENCY_MIN, Organisation, Skill
from skills.pool import ExpertProfile
from skills.serialise import ACCREDITATION_SCHEMA, EXPERT_SCHEMA, expert_json
from skills.transfer_check import known_zone
from skills.watch import PoolChange

PUBLIC_MAX = {"public_name": 64, "public_role": 100}
LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_SKILLS, MAX_LANGUAGES = 200, 30
CONTACT = Body({
    "email": Text(254, pattern=EMAIL),
    "phone": Text(32, pattern=E164, doc="E.164, e.g. +447700900123"),
    "client_identity": Text(128, doc="a Twilio Client identity"),
    "sip_address": Text(254),
})
LEVEL = Integer(PROFICIENCY_MIN, PROFICIENCY_MAX, required=True)
LEVEL_BODY = Body({"level": LEVEL})
EXPERT = Body({
    "id": Text(64, required=True, pattern=EXPERT_ID),
    "name": Text(200, required=True, nullable=False),
    "organisation": Text(64, required=True, nullable=False, pattern=SLUG),
    "skills": Object({"type": "integer", "minimum": PROFICIENCY_MIN,
                      "maximum": PROFICIENCY_MAX}, nullable=False, max_keys=MAX_SKILLS,
                     doc="skill id -> level; replaces every level"),
    "languages": TextList(16, nullable=False, doc="language codes; replaces them all"),
    "timezone": Text(64, nullable=False, check=known_zone, doc="an IANA time zone"),
    "active": Boolean(nullable=False),
    "contact": Object(nullable=False, shape=CONTACT),
    "public_name": Text(PUBLIC_MAX["public_name"]),
    "public_role": Text(PUBLIC_MAX["public_role"]),
    "show_organisation": Boolean(nullable=False),
})
EXPERT_PATCH = EXPERT.without("id").partial()
FIELDS = frozenset(EXPERT.fields)
ACCREDITATION = Body({
    "name": Text(64, required=True, pattern=SLUG),
    "reference": Text(128),
    "expires_on": Day(),
})
READERS = ("admin", "supervisor", "expert (their own)")
EDITORS = ("admin", "supervisor (their organisations' experts)")
ID = {"id": EXPERT_PATH}
SKILL_Q = Query("skill", max_len=64, doc="with its narrower skills unless exact=true")
EXACT = Query("exact", "bool", default=False)
MIN_LEVEL = Query("min_level", "int", lo=PROFICIENCY_MIN, hi=PROFICIENCY_MAX,
                  default=PROFICIENCY_MIN, doc="needs skill")
ORG_Q, LANGUAGE_Q = Query("org", max_len=64), Query("language", max_len=16)


def routes() -> list[web.RouteDef]:
    base = "/api/v1/experts"
    return [
        web.get(base, list_experts),
        web.post(base, create_expert),
        web.get(base + "/{id}", get_expert),
        web.patch(base + "/{id}", patch_expert),
        web.delete(base + "/{id}", delete_expert),
        web.put(base + "/{id}/skills/{skill}", put_level),
        web.delete(base + "/{id}/skills/{skill}", delete_level),
        web.post(base + "/{id}/accreditations", add_accreditation),
        web.delete(base + "/{id}/accreditations/{acc}", delete_accreditation),
    ]


# -- reading ------------------------------------------------------------------------------------


@operation("Find experts", roles=("admin", "supervisor (their organisations')"),
           query=(SKILL_Q, EXACT, MIN_LEVEL, ORG_Q, LANGUAGE_Q, *PAGING),
           reply=Reply(schema=page(EXPERT_SCHEMA)))
async def list_experts(request: web.Request) -> web.Response:
    """Filters: ``?skill=`` (with its narrower skills unless ``exact=true``; ``min_level=``),
    ``?org=``, ``?language=``. A supervisor finds only their own organisations' experts."""
    who = principal(request)
    require_pool_reader(who)
    limit, offset = paging(request)
    api = api_of(request)
    async with api.reading() as session:
        skills = await _skill_filter(api, session, request)
        min_level = MIN_LEVEL.read(request)
        if skills is None and "min_level" in request.query:
            raise BadRequest("min_level filters a skill: give ?skill= too")
        found, total = await pool.find_experts(
            session,
            skills=skills,
            min_level=min_level,
            org=ORG_Q.read(request),
            orgs=None if who.role is Role.ADMIN else who.orgs,
            language=LANGUAGE_Q.read(request),
            limit=limit,
            offset=offset,
        )
    day = today_utc()
    items = [expert_json(e, today=day) for e in found]
    return json_response(page_of(items, total=total, limit=limit, offset=offset))


async def _skill_filter(api: PoolApi, session: Any, request: web.Request) -> frozenset[str] | None:
    skill_id = SKILL_Q.read(request)
    exact = EXACT.read(request)
    if not skill_id:
        return None
    graph = await api.graph(session)
    if skill_id not in graph:
        raise InvalidInput(f"unknown skill {skill_id!r} in ?skill=", field="skill")
    return frozenset({skill_id}) if exact else graph.narrower(skill_id)


@operation("Read one expert", roles=READERS, path=ID, reply=Reply(schema=EXPERT_SCHEMA))
async def get_expert(request: web.Request) -> web.Response:
    """An expert reads themselves; a supervisor their own organisations' experts (another's
    is a 404, as if unknown); an admin anyone."""
    expert_id = path_expert(request)
    who = principal(request)
    require_expert_reader(who, expert_id)
    async with api_of(request).reading() as session:
        found = await _existing(session, expert_id)
    if who.role is Role.SUPERVISOR and found.org not in who.orgs:
        raise NotFound(f"no expert {expert_id!r}", expert=expert_id)
    return json_response(expert_json(found, today=today_utc()))


async def _existing(session: Any, expert_id: str) -> ExpertProfile:
    found = await pool.get_profile(session, expert_id=expert_id)
    if found is None:
        raise NotFound(f"no expert {expert_id!r}", expert=expert_id)
    return found


async def _editable(session: Any, who: Principal, expert_id: str) -> ExpertProfile:
    """The expert, if ``who`` may change them: 404 when absent, 403 outside their scope."""
    found = await _existing(session, expert_id)
    require_org_editor(who, found.org)
    return found


def _editor(request: web.Request) -> Principal:
    who = principal(request)
    require_role(who, Role.ADMIN, Role.SUPERVISOR)
    return who


# -- the body -----------------------------------------------------------------------------------


def parse_expert(body: Mapping[str, Any], *, new: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(columns, sets)``: Expert column values, and the ``skills``/``languages`` replacing."""
    f = (EXPERT if new else EXPERT_PATCH).read(body)
    columns: dict[str, Any] = {}
    if new:
        columns["id"] = f.get("id")
    for key, column in (("name", "name"), ("organisation", "org_id")):
        if new or f.has(key):
            columns[column] = f.get(key)
    if f.has("timezone"):
        columns["timezone"] = f.get("timezone")
    if f.has("active"):
        columns["active"] = f.get("active")
    if f.has("contact"):
        columns.update(_contact(f.get("contact") or {}))
    columns.update(_public(f))
    sets: dict[str, Any] = {}
    if f.has("skills"):
        sets["skills"] = _levels(f.get("skills") or {})
    if f.has("languages"):
        sets["languages"] = _languages(f.get("languages"))
    return columns, sets


def is_email(value: str) -> bool:
    return EMAIL.match(value) is not None


def is_e164(value: str) -> bool:
    return E164.match(value) is not None


def _contact(raw: Mapping[str, Any]) -> dict[str, str]:
    f = CONTACT.read(raw)
    return {key: f.get(key) or "" for key in CONTACT.fields if f.has(key)}


def _public(f: Checked) -> dict[str, Any]:
    """The public profile's columns given in the body: texts trimmed (empty clears them)."""
    found: dict[str, Any] = {}
    for key in PUBLIC_MAX:
        if f.has(key):
            value = f.get(key) or ""
            problem = text_problem(value)
            if problem is not None:
                raise InvalidInput(f"{key!r} {problem}", field=key)
            found[key] = value
    if f.has("show_organisation"):
        found["show_organisation"] = f.get("show_organisation")
    return found


def _levels(raw: Mapping[str, Any]) -> dict[str, int]:
    if len(raw) > MAX_SKILLS:
        raise InvalidInput(f"'skills' holds more than {MAX_SKILLS} skills", field="skills")
    for skill_id, level in raw.items():
        if not is_slug(skill_id):
            raise InvalidInput(f"'skills' key {skill_id!r} is not a skill id", field="skills")
        if (
            isinstance(level, bool)
            or not isinstance(level, int)
            or not (PROFICIENCY_MIN <= level <= PROFICIENCY_MAX)
        ):
            raise InvalidInput(
                f"level of {skill_id!r} must be an integer "
                f"{PROFICIENCY_MIN}..{PROFICIENCY_MAX}, got {level!r}",
                field="skills",
            )
    return dict(sorted(raw.items()))


def _languages(values: list[str] | None) -> list[str]:
    values = values or []
    if len(values) > MAX_LANGUAGES:
        raise InvalidInput(f"'languages' holds more than {MAX_LANGUAGES}", field="languages")
    for value in values:
        if not LANGUAGE.match(value):
            raise InvalidInput(
                f"{value!r} is not a language code (en, cy, bsl, pl…)", field="languages"
            )
    return sorted(set(values))


async def _check_references(
    session: Any, columns: Mapping[str, Any], sets: Mapping[str, Any]
) -> None:
    """Refuse an unknown organisation or skill (422, naming it)."""
    org = columns.get("org_id")
    if org is not None and not await pool.existing_ids(session, model=Organisation, ids=[org]):
        raise InvalidInput(f"unknown organisation {org!r}", field="organisation")
    wanted = set(sets.get("skills", {}))
    unknown = sorted(wanted - await pool.existing_ids(session, model=Skill, ids=wanted))
    if unknown:
        raise InvalidInput(
            f"unknown skill(s): {', '.join(unknown)}", field="skills", unknown=unknown
        )


async def _write_sets(session: Any, expert_id: str, sets: Mapping[str, Any]) -> None:
    if "skills" in sets:
        await pool.replace_levels(session, expert_id=expert_id, levels=sets["skills"])
    if "languages" in sets:
        await pool.replace_languages(session, expert_id=expert_id, languages=sets["languages"])


# -- writing the expert ---------------------------------------------------------------------------


async def _audited(
    api: PoolApi,
    session: Any,
    who: Principal,
    *,
    action: str,
    expert_id: str,
    before: dict[str, Any] | None,
) -> dict[str, Any]:
    """Read the expert back, record the change (if any), and answer the expert's new JSON."""
    session.expire_all()
    after = expert_json(await _existing(session, expert_id), today=today_utc())
    if after == before:
        return after
    api.record(
        session,
        who,
        action=action,
        entity="expert",
        entity_id=expert_id,
        before=before,
        after=after,
    )
    return after


@operation("Add an expert", roles=EDITORS, body=EXPERT, reply=Reply(201, EXPERT_SCHEMA))
async def create_expert(request: web.Request) -> web.Response:
    who = _editor(request)
    columns, sets = parse_expert(await read_json(request), new=True)
    require_org_editor(who, columns["org_id"])
    api = api_of(request)
    expert_id = columns["id"]
    async with api.writing() as session:
        if await pool.get_expert(session, expert_id=expert_id) is not None:
            raise Conflict(f"expert {expert_id!r} already exists", expert=expert_id)
        await _check_references(session, columns, sets)
        await pool.insert_expert(session, values=columns)
        await _write_sets(session, expert_id, sets)
        after = await _audited(api, session, who, action="create", expert_id=expert_id, before=None)
    await api.changed(PoolChange(experts=frozenset({expert_id})))
    return json_response(after, status=201)


@operation("Change an expert (skills and languages given replace the whole set)",
           roles=EDITORS, path=ID, body=EXPERT_PATCH, reply=Reply(schema=EXPERT_SCHEMA))
async def patch_expert(request: web.Request) -> web.Response:
    who = _editor(request)
    expert_id = path_expert(request)
    columns, sets = parse_expert(await read_json(request), new=False)
    api = api_of(request)
    async with api.writing() as session:
        current = await _editable(session, who, expert_id)
        if "org_id" in columns:
            require_org_editor(who, columns["org_id"])
        await _check_references(session, columns, sets)
        if columns:
            await pool.update_expert(session, expert_id=expert_id, values=columns)
        await _write_sets(session, expert_id, sets)
        before = expert_json(current, today=today_utc())
        after = await _audited(
            api, session, who, action="update", expert_id=expert_id, before=before
        )
    await api.changed(PoolChange(experts=frozenset({expert_id})))
    return json_response(after)


@operation("Delete an expert", roles=EDITORS, path=ID, reply=NO_CONTENT)
async def delete_expert(request: web.Request) -> web.Response:
    who = _editor(request)
    expert_id = path_expert(request)
    api = api_of(request)
    async with api.writing() as session:
        current = await _editable(session, who, expert_id)
        await pool.delete_expert(session, expert_id=expert_id)
        api.record(
            session,
            who,
            action="delete",
            entity="expert",
            entity_id=expert_id,
            before=expert_json(current, today=today_utc()),
        )
    await api.changed(PoolChange(experts=frozenset({expert_id})))
    return web.Response(status=204)


# -- proficiencies and accreditations -------------------------------------------------------------


@operation("Give an expert a skill, or change its level", roles=EDITORS,
           path={**ID, "skill": SLUG_PATH}, body=LEVEL_BODY,
           reply=Reply(schema=EXPERT_SCHEMA))
async def put_level(request: web.Request) -> web.Response:
    """``{"level": 1..5}``: give the expert the skill, or change its level."""
    who = _editor(request)
    expert_id, skill_id = path_expert(request), path_slug(request, "skill", "skill")
    level = LEVEL.read(LEVEL_BODY.read(await read_json(request)), "level") or 0
    api = api_of(request)
    async with api.writing() as session:
        current = await _editable(session, who, expert_id)
        if not await pool.existing_ids(session, model=Skill, ids=[skill_id]):
            raise NotFound(f"no skill {skill_id!r}", skill=skill_id)
        await pool.set_level(session, expert_id=expert_id, skill_id=skill_id, level=level)
        before = expert_json(current, today=today_utc())
        after = await _audited(
            api, session, who, action="set-skill", expert_id=expert_id, before=before
        )
    await api.changed(PoolChange(experts=frozenset({expert_id})))
    return json_response(after)


@operation("Take a skill from an expert", roles=EDITORS, path={**ID, "skill": SLUG_PATH},
           reply=NO_CONTENT)
async def delete_level(request: web.Request) -> web.Response:
    who = _editor(request)
    expert_id, skill_id = path_expert(request), path_slug(request, "skill", "skill")
    api = api_of(request)
    async with api.writing() as session:
        current = await _editable(session, who, expert_id)
        if skill_id not in current.skills:
            raise NotFound(f"expert {expert_id!r} does not hold skill {skill_id!r}")
        await pool.remove_level(session, expert_id=expert_id, skill_id=skill_id)
        before = expert_json(current, today=today_utc())
        await _audited(api, session, who, action="remove-skill", expert_id=expert_id, before=before)
    await api.changed(PoolChange(experts=frozenset({expert_id})))
    return web.Response(status=204)


@operation("Add an accreditation to an expert", roles=EDITORS, path=ID, body=ACCREDITATION,
           reply=Reply(201, ACCREDITATION_SCHEMA))
async def add_accreditation(request: web.Request) -> web.Response:
    """``{"name": "enhanced-dbs", "reference": "…", "expires_on": "YYYY-MM-DD" | null}``."""
    who = _editor(request)
    expert_id = path_expert(request)
    f = ACCREDITATION.read(await read_json(request))
    name, reference, expires_on = f.get("name") or "", f.get("reference") or "", f.get(
        "expires_on")
    api = api_of(request)
    async with api.writing() as session:
        current = await _editable(session, who, expert_id)
        row = await pool.add_accreditation(
            session, expert_id=expert_id, name=name, reference=reference, expires_on=expires_on
        )
        before = expert_json(current, today=today_utc())
        after = await _audited(
            api, session, who, action="add-accreditation", expert_id=expert_id, before=before
        )
    await api.changed(PoolChange(experts=frozenset({expert_id})))
    created = next(a for a in after["accreditations"] if a["id"] == row.id)
    return json_response(created, status=201)


@operation("Remove an expert's accreditation", roles=EDITORS,
           path={**ID, "acc": NUMERIC_PATH}, reply=NO_CONTENT)
async def delete_accreditation(request: web.Request) -> web.Response:
    who = _editor(request)
    expert_id = path_expert(request)
    acc_id = path_int(request, "accreditation", "acc")
    api = api_of(request)
    async with api.writing() as session:
        current = await _editable(session, who, expert_id)
        row = await pool.get_accreditation(session, accreditation_id=acc_id)
        if row is None or row.expert_id != expert_id:
            raise NotFound(f"expert {expert_id!r} has no accreditation {acc_id}")
        await pool.delete_accreditation(session, accreditation_id=acc_id)
        before = expert_json(current, today=today_utc())
        await _audited(
            api, session, who, action="remove-accreditation", expert_id=expert_id, before=before
        )
    await api.changed(PoolChange(experts=frozenset({expert_id})))
    return web.Response(status=204)
