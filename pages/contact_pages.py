"""``/console/contacts`` and ``/console/contacts/{id}``: the contacts a supervisor looks into.

The list is searchable (a contact's id or its channel reference, a CallSid or a chat id) and
filtered by state, skill and expert. A contact's page shows its whole history: every state,
each offer and session, every routing decision with its candidates and their scores and why
the winner won or why nobody was eligible, and who would take it now. The figures come from
the same functions as ``GET /api/v1/contacts`` and ``GET /api/v1/contacts/{id}``, injected by
the composition root (``ContactSource``), so the page and the API cannot disagree; citizen
numbers are masked for supervisors there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlmodel import col, select

from base.access import Principal
from base.errors import DomainError
from pages import views
from pages.access import WEB
from pages.console import console_page, sign_in_first, supervisor
from skills.models import Skill

ListContacts = Callable[[web.Request, Principal], Awaitable[dict[str, Any]]]
ContactDetail = Callable[[web.Request, Principal, str], Awaitable[dict[str, Any]]]
STATES = ("queued", "offered", "connected", "wrapup", "completed", "abandoned", "callback",
          "failed")
FILTERS = ("q", "state", "skill", "expert")


@dataclass(frozen=True, slots=True)
class ContactSource:
    """What the contact pages read, from the routing engine (wired by ``expertline.app``)."""

    page: ListContacts
    detail: ContactDetail


CONTACTS = web.AppKey("pages.contacts", ContactSource)


def setup_contacts(app: web.Application, source: ContactSource) -> None:
    app[CONTACTS] = source
    app.router.add_get("/console/contacts", contact_list)
    app.router.add_get("/console/contacts/{id}", contact_page)


async def contact_list(request: web.Request) -> web.Response:
    who = await supervisor(request)
    if who is None:
        return sign_in_first(request)
    try:
        found = await request.app[CONTACTS].page(request, who.principal)
    except DomainError as problem:
        return _problem(request, problem)
    shown = {key: request.query.get(key, "") for key in FILTERS}
    return console_page(request, who, "console_contacts.html", title="Contacts", found=found,
                        shown=shown, states=STATES, next_link=_next_link(request, found))


async def contact_page(request: web.Request) -> web.Response:
    who = await supervisor(request)
    if who is None:
        return sign_in_first(request)
    contact_id = request.match_info["id"]
    try:
        contact = await request.app[CONTACTS].detail(request, who.principal, contact_id)
    except DomainError as problem:
        return _problem(request, problem)
    return console_page(request, who, "console_contact.html", title=f"Contact {contact_id}",
                        contact=contact, skills=await _skill_choices(request))


async def _skill_choices(request: web.Request) -> list[tuple[str, str]]:
    """Every skill as (id, name), by name: where a contact may be moved."""
    async with request.app[WEB].sessions() as session:
        rows = await session.exec(select(Skill.id, Skill.name).order_by(col(Skill.name)))
        return [(skill_id, name) for skill_id, name in rows.all()]


def _next_link(request: web.Request, found: dict[str, Any]) -> str | None:
    if found["next_offset"] is None:
        return None
    query = {key: value for key, value in request.query.items() if key != "offset"}
    return f"/console/contacts?{urlencode({**query, 'offset': found['next_offset']})}"


def _problem(request: web.Request, problem: DomainError) -> web.Response:
    return views.render(request, "message.html", status=problem.status,
                        title="That cannot be shown", paragraphs=[problem.message])
