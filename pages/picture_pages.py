"""``/console/graph`` and ``/console/coverage``: the console's two pictures, each with its table.

``setup_pictures(app, coverage=…)`` registers both pages and stores the coverage source: the
pages may not import the scheduler (a ``lint-imports`` floor), so the composition root hands
in a ``CoverageSource``, ``(first day, days, skill or None) -> the scheduler's coverage cells``
as plain dicts (skill, start, required, scheduled, …). The skills graph and its holders come
from the pool directly (``skills.pool``, the cached graph of ``skills.wiring.pool_watch``).

- ``GET /console/graph?skill=ID[&depth=1|2]``: the skills within ``depth`` links (default 1) of
  the skill, their holders and organisations, fragile and unheld skills marked.
- ``GET /console/coverage?from=YYYY-MM-DD&days=N[&skill=ID]``: agents needed against experts
  scheduled per skill and staffing interval (half an hour by default), from today in
  Europe/London for 3 days (at most 14).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from markupsafe import Markup

from base.errors import DomainError
from base.http import query_int
from base.inputs import parse_day
from pages.access import WEB
from pages.console import console_page, sign_in_first, supervisor
from pages.picture_data import (
    coverage_cells,
    figure,
    heatmap,
    interval_words,
    neighbourhood,
    shortfalls,
    totals,
)
from pages.pictures import graph_svg, heatmap_svg
from pages.sessions import SignedIn
from skills import pool
from skills.graph import Holder, SkillGraph
from skills.wiring import pool_watch

CoverageSource = Callable[[date, int, str | None], Awaitable[list[dict[str, Any]]]]
COVERAGE_SOURCE = web.AppKey[CoverageSource]("pages.coverage_source")
LONDON = ZoneInfo("Europe/London")
DEFAULT_DAYS, MAX_DAYS, MAX_DEPTH = 3, 14, 2
MAX_SHORT_ROWS = 300  # the shortfall table lists at most this many intervals
GRAPH_PAGE, COVERAGE_PAGE = "console_graph.html", "console_coverage.html"

__all__ = ["COVERAGE_SOURCE", "CoverageSource", "routes", "setup_pictures"]


def setup_pictures(app: web.Application, *, coverage: CoverageSource) -> None:
    app[COVERAGE_SOURCE] = coverage
    app.router.add_routes(routes())


def routes() -> list[web.RouteDef]:
    return [web.get("/console/graph", skills_graph), web.get("/console/coverage", coverage)]


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
