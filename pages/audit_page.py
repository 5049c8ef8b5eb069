"""``/console/audit``: the audit log as a table, newest first, filtered and paginated.

``GET /console/audit?entity=&action=&actor=&since=&until=&page=``: when, who, what was done, to
which entity (and its id), and a readable summary of the record's before and after (the fields
that changed, or what was created or removed). ``entity`` and ``action`` match exactly,
``actor`` is any part of the actor's name (ignoring case), ``since`` and ``until`` are UTC
dates (``2026-12-07``, until the end of that day) or times (``2026-12-07 09:30``); a bad
filter gives the GOV.UK error summary and status 400. 25 records a page; ``page`` past the
last shows the last, and one that is not a whole number the first.

Who sees which records. An admin sees every record. A supervisor sees the records about their
own organisations, as the records themselves show it:

* an organisation of theirs (entity ``organisation``);
* an expert of theirs (entity ``expert``: every change to a profile, its skills, languages and
  accreditations, and imports): one whose ``organisation`` in the record's before or after is
  theirs (so a deleted expert's records, and the move of an expert out of or into their
  organisation, stay visible), or who belongs to one of their organisations now;
* a sharing agreement with one of their organisations on either side (``org_a``, ``org_b``);
* a shift pattern of one of their experts (``expert_id`` in the before or after);
* a contact assigned to one of their experts (action ``assign``, ``expert`` in the after);
* a supervisor's action on a contact they may see (``move``, ``distressing``, and
  ``end_session`` on its session): asked for their organisation, or on the shared line and
  taken by nobody or by one of their experts (``org`` and ``expert`` in the after).

Nothing else: not the skills (one taxonomy shared by every organisation, changed by admins),
API tokens, sign-in links, sessions, the routing engine's watchdog, scheduled callbacks (their
records name no organisation) or demo seeding. Not by actor either: an actor is a display name
(a token's or link's label, or ``supervisor:session`` for every unlabelled session), not an
identity, so "records made by me" would show one supervisor another's records.

For supervisors every phone number in what is shown is masked (``base.logs.mask_phone``), the
citizens' and the experts' alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from base.access import Principal, Role
from base.audit import AuditEntry
from base.clock import utc
from base.logs import mask_phone
from pages.access import WEB
from pages.console import console_page, sign_in_first, supervisor
from skills.models import Expert

PAGE_SIZE = 25
MAX_LINES = 8  # summary lines per record
MAX_VALUE = 120  # characters of one value in a summary
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2199, 12, 31)
_MOMENT = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}):(\d{2}))?")


def routes() -> list[web.RouteDef]:
    return [web.get("/console/audit", audit_log)]


# -- the filters --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filters:
    entity: str = ""
    action: str = ""
    actor: str = ""
    since: datetime | None = None  # from this moment on
    before: datetime | None = None  # strictly earlier than this
    page: int = 1


TEXT_LIMITS = {"entity": 64, "action": 64, "actor": 128}
NAMES = ("entity", "action", "actor", "since", "until")


def read_filters(query: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str], Filters]:
    """The filters as typed (to show again), an error per bad one, and the good filters."""
    typed = {name: query.get(name, "").strip()[:200] for name in NAMES}
    errors: dict[str, str] = {}
    for name, limit in TEXT_LIMITS.items():
        if len(typed[name]) > limit:
            errors[name] = f"The {name} must be {limit} characters or fewer"
    since = until = None
    if typed["since"]:
        since = _moment(typed["since"], end=False)
        if since is None:
            errors["since"] = ("Enter the start as a date, like 2026-12-07, or a date and time, "
                               "like 2026-12-07 09:30")
    if typed["until"]:
        until = _moment(typed["until"], end=True)
        if until is None:
            errors["until"] = ("Enter the end as a date, like 2026-12-07, or a date and time, "
                               "like 2026-12-07 17:00")
    if since is not None and until is not None and until <= since:
        errors["until"] = "The end must be after the start"
    page = query.get("page", "1").strip()
    number = int(page) if page.isascii() and page.isdigit() and len(page) < 7 else 1
    filters = Filters(entity=typed["entity"], action=typed["action"], actor=typed["actor"],
                      since=since, before=until, page=max(1, number))
    return typed, errors, filters


def _moment(text: str, *, end: bool) -> datetime | None:
    """A UTC date or date and time; ``end`` makes a bare date mean the end of that day."""
    found = _MOMENT.fullmatch(text)
    if found is None:
        return None
    try:
        day = date.fromisoformat(found.group(1))
        at = time(int(found.group(2)), int(found.group(3))) if found.group(2) else None
    except ValueError:
        return None
    if not FIRST_DAY <= day <= LAST_DAY:
        return None
    if at is not None:
        moment = datetime.combine(day, at, UTC)
        return moment + timedelta(minutes=1) if end else moment  # until 17:00 takes 17:00:59
    start = datetime.combine(day, time(), UTC)
    return start + timedelta(days=1) if end else start


# -- who sees what ------------------------------------------------------------------------------


def _field(document: Any, key: str) -> ColumnElement[str]:
    """``before->>'key'`` / ``json_extract(after, '$.key')``: a text value of a JSON record."""
    value: ColumnElement[str] = sa.type_coerce(document, sa.JSON)[key].as_string()
    return value


def visible_to(principal: Principal) -> ColumnElement[bool] | None:
    """The records a caller may see (None: all of them); the rule is in the module's doc."""
    if principal.role is Role.ADMIN:
        return None
    orgs = sorted(principal.orgs)
    if not orgs:
        return sa.false()
    experts = select(Expert.id).where(col(Expert.org_id).in_(orgs)).scalar_subquery()
    before, after = col(AuditEntry.before), col(AuditEntry.after)
    entity, entity_id = col(AuditEntry.entity), col(AuditEntry.entity_id)

    def named(key: str, among: Any) -> ColumnElement[bool]:
        return sa.or_(_field(before, key).in_(among), _field(after, key).in_(among))

    return sa.or_(
        sa.and_(entity == "organisation", entity_id.in_(orgs)),
        sa.and_(entity == "expert", sa.or_(named("organisation", orgs),
                                           entity_id.in_(experts))),
        sa.and_(entity == "sharing_agreement", sa.or_(named("org_a", orgs),
                                                      named("org_b", orgs))),
        sa.and_(entity == "shift_pattern", named("expert_id", experts)),
        sa.and_(entity == "contact", col(AuditEntry.action) == "assign",
                _field(after, "expert").in_(experts)),
        sa.and_(entity == "contact", col(AuditEntry.action).in_(("move", "distressing")),
                _theirs(after, orgs, experts)),
        sa.and_(entity == "session", col(AuditEntry.action) == "end_session",
                _theirs(after, orgs, experts)),
    )


def _theirs(after: Any, orgs: list[str], experts: Any) -> ColumnElement[bool]:
    """A supervisor's action on a contact the supervisor may see (``router.supervision.
    sees_contact``): asked for their organisation, or on the shared line and taken by nobody
    or by one of their experts (the record's ``org`` and ``expert``)."""
    org, expert = _field(after, "org"), _field(after, "expert")
    return sa.or_(org.in_(orgs), sa.and_(org.is_(None),
                                         sa.or_(expert.is_(None), expert.in_(experts))))


def _where(scope: ColumnElement[bool] | None, f: Filters) -> list[ColumnElement[bool]]:
    found = [] if scope is None else [scope]
    if f.entity:
        found.append(col(AuditEntry.entity) == f.entity)
    if f.action:
        found.append(col(AuditEntry.action) == f.action)
    if f.actor:
        found.append(sa.func.lower(col(AuditEntry.actor)).contains(f.actor.lower(),
                                                                   autoescape=True))
    if f.since is not None:
        found.append(col(AuditEntry.at) >= f.since)
    if f.before is not None:
        found.append(col(AuditEntry.at) < f.before)
    return found


async def read_page(session: AsyncSession, principal: Principal,
                    f: Filters) -> tuple[list[AuditEntry], int, int]:
    """The page's records, newest first, the number that match, and the page actually shown
    (a page past the last shows the last)."""
    where = _where(visible_to(principal), f)
    total = int((await session.exec(
        select(sa.func.count()).select_from(AuditEntry).where(*where))).one())
    last = max(1, -(-total // PAGE_SIZE))
    page = min(f.page, last)
    rows = await session.exec(
        select(AuditEntry).where(*where)
        .order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
        .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE))
    return list(rows.all()), total, page


async def choices(session: AsyncSession, principal: Principal, column: str) -> list[str]:
    """The entities (or actions) among the records the caller may see, for the filters."""
    which = col(getattr(AuditEntry, column))
    query = select(which).distinct().order_by(which)
    scope = visible_to(principal)
    if scope is not None:
        query = query.where(scope)
    return [str(value) for value in (await session.exec(query)).all()]


# -- showing a record ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Shown:
    """One row of the table, every text already masked for a supervisor."""

    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    kind: str  # "Changed", "Recorded", "Removed" or ""
    lines: list[str]


def show(entry: AuditEntry, *, mask: bool) -> Shown:
    kind, lines = summarise(entry.before, entry.after)
    clean = mask_phone if mask else _same
    return Shown(at=utc(entry.at) or entry.at, actor=clean(entry.actor), action=entry.action,
                 entity=entry.entity, entity_id=clean(entry.entity_id), kind=kind,
                 lines=[clean(line) for line in lines])


def _same(text: str) -> str:
    return text


def summarise(before: Any, after: Any) -> tuple[str, list[str]]:
    """A record's before and after in words: what changed (``name: Ann → Ann Jones``), or the
    fields of what was recorded or removed."""
    if isinstance(before, dict) and isinstance(after, dict):
        lines = _changes(before, after, "")
        return "Changed", _cut(lines or ["nothing that is shown here"])
    if isinstance(after, dict):
        return "Recorded", _cut([f"{k}: {_value(v)}" for k, v in after.items()])
    if isinstance(before, dict):
        return "Removed", _cut([f"{k}: {_value(v)}" for k, v in before.items()])
    return "", []


def _changes(before: Mapping[str, Any], after: Mapping[str, Any], prefix: str) -> list[str]:
    lines = []
    for key in [*after, *(k for k in before if k not in after)]:
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict) and not prefix:
            lines += _changes(old, new, f"{key}.")
        elif isinstance(old, list) and isinstance(new, list):
            lines.append(f"{prefix}{key}: {_list_change(old, new)}")
        else:
            lines.append(f"{prefix}{key}: {_value(old)} → {_value(new)}")
    return lines


def _list_change(old: list[Any], new: list[Any]) -> str:
    """What a list gained and lost, not both lists whole: cut to fit, two long lists of
    records (an expert's accreditations) read the same before and after."""
    added = [v for v in new if v not in old]
    removed = [v for v in old if v not in new]
    parts = [f"{word} {_value(items)}" for word, items in (("added", added),
                                                          ("removed", removed)) if items]
    return "; ".join(parts) or f"reordered: {_value(new)}"


def _cut(lines: Sequence[str]) -> list[str]:
    if len(lines) <= MAX_LINES:
        return list(lines)
    return [*lines[:MAX_LINES - 1], f"and {len(lines) - MAX_LINES + 1} more"]


def _value(value: Any) -> str:
    if value is None:
        text = "none"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, str):
        text = value or "(empty)"
    elif isinstance(value, list):
        text = ", ".join(_value(v) for v in value) or "(none)"
    elif isinstance(value, dict):
        text = "; ".join(f"{k} {_value(v)}" for k, v in value.items()) or "(none)"
    else:
        text = str(value)
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE - 1] + "…"


# -- the page -----------------------------------------------------------------------------------


async def audit_log(request: web.Request) -> web.Response:
    who = await supervisor(request)
    if who is None:
        return sign_in_first(request)
    principal = who.principal
    typed, errors, filters = read_filters(request.query)
    rows: list[Shown] = []
    total, page = 0, 1
    async with request.app[WEB].sessions() as session:
        entities = await choices(session, principal, "entity")
        actions = await choices(session, principal, "action")
        if not errors:
            found, total, page = await read_page(session, principal, filters)
            rows = [show(e, mask=principal.role is not Role.ADMIN) for e in found]
    last = max(1, -(-total // PAGE_SIZE))
    kept = {k: v for k, v in typed.items() if v}
    return console_page(
        request, who, "console_audit.html", title="Error: Audit log" if errors else "Audit log",
        status=400 if errors else 200, typed=typed, errors=errors, rows=rows, total=total,
        page=page, last=last, first_shown=(page - 1) * PAGE_SIZE + 1,
        entities=_with(entities, typed["entity"]), actions=_with(actions, typed["action"]),
        admin=principal.role is Role.ADMIN,
        previous=_link(kept, page - 1) if page > 1 else None,
        next=_link(kept, page + 1) if page < last else None)


def _with(options: list[str], chosen: str) -> list[str]:
    return options if not chosen or chosen in options else [*options, chosen]


def _link(kept: Mapping[str, str], page: int) -> str:
    return "/console/audit?" + urlencode({**kept, "page": str(page)})
