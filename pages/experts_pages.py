"""``/console/experts``: the console's pool pages (search the experts, open one, change them).

``GET /console/experts?q=&skill=&org=&language=&page=`` lists experts 50 a page, read from the
database with ``skills.pool.search_experts``: ``q`` matches a name or id, ``skill`` takes its
narrower skills too (as ``GET /api/v1/experts?skill=`` does). An admin sees every expert; a
supervisor only their own organisations' (another's expert is a 404 here, absent or not).
``GET /console/experts/{id}`` is one expert, with a form per change; the forms are sent by
``/static/console-forms.js`` to the JSON API with the session cookie and the CSRF token, so
the API checks, audits and publishes every change (and the routing engine reloads the expert).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from base.access import Principal, Role
from pages.access import WEB
from pages.console import Problem, console_page, sees_org, sign_in_first, supervisor
from skills import pool
from skills.api_common import api_of, is_expert_id
from skills.api_experts import LANGUAGE
from skills.graph import SkillGraph
from skills.models import PROFICIENCY_MAX, PROFICIENCY_MIN

PER_PAGE = 50
MAX_TEXT = 100
MAX_PAGE = 100_000
LEVELS = tuple(range(PROFICIENCY_MIN, PROFICIENCY_MAX + 1))
LANGUAGE_NAMES = {"en": "English", "cy": "Welsh", "bsl": "British Sign Language"}


def routes() -> list[web.RouteDef]:
    return [web.get("/console/experts", experts), web.get("/console/experts/{id}", expert)]


@dataclass(frozen=True, slots=True)
class Search:
    """The list's query as the person typed it (shown back in the form)."""

    q: str
    skill: str
    org: str
    language: str
    page: int

    @classmethod
    def of(cls, request: web.Request) -> Search:
        query = request.query
        raw = query.get("page", "1")
        page = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 6 else 1
        return cls(q=query.get("q", "").strip(), skill=query.get("skill", "").strip(),
                   org=query.get("org", "").strip(), language=query.get("language", "").strip(),
                   page=min(max(page, 1), MAX_PAGE))

    def url(self, page: int) -> str:
        fields = {"q": self.q, "skill": self.skill, "org": self.org, "language": self.language}
        kept = {key: value for key, value in fields.items() if value}
        return "/console/experts?" + urlencode({**kept, "page": page})


async def experts(request: web.Request) -> web.Response:
    who = await supervisor(request)
    if who is None:
        return sign_in_first(request)
    search = Search.of(request)
    async with request.app[WEB].sessions() as session:
        graph = await api_of(request).graph(session)
        orgs = await _organisations(session, who.principal)
        problems = _problems(search, graph, orgs)
        found: list[pool.ExpertProfile] = []
        total = 0
        if not problems:
            found, total = await pool.search_experts(
                session, text=search.q or None, orgs=_scope(who.principal, search.org),
                skills=graph.narrower(search.skill) if search.skill else None,
                language=search.language or None, limit=PER_PAGE,
                offset=(search.page - 1) * PER_PAGE)
    today = request.app[WEB].clock().date()
    pages = max(1, -(-total // PER_PAGE))
    return console_page(
        request, who, "console_experts.html", title="Error: Experts" if problems else "Experts",
        status=400 if problems else 200, search=search, problems=problems,
        errors={p.field: p.message for p in problems}, skills=_skill_options(graph), orgs=orgs,
        experts=[_row(e, graph, orgs, today=today) for e in found], total=total,
        first=(search.page - 1) * PER_PAGE + 1, pages=pages,
        previous=search.url(search.page - 1) if search.page > 1 else None,
        next=search.url(search.page + 1) if search.page < pages else None,
        scope=_scope_text(who.principal, orgs))


async def expert(request: web.Request) -> web.Response:
    who = await supervisor(request)
    if who is None:
        return sign_in_first(request)
    expert_id = request.match_info["id"]
    async with request.app[WEB].sessions() as session:
        found = await pool.get_profile(session, expert_id=expert_id) \
            if is_expert_id(expert_id) else None
        if found is None or not sees_org(who.principal, found.org):
            return console_page(request, who, "console_expert.html", status=404,
                                title="Expert not found", expert=None, expert_id=expert_id)
        graph = await api_of(request).graph(session)
        orgs = await _organisations(session, who.principal)
    today = request.app[WEB].clock().date()
    missing = [(s, name) for s, name in _skill_options(graph) if s not in found.skills]
    return console_page(
        request, who, "console_expert.html", title=found.name,
        expert=_row(found, graph, orgs, today=today), profile=found, levels=LEVELS,
        missing=missing,
        languages_text=", ".join(found.languages))


# -- what the pages show --------------------------------------------------------------------------


async def _organisations(session: AsyncSession, principal: Principal) -> dict[str, str]:
    """The organisations this person sees, id -> name, by id."""
    rows, _ = await pool.list_organisations(session, limit=10_000, offset=0)
    return {row.id: row.name for row in rows if sees_org(principal, row.id)}


def _scope(principal: Principal, org: str) -> frozenset[str] | None:
    """The organisations the list may hold: None (every one) only for an admin."""
    if principal.role is Role.ADMIN:
        return frozenset({org}) if org else None
    return frozenset({org}) & principal.orgs if org else principal.orgs


def _scope_text(principal: Principal, orgs: dict[str, str]) -> str:
    if principal.role is Role.ADMIN:
        return "every organisation"
    return ", ".join(orgs.get(org, org) for org in sorted(principal.orgs))


def _problems(search: Search, graph: SkillGraph, orgs: dict[str, str]) -> list[Problem]:
    found = []
    if len(search.q) > MAX_TEXT:
        found.append(Problem("q", f"Name or ID must be {MAX_TEXT} characters or fewer"))
    if search.skill and search.skill not in graph:
        found.append(Problem("skill", "Choose a skill from the list"))
    if search.org and search.org not in orgs:
        found.append(Problem("org", "Choose an organisation from the list"))
    if search.language and not LANGUAGE.match(search.language):
        found.append(Problem("language", "Enter a language code, like en, cy or bsl"))
    return found


def _skill_options(graph: SkillGraph) -> list[tuple[str, str]]:
    """Every skill as (id, name), by name."""
    return sorted(((s.id, s.name) for s in graph.specs()), key=lambda s: (s[1].lower(), s[0]))


def _skill_name(graph: SkillGraph, skill_id: str) -> str:
    return graph.spec(skill_id).name if skill_id in graph else skill_id


def _language_name(code: str) -> str:
    name = LANGUAGE_NAMES.get(code)
    return f"{name} ({code})" if name else code


def _day_text(day: date | None) -> str | None:
    return None if day is None else f"{day.day} {day:%B %Y}"


def _row(profile: pool.ExpertProfile, graph: SkillGraph, orgs: dict[str, str], *,
         today: date) -> dict[str, Any]:
    return {
        "id": profile.id,
        "name": profile.name,
        "org": profile.org,
        "org_name": orgs.get(profile.org, profile.org),
        "skills": [(s, _skill_name(graph, s), level) for s, level in profile.skills.items()],
        "languages": [_language_name(code) for code in profile.languages],
        "accreditations": [{"id": a.id, "name": a.name, "reference": a.reference,
                            "expires": _day_text(a.expires_on), "valid": a.valid_on(today)}
                           for a in profile.accreditations],
        "active": profile.active,
    }
