"""The supervisor console's shared frame: who may see it, and its navigation.

Every console page is for a signed-in supervisor or admin (``expertline sign-in-link --role
supervisor --org ID`` or ``--role admin``); anyone else gets the "sign in first" page (401).
``console_page(request, template, title=…, **context)`` renders a page inside
``console_layout.html``: the console's own navigation, the caller's description and the
session's CSRF token (for the scripts that call the JSON API with the session cookie).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from base.access import Principal, Role
from pages import views
from pages.access import signed_in
from pages.sessions import SignedIn

SECTIONS = (
    ("/console", "Wallboard"),
    ("/console/today", "Today"),
    ("/console/contacts", "Contacts"),
    ("/console/experts", "Experts"),
    ("/console/skills", "Skills"),
    ("/console/organisations", "Organisations"),
    ("/console/import", "Import"),
    ("/console/graph", "Skills graph"),
    ("/console/coverage", "Coverage"),
    ("/console/rota", "Rota"),
    ("/console/staffing", "Staffing"),
    ("/console/audit", "Audit log"),
)
ADMIN_ONLY = frozenset({"/console/import"})  # a supervisor is not shown what refuses them
CONSOLE_ROLES = (Role.SUPERVISOR, Role.ADMIN)
LONDON = ZoneInfo("Europe/London")


async def supervisor(request: web.Request) -> SignedIn | None:
    """The signed-in supervisor or admin behind this request, or None."""
    who = await signed_in(request)
    if who is None or who.principal.role not in CONSOLE_ROLES:
        return None
    return who


def sign_in_first(request: web.Request) -> web.Response:
    return views.sign_in_first(request, "the console", "--role supervisor --org kingsmere-council")


def sections_for(principal: Principal) -> tuple[tuple[str, str], ...]:
    """The navigation entries ``principal`` may open."""
    return tuple((href, label) for href, label in SECTIONS
                 if principal.role is Role.ADMIN or href not in ADMIN_ONLY)


def section_of(path: str) -> str:
    """The navigation entry a path belongs to (the longest prefix that matches)."""
    matches = [href for href, _ in SECTIONS if path == href or path.startswith(href + "/")]
    return max(matches, key=len, default="/console")


def console_page(request: web.Request, who: SignedIn, template: str, *, title: str,
                 status: int = 200, **context: Any) -> web.Response:
    return views.render(request, template, status=status, title=title,
                        csrf_token=who.csrf_token, who=views.describe(who.principal),
                        sections=sections_for(who.principal), section=section_of(request.path),
                        here="/console", **context)


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with a field of a console page's form: the field's id and the message."""

    field: str
    message: str


def sees_org(principal: Principal, org: str | None) -> bool:
    """Admins see every organisation; a supervisor sees their own organisations' experts."""
    return principal.role is Role.ADMIN or (org is not None and org in principal.orgs)


def when(iso: str | None) -> str:
    """An ISO instant from the API as a supervisor reads it: London time, day and seconds."""
    if not iso:
        return "\u2013"  # an en dash: no such time (yet)
    at = datetime.fromisoformat(iso).astimezone(LONDON)
    return f"{at:%H:%M:%S}, {at.day} {at:%b %Y}"
