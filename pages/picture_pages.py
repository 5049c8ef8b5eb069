"""The console's pictures, each with its table: ``/console/graph``, ``/console/coverage``,
``/console/today`` and ``/console/rota``.

``setup_pictures(app, coverage=…, today=…, rota=…)`` registers the pages and stores their
sources: the pages may not import the scheduler or the routing engine (``lint-imports``
floors), so the composition root hands in a ``CoverageSource``, ``(first day, days, skill or
None) -> the scheduler's coverage cells`` as plain dicts (skill, start, required, scheduled,
…), a ``TodaySource``, ``(skill or None, the caller) -> router.stats.today_by_interval``'s
figures over the contacts the caller may see, and a ``RotaSource``, ``(organisation, Monday)
-> its active experts, their shifts, absences and leave that week``. The skills graph, its
holders and the organisations come from the pool directly (``skills.pool``, the cached graph
of ``skills.wiring.pool_watch``).

- ``GET /console/graph?skill=ID[&depth=1|2]``: the skills within ``depth`` links (default 1) of
  the skill, their holders and organisations, fragile and unheld skills marked.
- ``GET /console/coverage?from=YYYY-MM-DD&days=N[&skill=ID]``: agents needed against experts
  scheduled per skill and staffing interval (half an hour by default), from today in
  Europe/London for 3 days (at most 14).
- ``GET /console/today[?skill=ID]``: per interval of today (London midnight to now), the
  contacts that arrived, their service level and the queue at the interval's end.
- ``GET /console/rota[?org=ID&week=YYYY-MM-DD]``: an organisation's experts (a supervisor's
  own organisations only; by default the first) and their shifts, absences and leave in the
  week, Monday to Sunday, that holds ``week`` (by default this week).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from markupsafe import Markup

from base.access import Principal
from base.errors import DomainError
from base.http import query_int
from base.inputs import parse_day
from pages.access import WEB
from pages.console import console_page, sees_org, sign_in_first, supervisor
from pages.picture_data import (
    DASH,
    KIND_WORDS,
    coverage_cells,
    day_label,
    figure,
    heatmap,
    interval_words,
    monday_of,
    neighbourhood,
    percent,
    piece_time,
    rota_week,
    shortfalls,
    today_slots,
    totals,
)
from pages.pictures import graph_svg, heatmap_svg, queue_svg, rota_svg, service_svg
from pages.sessions import SignedIn
from skills import pool
from skills.graph import Holder, SkillGraph
from skills.wiring import pool_watch

CoverageSource = Callable[[date, int, str | None], Awaitable[list[dict[str, Any]]]]
TodaySource = Callable[[str | None, Principal], Awaitable[dict[str, Any]]]
RotaSource = Callable[[str, date], Awaitable[dict[str, Any]]]
COVERAGE_SOURCE = web.AppKey[CoverageSource]("pages.coverage_source")
TODAY_SOURCE = web.AppKey[TodaySource]("pages.today_source")
ROTA_SOURCE = web.AppKey[RotaSource]("pages.rota_source")
LONDON = ZoneInfo("Europe/London")
DEFAULT_DAYS, MAX_DAYS, MAX_DEPTH = 3, 14, 2
MAX_SHORT_ROWS = 300  # the shortfall table lists at most this many intervals
GRAPH_PAGE, COVERAGE_PAGE = "console_graph.html", "console_coverage.html"
TODAY_PAGE, ROTA_PAGE = "console_today.html", "console_rota.html"

__all__ = ["COVERAGE_SOURCE", "ROTA_SOURCE", "TODAY_SOURCE", "CoverageSource", "RotaSource",
           "TodaySource", "routes", "setup_pictures"]


def setup_pictures(app: web.Application, *, coverage: CoverageSource, today: TodaySource,
                   rota: RotaSource) -> None:
    app[COVERAGE_SOURCE] = coverage
    app[TODAY_SOURCE] = today
    app[ROTA_SOURCE] = rota
    app.router.add_routes(routes())


def routes() -> list[web.RouteDef]:
    return [web.get("/console/graph", skills_graph), web.get("/console/coverage", coverage),
            web.get("/console/today", today_page), web.get("/console/rota", team_rota)]


async def _pool(request: web.Request, *,
                holders: bool) -> tuple[SkillGraph, dict[str, list[Holder]]]:
    async with request.app[WEB].sessions() as session:
        graph = await pool_watch(request.app).graph(lambda: pool.load_specs(session))
        held = await pool.holders_by_skill(session) if holders else {}
    return graph, held


def _choices(graph: SkillGraph) -> list[tuple[str, str]]:
    """(id, name) of every skill, by name."""
    return sorted(((s.id, s.name) for s in graph.specs()), key=lambda s: (s[1].lower(), s[0]))


Problem = tuple[str, int, str]  # (the form field at fault, HTTP status, what to do)


def _problem(request: web.Request, who: SignedIn, template: str, problem: Problem,
             page: dict[str, Any]) -> web.Response:
    """The page again (its form filled in) with an error summary, and the error's status."""
    field, status, message = problem
    return console_page(request, who, template, status=status, problem=message,
                        problem_at=field, **{**page, "title": f"Error: {page['title']}"})


# -- the skills graph ---------------------------------------------------------------------------


def _graph_query(request: web.Request, graph: SkillGraph) -> tuple[str, int, Problem | None]:
    """The chosen skill ("" for none) and depth, and what is wrong with them."""
    chosen = request.query.get("skill", "").strip()
    try:
        depth = query_int(request, "depth", 1, lo=1, hi=MAX_DEPTH)
    except DomainError:
        return chosen, 1, ("depth", 400, f"Choose 1 to {MAX_DEPTH} steps")
    if chosen and chosen not in graph:
        message = f"There is no skill with the id “{chosen}”: choose one from the list"
        return chosen, depth, ("skill", 404, message)
    return chosen, depth, None


async def skills_graph(request: web.Request) -> web.Response:
    who = await supervisor(request)
    if who is None:
        return sign_in_first(request)
    graph, held = await _pool(request, holders="skill" in request.query)
    chosen, depth, problem = _graph_query(request, graph)
    page: dict[str, Any] = {"title": "Skills graph", "skills": _choices(graph),
                            "chosen": chosen, "depth": depth}
    if problem is not None:
        return _problem(request, who, GRAPH_PAGE, problem, page)
    if not chosen:
        return console_page(request, who, GRAPH_PAGE, **page)
    hood = neighbourhood(graph, held, chosen, depth)
    picture = graph_svg(hood, svg_id="graph-picture", caption_id="graph-caption")
    return console_page(request, who, GRAPH_PAGE, hood=hood, picture=Markup(picture), **page)


# -- coverage -----------------------------------------------------------------------------------


def london_today(now: datetime) -> date:
    return now.astimezone(LONDON).date()


def _coverage_query(request: web.Request, graph: SkillGraph,
                    today: date) -> tuple[dict[str, Any], Problem | None]:
    """The form's values (``first``, ``days``, ``chosen``) and what is wrong with them."""
    skill = request.query.get("skill", "").strip()
    raw = request.query.get("from", "").strip()
    form: dict[str, Any] = {"first": today, "days": DEFAULT_DAYS, "chosen": skill,
                            "from_text": raw or today.isoformat()}
    try:
        form["first"] = parse_day(raw, "from") if raw else today
    except DomainError:
        return form, ("from", 400, "Enter the first day as a date, like 2026-12-08")
    try:
        form["days"] = query_int(request, "days", DEFAULT_DAYS, lo=1, hi=MAX_DAYS)
    except DomainError:
        return form, ("days", 400, f"Enter a number of days from 1 to {MAX_DAYS}")
    if skill and skill not in graph:
        message = f"There is no skill with the id “{skill}”: choose one from the list, or all"
        return form, ("skill", 404, message)
    return form, None


async def coverage(request: web.Request) -> web.Response:
    who = await supervisor(request)
    if who is None:
        return sign_in_first(request)
    graph, _ = await _pool(request, holders=False)
    form, problem = _coverage_query(request, graph, london_today(request.app[WEB].clock()))
    page = {"title": "Coverage", "skills": _choices(graph), "max_days": MAX_DAYS, **form}
    if problem is not None:
        return _problem(request, who, COVERAGE_PAGE, problem, page)
    try:
        rows = await request.app[COVERAGE_SOURCE](form["first"], form["days"],
                                                  form["chosen"] or None)
    except DomainError as exc:
        field = str(exc.details.get("field", "from"))
        return _problem(request, who, COVERAGE_PAGE, (field, exc.status, exc.message), page)
    names = {s.id: s.name for s in graph.specs()}
    return console_page(request, who, COVERAGE_PAGE, **page, **_coverage_view(rows, names))


def _coverage_view(rows: list[dict[str, Any]], names: Mapping[str, str]) -> dict[str, Any]:
    grid = heatmap(coverage_cells(rows), names, LONDON)
    short = shortfalls(grid)
    step, steps = interval_words(grid.interval)
    picture = heatmap_svg(grid, svg_id="coverage-picture", caption_id="coverage-caption")
    return {"grid": grid, "picture": Markup(picture) if grid.rows else None,
            "totals": totals(grid), "short": short[:MAX_SHORT_ROWS], "short_count": len(short),
            "names": dict(grid.rows), "figure": figure, "step": step, "steps": steps}


# -- today per interval -------------------------------------------------------------------------


async def today_page(request: web.Request) -> web.Response:
    who = await supervisor(request)
    if who is None:
        return sign_in_first(request)
    graph, _ = await _pool(request, holders=False)
    chosen = request.query.get("skill", "").strip()
    page: dict[str, Any] = {"title": "Today", "skills": _choices(graph), "chosen": chosen}
    if chosen and chosen not in graph:
        message = f"There is no skill with the id “{chosen}”: choose one from the list, or all"
        return _problem(request, who, TODAY_PAGE, ("skill", 404, message), page)
    today = today_slots(await request.app[TODAY_SOURCE](chosen or None, who.principal),
                        LONDON)
    step, steps = interval_words(today.interval)
    names = {s.id: s.name for s in graph.specs()}
    return console_page(
        request, who, TODAY_PAGE, **page, today=today, step=step, steps=steps,
        what=f"{names[chosen]} ({chosen})" if chosen else "All skills", percent=percent,
        service=Markup(service_svg(today, svg_id="service-picture", caption_id="service-caption")),
        queue=Markup(queue_svg(today, svg_id="queue-picture", caption_id="queue-caption")))


# -- a team's rota as a week --------------------------------------------------------------------


async def _organisations(request: web.Request, who: SignedIn) -> dict[str, str]:
    """The organisations this person may see, id -> name, by id."""
    async with request.app[WEB].sessions() as session:
        rows, _ = await pool.list_organisations(session, limit=10_000, offset=0)
    return {row.id: row.name for row in rows if sees_org(who.principal, row.id)}


def _rota_query(request: web.Request, orgs: Mapping[str, str],
                today: date) -> tuple[dict[str, Any], Problem | None]:
    """The form's values (``org``, ``first``: the week's Monday) and what is wrong with them."""
    org = request.query.get("org", "").strip()
    raw = request.query.get("week", "").strip()
    form: dict[str, Any] = {"org": org or next(iter(orgs), ""), "first": monday_of(today),
                            "week_text": raw or today.isoformat()}
    try:
        form["first"] = monday_of(parse_day(raw, "week")) if raw else form["first"]
    except DomainError:
        return form, ("week", 400, "Enter a day of the week as a date, like 2026-12-07")
    if org and org not in orgs:
        message = f"There is no organisation with the id “{org}” that you can see: choose one"
        return form, ("org", 404, message)
    return form, None


async def team_rota(request: web.Request) -> web.Response:
    who = await supervisor(request)
    if who is None:
        return sign_in_first(request)
    orgs = await _organisations(request, who)
    form, problem = _rota_query(request, orgs, london_today(request.app[WEB].clock()))
    page = {"title": "Rota", "orgs": orgs, **form}
    if problem is not None:
        return _problem(request, who, ROTA_PAGE, problem, page)
    if not form["org"]:
        return console_page(request, who, ROTA_PAGE, **page)
    try:
        data = await request.app[ROTA_SOURCE](form["org"], form["first"])
    except DomainError as exc:
        return _problem(request, who, ROTA_PAGE, ("week", exc.status, exc.message), page)
    return console_page(request, who, ROTA_PAGE, **page, **_rota_view(data, form["first"]))


def _rota_view(data: dict[str, Any], first: date) -> dict[str, Any]:
    week = rota_week(data, first, LONDON)
    pieces = week.pieces()
    busy = {p.entry.expert for p in pieces}
    picture = rota_svg(week, svg_id="rota-picture", caption_id="rota-caption")
    return {"week": week, "pieces": pieces, "picture": Markup(picture),
            "idle": [e for e in week.experts if e[0] not in busy],
            "day_label": day_label, "kind_words": KIND_WORDS, "dash": DASH,
            "piece_time": lambda piece: piece_time(piece, LONDON),
            "before": (first - timedelta(days=7)).isoformat(),
            "after": (first + timedelta(days=7)).isoformat()}
