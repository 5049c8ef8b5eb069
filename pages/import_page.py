"""``/console/import``: an admin checks a pool file (a dry run), reads the report, applies it.

``GET /console/import`` is the form: upload a file or paste its text, JSON (a whole pool
document) or CSV (experts, as an HR system exports them; see ``skills/transfer.py``), and
optionally *replace*. ``POST /console/import`` with ``action=dry-run`` answers the report, row
by row: each problem with the line (CSV) or record (JSON, ``experts[3]``) it is about, and each
planned change (create, update, delete) with the line or record it comes from and what it
changes. Below a valid report with changes is a second form, **Apply**, which posts the same
text back with ``action=apply`` and a fingerprint of the changes the admin read; the import is
applied only if planning it again gives the same changes (else the new report is shown, 409), so
nothing the admin did not see is written, and posting Apply twice writes once. Supervisors get
"admins only" (403), as the API refuses them an import.

Why a page handler and not a script calling ``POST /api/v1/import``: the API answers the ids to
create and update per section, not where each came from, while the report must name the CSV
line or the JSON record of every row, which only the parser knows; and a form posted to the
server works without JavaScript and carries a file of any size the server accepts. It is the
API's code path nonetheless: the same role check (admin), the session's CSRF token (as the API
checks it for a cookie), ``skills.transfer.plan_import``/``plan_experts_csv`` and
``apply_import`` in one transaction (``skills.transfer_api.importing``: queued with every other
taxonomy write, and a clash with stored data is a 409 page), with one audit record per change as
the API writes them, then the same ``on_change`` the API calls, which reloads the routing
engine's pool. Bad input is a 4xx page with an error summary: 400 (no text, both a file and
text, not UTF-8, not JSON), 403 (no CSRF token, not an admin), 408 (slower than
``server.body_timeout_s``), 413 (over ``server.max_body_bytes``), 422 (a report with problems),
409 (Apply after the pool changed).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from base.access import Role
from base.errors import BadRequest, DomainError
from base.inputs import BODY_TIMEOUT, DEFAULT_BODY_TIMEOUT_S, parse_json, text_problem
from pages.console import console_page, sign_in_first, supervisor
from pages.sessions import SignedIn
from skills import transfer
from skills.transfer_api import TRANSFER, importing
from skills.transfer_check import SECTIONS

FORMATS = ("auto", "json", "csv")
MAX_ROWS = 1000  # rows shown per table; the counts above them are whole
ENTITY = {"organisations": "Organisation", "skills": "Skill", "experts": "Expert",
          "sharing_agreements": "Sharing agreement"}
ACTIONS = {"create": "Create", "update": "Update", "delete": "Delete"}
SHORT = 80  # a changed value longer than this (as JSON) is named, not shown


def routes() -> list[web.RouteDef]:
    return [web.get("/console/import", import_form), web.post("/console/import", import_post)]


@dataclass(frozen=True, slots=True)
class Upload:
    """What the form sent: the file's text, its format (json or csv), replace, and whether
    the text was pasted (it is then shown back in the form, to be fixed and checked again)."""

    text: str
    fmt: str
    replace: bool
    pasted: bool = False


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the report: where in the file, and what."""

    where: str
    order: tuple[int, int, str]
    entity: str = ""
    key: str = ""
    action: str = ""
    details: tuple[str, ...] = ()


class PageError(Exception):
    """Input this page refuses: its status, and the message shown in the error summary."""

    def __init__(self, status: int, message: str, field: str = "file") -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


async def import_form(request: web.Request) -> web.Response:
    who = await supervisor(request)
    if who is None:
        return sign_in_first(request)
    if who.principal.role is not Role.ADMIN:
        return _admins_only(request, who)
    return _page(request, who, upload=None)


async def import_post(request: web.Request) -> web.Response:
    who = await supervisor(request)
    if who is None:
        return sign_in_first(request)
    if who.principal.role is not Role.ADMIN:
        return _admins_only(request, who)
    form: Mapping[str, Any] = {}
    try:
        form = await _form(request)
        if not who.csrf_ok(_text_field(form, "csrf_token")):
            raise PageError(403, "This form has expired or did not come from this page: open "
                                 "the import page again and send the file again")
        action = _text_field(form, "action")
        if action not in ("dry-run", "apply"):
            raise PageError(400, "Choose Check the file or Apply")
        upload = _upload(form, applying=action == "apply")
        return await _run(request, who, upload, applying=action == "apply",
                          seen=_text_field(form, "plan") or "")
    except PageError as problem:
        return _page(request, who, upload=None, status=problem.status,
                     problems=[(problem.field, problem.message)], pasted=_pasted(form))
    except DomainError as problem:  # the import's own refusal (a clash, a busy database)
        return _page(request, who, upload=None, status=problem.status,
                     problems=[("file", problem.message)], pasted=_pasted(form))


def _pasted(form: Mapping[str, Any]) -> str:
    """The text pasted into the form (or sent to apply), shown back after a refusal."""
    return _text_field(form, "text") or _text_field(form, "document") or ""


# -- reading the form -----------------------------------------------------------------------------


async def _form(request: web.Request) -> MultiDictProxy[Any]:
    limit = request.app.get(BODY_TIMEOUT, DEFAULT_BODY_TIMEOUT_S)
    try:
        async with asyncio.timeout(limit):
            return await request.post()
    except web.HTTPRequestEntityTooLarge:
        size = request.app._client_max_size
        raise PageError(413, f"The file is too large: the server takes at most {size:,} "
                             "bytes") from None
    except TimeoutError:
        raise PageError(408, f"The file did not arrive within {limit:g} seconds: "
                             "try again") from None
    except ValueError:  # a malformed multipart body
        raise PageError(400, "The form could not be read: send it from the import "
                             "page") from None


def _text_field(form: Mapping[str, Any], name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def _upload(form: Mapping[str, Any], *, applying: bool) -> Upload:
    replace = _text_field(form, "replace") == "true"
    fmt = _text_field(form, "format") or "auto"
    if fmt not in FORMATS:
        raise PageError(400, "Choose JSON, CSV or let Expertline work it out", "format")
    name, was_pasted = "", False
    if applying:
        text = _text_field(form, "document") or ""
        if not text.strip():
            raise PageError(400, "There is nothing to apply: check a file first")
    else:
        file, name = _file_text(form.get("file"))
        pasted = _text_field(form, "text") or ""
        if file and pasted.strip():
            raise PageError(400, "Choose a file or paste its text, not both")
        text, was_pasted = file or pasted, not file
        if not text.strip():
            raise PageError(400, "Choose a pool file, or paste its text")
    problem = text_problem(text)
    if problem is not None:
        raise PageError(400, f"The file cannot be read: it {problem}")
    if fmt == "auto":
        lower = name.lower()
        fmt = "csv" if lower.endswith(".csv") else "json" if lower.endswith(".json") else \
            _sniff(text)
    return Upload(text, fmt, replace, was_pasted)


def _file_text(field: Any) -> tuple[str, str]:
    """An uploaded file's text and name ("" for none)."""
    if not isinstance(field, web.FileField):
        return "", ""
    raw = field.file.read()
    try:
        return raw.decode("utf-8-sig"), field.filename or ""
    except UnicodeDecodeError:
        raise PageError(400, "The file must be UTF-8 text (save it from a spreadsheet as "
                             "CSV UTF-8)") from None


def _sniff(text: str) -> str:
    return "json" if text.lstrip().startswith(("{", "[")) else "csv"


# -- planning and applying ------------------------------------------------------------------------


async def _run(request: web.Request, who: SignedIn, upload: Upload, *, applying: bool,
               seen: str) -> web.Response:
    deps = request.app[TRANSFER]
    data: Any = None
    if upload.fmt == "json":
        try:
            data = parse_json(upload.text)
        except BadRequest as problem:
            raise PageError(400, f"The file is not valid JSON: {problem.message}") from None
    stale = False
    async with importing(deps) as run:  # one transaction, queued as the API's import
        if upload.fmt == "csv":
            plan = await transfer.plan_experts_csv(run.session, upload.text,
                                                   replace=upload.replace)
        else:
            plan = await transfer.plan_import(run.session, data, replace=upload.replace)
        if applying and plan.valid:
            stale = fingerprint(plan) != seen
            if not stale and plan.changes:
                await transfer.apply_import(run.session, plan, actor=who.principal)
                run.changed = True
    applied = run.changed
    status = 422 if not plan.valid else 409 if stale else 200
    return _page(request, who, upload=upload, plan=plan, status=status, applied=applied,
                 stale=stale, rows=_rows(plan, _places(upload, data)),
                 pasted=upload.text if upload.pasted and not applied else "")


def fingerprint(plan: transfer.ImportPlan) -> str:
    """The changes a plan makes, as a short digest: what the admin read in the dry run."""
    changes = [[c.section, c.key, c.action, c.after] for c in plan.changes]
    text = json.dumps([plan.replace, changes], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _places(upload: Upload, data: Any) -> dict[tuple[str, str], tuple[str, int]]:
    """(section, key) -> where its record is in the file, and its order there."""
    found: dict[tuple[str, str], tuple[str, int]] = {}
    if upload.fmt == "csv":
        rows, _ = transfer.parse_experts_csv(upload.text)
        for row in rows:
            if isinstance(row.expert.get("id"), str):
                found.setdefault(("experts", row.expert["id"]), (f"line {row.line}", row.line))
        return found
    if not isinstance(data, dict):
        return found
    for section in SECTIONS:
        items = data.get(section)
        for i, item in enumerate(items if isinstance(items, list) else ()):
            key = _key(section, item)
            if key is not None:
                found.setdefault((section, key), (f"{section}[{i}]", i))
    return found


def _key(section: str, item: Any) -> str | None:
    """A record's key as the import computes it (an agreement's pair in order)."""
    if not isinstance(item, dict):
        return None
    if section == "sharing_agreements":
        a, b = item.get("org_a"), item.get("org_b")
        return "/".join(sorted((a, b))) if isinstance(a, str) and isinstance(b, str) else None
    key = item.get("id")
    return key if isinstance(key, str) else None


def _rows(plan: transfer.ImportPlan,
          places: Mapping[tuple[str, str], tuple[str, int]]) -> dict[str, list[Row]]:
    problems = [Row(where=p.path or "the whole file", order=(0, i, ""), details=(p.message,))
                for i, p in enumerate(plan.problems)]
    changes = []
    for change in plan.changes:
        where, at = places.get((change.section, change.key), ("not in the file", 1 << 30))
        changes.append(Row(where=where, order=(SECTIONS.index(change.section), at, change.key),
                           entity=ENTITY[change.section], key=change.key,
                           action=ACTIONS[change.action], details=_details(change)))
    changes.sort(key=lambda r: r.order)  # by section, then as the file has them
    return {"problems": problems, "changes": changes}


def _details(change: transfer.Change) -> tuple[str, ...]:
    before, after = change.before, change.after
    if after is None:
        return ("Deleted: the file does not name it, and Replace is chosen",)
    if before is None:
        name = after.get("name")
        return (f"New: {name}",) if isinstance(name, str) else ("New",)
    return tuple(_difference(key, before.get(key), after.get(key))
                 for key in after if before.get(key) != after.get(key))


def _difference(key: str, old: Any, new: Any) -> str:
    shown = [json.dumps(v, ensure_ascii=False, default=str) for v in (old, new)]
    if max(len(s) for s in shown) > SHORT:
        return f"{key} changes"
    return f"{key}: {shown[0]} \u2192 {shown[1]}"


# -- the page ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Counts:
    """One section's line of the summary table."""

    section: str
    creates: int
    updates: int
    deletes: int
    unchanged: int


def _counts(plan: transfer.ImportPlan) -> list[Counts]:
    return [Counts(ENTITY[s], *(len(plan.keys(s, a)) for a in
                                ("create", "update", "delete", "unchanged")))
            for s in plan.sections]


def _page(request: web.Request, who: SignedIn, *, upload: Upload | None,
          plan: transfer.ImportPlan | None = None, status: int = 200,
          problems: Sequence[tuple[str, str]] = (), applied: bool = False, stale: bool = False,
          rows: Mapping[str, list[Row]] | None = None, pasted: str = "") -> web.Response:
    rows = rows or {"problems": [], "changes": []}
    counts = _counts(plan) if plan is not None else []
    if problems:
        title = "Error: Import"
    elif plan is None:
        title = "Import"
    elif applied:
        title = "Import applied"
    else:
        title = "Import: dry run" if plan.valid and not stale else "Error: Import: dry run"
    return console_page(
        request, who, "console_import.html", title=title, status=status, admin=True,
        problems=list(problems), upload=upload, plan=plan, applied=applied, stale=stale,
        counts=counts, delete_total=sum(c.deletes for c in counts),
        problem_rows=rows["problems"][:MAX_ROWS], problem_total=len(rows["problems"]),
        change_rows=rows["changes"][:MAX_ROWS], change_total=len(rows["changes"]),
        max_rows=MAX_ROWS, fingerprint=fingerprint(plan) if plan is not None else "",
        pasted=pasted, max_bytes=request.app._client_max_size)


def _admins_only(request: web.Request, who: SignedIn) -> web.Response:
    return console_page(request, who, "console_import.html", title="Import: admins only",
                        status=403, admin=False)
