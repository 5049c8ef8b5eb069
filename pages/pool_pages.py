"""``/console/skills`` and ``/console/organisations``: the taxonomy and the organisations.

``GET /console/skills?q=&page=`` lists the skills 50 a page, by id, read from the database as
``GET /api/v1/skills`` reads them: each with its broader skill, its related skills and their
substitution costs (a related pair shows on both of its skills), its synonyms and how many
active experts hold it. ``q`` matches an id, a name, a synonym or a keyword, in any case.
``GET /console/skills/{id}`` is one skill; an unknown or malformed id is a 404 page. While
contacts not yet finished ask for the skill, its page says how many and offers no delete (the
API refuses it: ``skills.api_skills.live_contacts_problem`` words both, from the count the
composition root's ``live_contacts`` query gives the skills API).
``GET /console/organisations`` lists organisations and data-sharing agreements: an admin sees
all of them, a supervisor their own organisations and the agreements that involve them.

Every admin and supervisor may read these pages; only an admin may change the taxonomy, the
organisations or the agreements (``skills/api_skills.py`` and ``skills/api_orgs.py`` allow
writes to admins only), so only an admin is shown the forms. Each form is sent by
``/static/console-forms.js`` to the JSON API (``POST``/``PATCH``/``DELETE /api/v1/skills…``,
``/api/v1/organisations…``, ``/api/v1/sharing-agreements…``) with the session cookie and the CSRF
token: the API checks the role and the input, records the change in the audit log and publishes
it, and a taxonomy or sharing change reloads the routing engine's pool. This module only reads.
``/console/import`` is ``pages/import_page.py``; ``routes()`` registers both.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from base.access import Principal, Role
from base.clock import utc
from pages import import_page
from pages.access import WEB
from pages.console import Problem, console_page, sees_org, sign_in_first, supervisor
from skills import pool
from skills.api_common import POOL_API, is_slug
from skills.api_skills import WAITING_STATES, live_contacts_problem
from skills.models import Organisation, SharingAgreement
from skills.pool import SkillRecord
from skills.serialise import agreement_json

PER_PAGE = 50
MAX_TEXT = 100
MAX_PAGE = 100_000
BATCH = 500  # skills read per query (as the API's largest page)
MAX_COST = 100  # the API's (skills/api_skills.py)
KINDS = (("nhs-trust", "NHS trust or health board"), ("council", "Council"),
         ("charity", "Charity"), ("other", "Other"))
NATIONS = (("england", "England"), ("wales", "Wales"), ("scotland", "Scotland"),
           ("northern-ireland", "Northern Ireland"))


def routes() -> list[web.RouteDef]:
    return [
        web.get("/console/skills", skills_list),
        web.get("/console/skills/{id}", skill_page),
        web.get("/console/organisations", organisations),
        *import_page.routes(),
    ]


@dataclass(frozen=True, slots=True)
class Search:
    """The skills list's query as the person typed it (shown back in the form)."""

    q: str
    page: int

    @classmethod
    def of(cls, request: web.Request) -> Search:
        raw = request.query.get("page", "1")
        page = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 6 else 1
        return cls(q=request.query.get("q", "").strip(), page=min(max(page, 1), MAX_PAGE))

    def url(self, page: int) -> str:
        kept = {"q": self.q} if self.q else {}
        return "/console/skills?" + urlencode({**kept, "page": page})

    def matches(self, skill: SkillRecord) -> bool:
        needle = self.q.lower()
        return not needle or any(needle in text.lower() for text in
                                 (skill.id, skill.name, *skill.synonyms, *skill.keywords))


# -- skills ---------------------------------------------------------------------------------------


async def skills_list(request: web.Request) -> web.Response:
    who = await supervisor(request)
    if who is None:
        return sign_in_first(request)
    search = Search.of(request)
    problems = ([Problem("q", f"Search must be {MAX_TEXT} characters or fewer")]
                if len(search.q) > MAX_TEXT else [])
    async with request.app[WEB].sessions() as session:
        records = await _all_skills(session)
        active = await _active_holders(session)
    found = [] if problems else [r for r in records if search.matches(r)]
    names = {r.id: r.name for r in records}
    start = (search.page - 1) * PER_PAGE
    pages = max(1, -(-len(found) // PER_PAGE))
    return console_page(
        request, who, "console_skills.html", title="Error: Skills" if problems else "Skills",
        status=400 if problems else 200, search=search, problems=problems,
        errors={p.field: p.message for p in problems},
        skills=[_skill_row(r, names, active) for r in found[start:start + PER_PAGE]],
        total=len(found), everything=len(records), first=start + 1, pages=pages,
        previous=search.url(search.page - 1) if search.page > 1 else None,
        next=search.url(search.page + 1) if search.page < pages else None,
        admin=_admin(who.principal), options=_options(records))


async def skill_page(request: web.Request) -> web.Response:
    who = await supervisor(request)
    if who is None:
        return sign_in_first(request)
    skill_id = request.match_info["id"]
    async with request.app[WEB].sessions() as session:
        found = await pool.get_skill(session, skill_id=skill_id) if is_slug(skill_id) else None
        if found is None:
            return console_page(request, who, "console_skill.html", status=404,
                                title="Skill not found", skill=None, skill_id=skill_id)
        records = await _all_skills(session)
        active = await _active_holders(session)
        holders = await pool.skill_holders(session, skill_id=skill_id)
        pool_api = request.app.get(POOL_API)
        live = {} if pool_api is None else await pool_api.live_contacts(session, skill_id)
    names = {r.id: r.name for r in records}
    below = _descendants(records, skill_id)
    return console_page(
        request, who, "console_skill.html", title=found.name, skill=_skill_row(found, names,
                                                                               active),
        record=found, holders=len(holders), admin=_admin(who.principal),
        broader_options=[(i, n) for i, n in _options(records)
                         if i != skill_id and i not in below],
        related_options=[(i, n) for i, n in _options(records)
                         if i != skill_id and i not in found.related],
        narrower=[(i, names.get(i, i)) for i in found.narrower], max_cost=MAX_COST,
        synonyms_text=", ".join(found.synonyms), keywords_text=", ".join(found.keywords),
        in_use=live_contacts_problem(live),
        contacts_link="/console/contacts?" + urlencode({"skill": skill_id,
                                                       "state": ",".join(WAITING_STATES)}))


async def _all_skills(session: AsyncSession) -> list[SkillRecord]:
    """Every skill with its links, by id, read in batches as the API's list reads them."""
    records, total = await pool.list_skills(session, limit=BATCH, offset=0)
    while len(records) < total:
        more, total = await pool.list_skills(session, limit=BATCH, offset=len(records))
        if not more:
            break
        records += more
    return records


async def _active_holders(session: AsyncSession) -> dict[str, int]:
    """Skill -> how many active experts hold it."""
    return {skill: len(held) for skill, held in (await pool.holders_by_skill(session)).items()}


def _descendants(records: Sequence[SkillRecord], skill_id: str) -> set[str]:
    """Every skill below ``skill_id`` (none of them may become its broader skill)."""
    children: dict[str, list[str]] = defaultdict(list)
    for r in records:
        if r.broader is not None:
            children[r.broader].append(r.id)
    found: set[str] = set()
    todo = [skill_id]
    while todo:
        for child in children[todo.pop()]:
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _options(records: Sequence[SkillRecord]) -> list[tuple[str, str]]:
    """Every skill as (id, name), by name."""
    return sorted(((r.id, r.name) for r in records), key=lambda s: (s[1].lower(), s[0]))


def cost_text(cost: float) -> str:
    return f"{cost:g}"


def _skill_row(skill: SkillRecord, names: Mapping[str, str],
               active: Mapping[str, int]) -> dict[str, Any]:
    return {
        "id": skill.id,
        "name": skill.name,
        "description": skill.description,
        "broader": None if skill.broader is None else (skill.broader,
                                                       names.get(skill.broader, skill.broader)),
        "related": [(other, names.get(other, other), cost_text(cost))
                    for other, cost in skill.related.items()],
        "synonyms": list(skill.synonyms),
        "keywords": list(skill.keywords),
        "active": active.get(skill.id, 0),
    }


# -- organisations and sharing agreements --------------------------------------------------------


async def organisations(request: web.Request) -> web.Response:
    who = await supervisor(request)
    if who is None:
        return sign_in_first(request)
    principal = who.principal
    async with request.app[WEB].sessions() as session:
        rows, _ = await pool.list_organisations(session, limit=10_000, offset=0)
        agreements = await _agreements(session, principal)
    names = {row.id: row.name for row in rows}
    today = utc(request.app[WEB].clock())
    assert today is not None
    return console_page(
        request, who, "console_organisations.html", title="Organisations",
        organisations=[_org_row(row) for row in rows if sees_org(principal, row.id)],
        agreements=[_agreement_row(a, names, today=today.date()) for a in agreements],
        admin=_admin(principal), all_orgs=sorted(names.items(), key=lambda o: o[1].lower()),
        kinds=KINDS, nations=NATIONS,
        scope="every organisation" if _admin(principal) else
        ", ".join(names.get(o, o) for o in sorted(principal.orgs)))


async def _agreements(session: AsyncSession, principal: Principal) -> list[SharingAgreement]:
    """Every agreement for an admin; for a supervisor, those involving their organisations."""
    if principal.role is Role.ADMIN:
        rows, _ = await pool.list_agreements(session, limit=10_000, offset=0)
        return rows
    found: dict[int, SharingAgreement] = {}
    for org in sorted(principal.orgs):
        rows, _ = await pool.list_agreements(session, org=org, limit=10_000, offset=0)
        found.update((row.id or 0, row) for row in rows)
    return sorted(found.values(), key=lambda a: (a.org_a, a.org_b))


def _org_row(org: Organisation) -> dict[str, Any]:
    return {"id": org.id, "name": org.name, "kind": dict(KINDS).get(org.kind, org.kind),
            "nation": dict(NATIONS).get(org.nation, org.nation), "region": org.region}


def _day_text(iso: str | None) -> str | None:
    if iso is None:
        return None
    year, month, day = (int(part) for part in iso.split("-"))
    months = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")
    return f"{day} {months[month - 1]} {year}"


def _agreement_row(agreement: SharingAgreement, names: Mapping[str, str], *,
                   today: date) -> dict[str, Any]:
    shown = agreement_json(agreement, today=today)  # the API's shape, with ``in_force``
    return {
        "id": shown["id"],
        "org_a": (shown["org_a"], names.get(shown["org_a"], shown["org_a"])),
        "org_b": (shown["org_b"], names.get(shown["org_b"], shown["org_b"])),
        "purpose": shown["purpose"],
        "starts": _day_text(shown["starts_on"]),
        "ends": _day_text(shown["ends_on"]),
        "in_force": shown["in_force"],
    }


def _admin(principal: Principal) -> bool:
    return principal.role is Role.ADMIN
