"""The composition root: ``create_app(config)`` wires the packages into one aiohttp application.

Each package owns its resources through ``setup(app, …)`` (a cleanup context and typed AppKeys);
this module only opens the database, adds the middlewares and calls those setups in order.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, time, timedelta
from typing import Any

from aiohttp import web
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

import pages.staffing_page
import pages.wiring
import router.api
import router.wiring
import scheduler.wiring
import skills.wiring
import telephony.wiring
from base import openapi
from base.access import Principal
from base.config import Config
from base.db import Database
from base.errors import NotFound, TooManyRequests, Unauthorized
from base.http import (
    PARSER_LIMITS,
    PRINCIPAL,
    Handler,
    error_middleware,
    input_middleware,
    json_response,
)
from base.inputs import BODY_TIMEOUT
from base.limits import RELAY_SECRET, TRUST_FORWARDED_FOR, RateLimit, client_of
from base.metrics import METRICS, may_scrape_unauthenticated
from base.socket_auth import CREDENTIAL, OPEN_SOCKETS, OpenSockets, keep_checking
from expertline import operations, schema, tokens_api
from expertline.auth import bearer, resolve_token, token_credential
from expertline.governance import api as governance_api
from expertline.governance.store import key_source
from expertline.serving import ALONE, Leadership
from pages.access import cookie_principal, session_credential
from pages.contact_pages import ContactSource, setup_contacts
from pages.picture_pages import CoverageSource, RotaSource, TodaySource, setup_pictures
from pages.throttle import SIGN_IN_FAILURES
from pages.wallboard import ALERTS_SOURCE
from router import console_ws
from router.engine import Engine
from router.stats import today_by_interval
from router.store import live_contacts_of_skill
from router.wiring import ENGINE, engine_of
from scheduler import erlang, reconcile, rota
from scheduler.coverage_data import load_coverage
from scheduler.store import all_patterns
from skills.models import Expert
from skills.wiring import pool_watch
from telephony.service import BookCallback

log = logging.getLogger("expertline")

CONFIG = web.AppKey("config", Config)
DATABASE = web.AppKey("database", Database)
DEMO = web.AppKey("demo", bool)
AUTH_FAILURES = web.AppKey("expertline.auth_failures", RateLimit)
LEADERSHIP = web.AppKey("expertline.leadership", Leadership)

PUBLIC_PREFIXES = ("/healthz", "/twilio/", "/ws/chat", "/static/", "/chat", openapi.DOCUMENT_PATH)


def create_app(config: Config, *, demo: bool = False,
               leadership: Leadership = ALONE) -> web.Application:
    """The whole application. ``leadership`` fences the routing core by the epoch this
    process leads in (``expertline.serving``; none on SQLite)."""
    app = web.Application(
        middlewares=[*operations.MIDDLEWARES, error_middleware, input_middleware,
                     auth_middleware],
        client_max_size=config.server.max_body_bytes,
        handler_args=PARSER_LIMITS,
    )
    app[CONFIG] = config
    app[DEMO] = demo
    app[LEADERSHIP] = leadership
    app[BODY_TIMEOUT] = config.server.body_timeout_s
    app[TRUST_FORWARDED_FOR] = config.server.trust_forwarded_for
    app[RELAY_SECRET] = leadership.relay_secret
    app[AUTH_FAILURES] = RateLimit(config.limits.auth_failures_per_min)
    app[SIGN_IN_FAILURES] = RateLimit(config.limits.sign_in_failures_per_min)
    app[OPEN_SOCKETS] = OpenSockets()
    app.cleanup_ctx.append(_database_ctx)
    app.cleanup_ctx.append(keep_checking)
    skills.wiring.setup(app, sessions=sessions_of(app), taxonomy_cost=config.routing.taxonomy_cost,
                        live_contacts=live_contacts_of_skill)
    router.wiring.setup(app, engine=lambda a: Engine(
        a[DATABASE], config, watch=pool_watch(a), on_deposed=leadership.deposed,
        fence=leadership.fence, metrics=a[METRICS]))
    pages.wiring.setup(app, sessions=sessions_of(app), public_url=config.server.public_url,
                       lifetime=config.sessions, providers=config.oidc.providers,
                       signed_out=offline_on_sign_out(app))
    setup_pictures(app, coverage=coverage_source(app), today=today_source(app),
                   rota=rota_source(app))
    setup_contacts(app, ContactSource(page=router.api.contacts_page,
                                      detail=router.api.contact_detail,
                                      may_set_status=router.api.may_set_status))
    pages.staffing_page.setup_staffing(app, pages.staffing_page.StaffingMaths(
        traffic=erlang.traffic, erlang_c=erlang.erlang_c, erlang_a=erlang.erlang_a,
        staff=erlang.staff))
    telephony.wiring.setup(app, config=config, sessions=sessions_of(app),
                           optout_key=key_source(sessions_of(app), config.retention),
                           routing=lambda: engine_of(app), chat_page=False,
                           triage=lambda text: engine_of(app).triage(text),
                           guard=leadership.guard(), book_callback=callback_booking(app))
    scheduler.wiring.setup(app, sessions=sessions_of(app), config=config,
                           availability=lambda: app.get(ENGINE), routing=lambda: app.get(ENGINE),
                           floor=lambda: app.get(ENGINE))
    app[console_ws.ALERTS] = app[ALERTS_SOURCE] = alerts_source(app)
    governance_api.setup(app, sessions=sessions_of(app), retention=config.retention,
                         scheduler=scheduler.wiring.scheduler_of(app))
    tokens_api.setup(app, sessions=sessions_of(app))
    app.cleanup_ctx.append(_voice_skills_ctx)
    if demo and not config.twilio.enabled:
        from expertline.demo_desk import demo_desks_ctx

        app.cleanup_ctx.append(demo_desks_ctx)
    app.router.add_get("/healthz", _healthz)
    operations.setup(app, config)
    openapi.setup(app)
    return app


async def _database_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    db = schema.database(config.database_url, echo=config.database.echo,
                         busy_timeout_ms=config.database.busy_timeout_ms)
    await db.open()
    app[DATABASE] = db
    if app[DEMO]:
        from expertline.demo import seed_if_empty

        await seed_if_empty(db, config)
    log.info("database ready: %r", db)
    yield
    await db.close()


def missing_voice_skills(config: Config, known: Callable[[str], bool]) -> list[str]:
    """``voice.general_skill`` and menu skills that the skills graph does not hold: a caller
    sent there would wait for nobody."""
    voice = config.voice
    wanted = [voice.general_skill, *voice.menu.values()]
    return sorted({skill for skill in wanted if not known(skill)})


async def _voice_skills_ctx(app: web.Application) -> AsyncIterator[None]:
    graph = engine_of(app).graph
    if graph is not None:
        for skill in missing_voice_skills(app[CONFIG], graph.__contains__):
            log.warning("voice routes callers to skill %r, which the skills graph does not "
                        "hold: add it to the pool or change voice.general_skill/voice.menu",
                        skill)
        for skill in sorted(s for s in app[CONFIG].staffing.skills if s not in graph):
            log.warning("[staffing.skills.%s] promises a target for a skill that is not in "
                        "the skills graph: check its id", skill)
    yield


def sessions_of(app: web.Application) -> Callable[[], AsyncSession]:
    """A session factory that finds the database when called (it opens after setup)."""

    def session() -> AsyncSession:
        return app[DATABASE].session()

    return session


def offline_on_sign_out(app: web.Application) -> Callable[[Principal], Awaitable[None]]:
    """What sign-out does in routing: an expert who signs out goes offline at once, as the
    desk's Offline button does (an offer ringing for them goes back to the queue, not
    counted as missed), not when their desk's grace runs out."""

    async def offline(who: Principal) -> None:
        engine = app.get(ENGINE)
        if who.expert_id is None or engine is None:
            return
        with contextlib.suppress(NotFound):  # not in the routing pool: nothing to set
            await engine.set_status(who.expert_id, "offline")

    return offline


def callback_booking(app: web.Application) -> BookCallback:
    """The scheduler's ``book_callback``, for a citizen who reached an organisation's line out
    of hours (``[local.ID]``); the scheduler is set up after telephony, so found when called."""

    async def book(*, number: str, skill: str, language: str, due_at: float, org: str | None,
                   ref: str) -> str:
        return await scheduler.wiring.scheduler_of(app).book_callback(
            number=number, skill=skill, language=language, due_at=due_at, org=org, ref=ref)

    return book


def coverage_source(app: web.Application) -> CoverageSource:
    """The coverage page's cells, as ``GET /api/v1/coverage`` reads them: the scheduler's
    config and clock, a database session, ``scheduler.coverage_data.load_coverage``."""

    async def cells(first: date, days: int, skill: str | None) -> list[dict[str, Any]]:
        sched = scheduler.wiring.scheduler_of(app)
        async with sessions_of(app)() as session:
            found = await load_coverage(session, first=first, days=days, skill=skill,
                                        config=sched.config, now=sched.now())
        return [cell.to_json() for cell in found]

    return cells


def alerts_source(app: web.Application) -> Callable[[Principal], list[dict[str, Any]]]:
    """The breach alerts a caller may see, as ``GET /api/v1/alerts`` names them: for the
    wallboard's page and its socket (``scheduler.alerts``; none before the first forecast)."""

    def alerts(caller: Principal) -> list[dict[str, Any]]:
        found = scheduler.wiring.alerts_of(app)
        return [] if found is None else list(found.board.view(caller)["alerts"])

    return alerts


def today_source(app: web.Application) -> TodaySource:
    """The today page's figures: ``router.stats.today_by_interval`` on the running engine (its
    clock and store), per staffing interval (``staffing.interval_min``)."""
    interval_s = app[CONFIG].staffing.interval_min * 60.0

    async def figures(skill: str | None, caller: Principal) -> dict[str, Any]:
        return await today_by_interval(engine_of(app), skill, interval_s, caller)

    return figures


def rota_source(app: web.Application) -> RotaSource:
    """The rota page's week from Monday ``first`` (London): the organisation's active experts,
    their shifts expanded as ``GET /api/v1/experts/{id}/rota`` expands them, and the spans of
    their absences (timed) and leave (dates) that overlap the week."""

    async def week(org: str, first: date) -> dict[str, Any]:
        async with sessions_of(app)() as session:
            experts = (await session.exec(select(Expert).where(
                Expert.org_id == org, col(Expert.active).is_(True)))).all()
            zones = {e.id: e.timezone for e in experts}
            rows = [r for r in await all_patterns(session) if r["expert_id"] in zones]
        patterns, absences = reconcile.rota_of(rows, zones)
        london = rota.zone_of("Europe/London")
        start = rota.to_utc(first, time(0), london)
        end = rota.to_utc(first + timedelta(days=7), time(0), london)
        spans = [(a, a.span()) for a in absences]
        return {"experts": [{"id": e.id, "name": e.name} for e in experts],
                "shifts": [s.to_json() for s in rota.expand(patterns, absences, start, end)],
                "absences": [{"expert_id": a.expert_id, "kind": "absence" if a.timed else "leave",
                              **span.to_json()} for a, span in spans
                             if span.start < end and start < span.end]}

    return week


async def _healthz(request: web.Request) -> web.Response:
    return json_response(request.app[LEADERSHIP].health())


def _needs_token(request: web.Request) -> bool:
    path = request.path
    if path == operations.METRICS_PATH:
        return not may_scrape_unauthenticated(request)
    return (path.startswith(("/api/", "/ws/expert", "/ws/console"))
            and not path.startswith(PUBLIC_PREFIXES))


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve the bearer token (or ``?access_token=`` on WebSockets) into a principal. An
    address that sent too many wrong tokens waits (429) before any of its requests is
    looked at, so tokens cannot be guessed at speed."""
    if _needs_token(request):
        client, failures = client_of(request), request.app[AUTH_FAILURES]
        wait = failures.blocked(client)
        if wait > 0:
            raise TooManyRequests(f"too many wrong tokens from your address; try again in "
                                  f"{wait:.0f} s", retry_after_s=wait)
        try:
            request[PRINCIPAL] = await _principal(request)
        except Unauthorized:
            failures.take(client)
            raise
    return await handler(request)


async def _principal(request: web.Request) -> Principal:
    """A bearer token (header, or ``?access_token=`` on a WebSocket), else the signed-in
    browser's session (with its CSRF and origin checks)."""
    header = request.headers.get("Authorization")
    if header is None and request.path.startswith("/ws/") and "access_token" in request.query:
        header = "Bearer " + request.query["access_token"]
    if header is None:
        found = await cookie_principal(request)
        credential = session_credential(request)
        if found is not None:
            if credential is not None:  # a WebSocket lasts while the session does
                request[CREDENTIAL] = credential
            return found
    token = bearer(header)
    async with request.app[DATABASE].session() as session:
        caller = await resolve_token(session, token)
    request[CREDENTIAL] = token_credential(sessions_of(request.app), token)
    return caller


