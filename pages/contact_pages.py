"""``/console/contacts`` and ``/console/contacts/{id}``: the contacts a supervisor looks into.

The list is searchable (a contact's id or its channel reference, a CallSid or a chat id) and
filtered by state, skill and expert. A contact's page shows its whole history: every state,
each offer and session, every routing decision with its candidates and their scores and why
the winner won or why nobody was eligible, and who would take it now. The figures come from
the same functions as ``GET /api/v1/contacts`` and ``GET /api/v1/contacts/{id}``, injected by
the composition root (``ContactSource``), so the page and the API cannot disagree; citizen
numbers are masked for supervisors there.

A waiting contact's Move form starts at its own skill and priority; a skill no longer in the
pool shows as the selected first choice, said to be gone (not some other skill, which a move
of its priority alone would send it to). A pending offer has a "set the expert away" form only
when the caller may set that expert's status (``ContactSource.may_set_status``, as
``PUT /api/v1/experts/{id}/status`` asks).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlmodel import col, select

from base.access import Principal, Role
from base.errors import DomainError
from pages.access import WEB
from pages.console import console_page, sign_in_first, supervisor
from pages.sessions import SignedIn
from skills.models import Skill

ListContacts = Callable[[web.Request, Principal], Awaitable[dict[str, Any]]]
ContactDetail = Callable[[web.Request, Principal, str], Awaitable[dict[str, Any]]]
MaySetStatus = Callable[[web.Request, Principal, str], bool]
STATES = ("queued", "offered", "connected", "wrapup", "completed", "abandoned", "callback",
          "failed")
FILTERS = ("q", "state", "skill", "expert")


@dataclass(frozen=True, slots=True)
class ContactSource:
    """What the contact pages read, from the routing engine (wired by ``expertline.app``)."""

    page: ListContacts
    detail: ContactDetail
    may_set_status: MaySetStatus  # (request, caller, expert id): may they set it away?


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
        return _problem(request, who, problem, "Those contacts cannot be listed")
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
        return _problem(request, who, problem, "Contact not found" if problem.status == 404
                        else "That contact cannot be shown")
    skills = await _skill_choices(request)
    may = request.app[CONTACTS].may_set_status
    awayable = {o["expert_id"] for o in contact["offers"]
                if o["status"] == "pending" and may(request, who.principal, o["expert_id"])}
    return console_page(request, who, "console_contact.html", title=f"Contact {contact_id}",
                        contact=contact, skills=skills, awayable=awayable,
                        admin=who.principal.role is Role.ADMIN,
                        skill_gone=contact["skill"] not in {skill for skill, _ in skills})


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


def _problem(request: web.Request, who: SignedIn, problem: DomainError,
             heading: str) -> web.Response:
    """A refusal inside the console (its sections and a way back), not a bare page."""
    return console_page(request, who, "console_problem.html", title=heading,
                        status=problem.status, heading=heading, message=problem.message)
