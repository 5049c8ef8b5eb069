"""The scheduler service: APScheduler jobs around pure decisions, on an injected clock.

``Scheduler.reconcile_now()`` loads the patterns, computes the rota picture
(``scheduler.reconcile``) and hands it to the availability port; ``run_due_callbacks()`` submits
every pending scheduled callback that is due. Both are idempotent (a job may fire late or twice:
the callback's ``external_ref`` is ``scheduled-callback:{id}`` and the port's submit is idempotent
on it; a submitted callback is never submitted again). With ``scheduler.enabled`` an
AsyncIOScheduler runs them: a safety-net interval job every ``reconcile_every_s`` (which also runs
due callbacks), a date job at each shift boundary of the next day, and a date job per pending
callback, all rebuilt from the database on start.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlmodel.ext.asyncio.session import AsyncSession

from base.clock import now_utc
from base.config import Config
from base.errors import DomainError
from base.local_rules import effective
from router.ports import AvailabilityPort, Channel, ContactRequest, Medium, RoutingPort
from scheduler import reconcile, report, store
from scheduler.tables import ScheduledCallbackRow

log = logging.getLogger("expertline.scheduler")
HORIZON = timedelta(hours=24)
# ``created_by`` of a callback a citizen booked themselves on an organisation's line out of
# hours ("line:ORG-ID"): it is submitted on that line again (the organisation's experts and
# its data-sharing partners, at its priority), not on the shared national line.
LINE = "line:"
LONDON = ZoneInfo("Europe/London")


def line_of(created_by: str) -> str | None:
    """The organisation whose line a self-booked callback came from (None: national)."""
    return created_by.removeprefix(LINE) or None if created_by.startswith(LINE) else None


class Scheduler:
    """Owns the APScheduler instance (when enabled) and the reconcile/callback jobs."""

    def __init__(self, *, sessions: Callable[[], AsyncSession], config: Config,
                 availability: Callable[[], AvailabilityPort | None],
                 routing: Callable[[], RoutingPort | None],
                 clock: Callable[[], datetime] = now_utc) -> None:
        self._sessions, self._config = sessions, config
        self._availability, self._routing, self._clock = availability, routing, clock
        self._aps: AsyncIOScheduler | None = None
        self._lock = asyncio.Lock()
        self._daily: dict[str, tuple[str, Callable[[], Awaitable[Any]]]] = {}
        self._every: dict[str, tuple[float, Callable[[], Awaitable[Any]]]] = {}

    def __repr__(self) -> str:
        jobs = len(self._aps.get_jobs()) if self._aps is not None else 0
        state = "running" if self._aps is not None else "stopped"
        return f"<Scheduler {state} jobs={jobs}>"

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        if self._aps is not None or not self._config.scheduler.enabled:
            return
        self._aps = AsyncIOScheduler(timezone=UTC)
        self._aps.add_job(self._safety_net, "interval", id="reconcile", coalesce=True,
                          seconds=self._config.scheduler.reconcile_every_s,
                          misfire_grace_time=None, max_instances=1)
        hour, minute = (int(x) for x in self._config.scheduler.daily_report_at.split(":"))
        self._aps.add_job(self.run_daily_report, "cron", hour=hour, minute=minute,
                          timezone=LONDON, id="daily-report", coalesce=True,
                          misfire_grace_time=None)
        for job_id, (at, job) in self._daily.items():
            self._daily_job(job_id, at, job)
        for job_id, (seconds, job) in self._every.items():
            self._interval_job(job_id, seconds, job)
        self._aps.start()
        await self.rebuild_jobs()
        await self.reconcile_now()  # availability follows the rota from the first minute

    async def close(self) -> None:
        """Stop the APScheduler instance; safe to call twice."""
        aps, self._aps = self._aps, None
        if aps is not None:
            aps.shutdown(wait=False)

    async def __aenter__(self) -> Scheduler:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    @property
    def config(self) -> Any:
        return self._config

    def now(self) -> datetime:
        return self._clock()

    def today(self) -> date:
        """Today's date in Europe/London on the scheduler's clock."""
        return self._clock().astimezone(LONDON).date()

    @property
    def job_ids(self) -> list[str]:
        return sorted(j.id for j in self._aps.get_jobs()) if self._aps is not None else []

    async def rebuild_jobs(self) -> None:
        """Boundary and callback date jobs from the database (on start and after changes)."""
        if self._aps is None:
            return
        for job in self._aps.get_jobs():
            if job.id.startswith(("boundary:", "callback:")):
                job.remove()
        now = self._clock()
        async with self._sessions() as session:
            patterns, absences = await self._rota(session)
            pending = await store.callbacks(session, state="pending")
        minutes = self._config.scheduler.no_voice_offer_last_min
        for at in reconcile.boundaries(patterns, absences, now, HORIZON, minutes):
            self._date_job(f"boundary:{at.isoformat()}", at, self._boundary)
        for row in pending:
            at = max(now, datetime.fromtimestamp(row.due_at, UTC))
            self._date_job(f"callback:{row.id}", at, self.run_due_callbacks)

    def every_day(self, job_id: str, at: str, job: Callable[[], Awaitable[Any]]) -> None:
        """Run ``job`` daily at ``at`` (``HH:MM``, Europe/London) for a package above this one
        (the retention purge). It runs where the scheduler runs: with ``scheduler.enabled``, in
        the one process that leads (on PostgreSQL, the routing leader)."""
        self._daily[job_id] = (at, job)
        if self._aps is not None:
            self._daily_job(job_id, at, job)

    def every(self, job_id: str, seconds: float, job: Callable[[], Awaitable[Any]]) -> None:
        """Run ``job`` every ``seconds``, the first time one interval after the scheduler
        starts (the breach alerts, ``scheduler.alerts``: on start every expert is offline until
        their desk reconnects, within ``routing.desk_grace_s``, and a forecast made then would
        see nobody on duty); like ``every_day``, only where the scheduler runs. A run still
        going when the next is due makes that one wait (coalesced)."""
        self._every[job_id] = (seconds, job)
        if self._aps is not None:
            self._interval_job(job_id, seconds, job)

    def _interval_job(self, job_id: str, seconds: float,
                      job: Callable[[], Awaitable[Any]]) -> None:
        assert self._aps is not None
        self._aps.add_job(job, "interval", seconds=seconds, id=job_id, coalesce=True,
                          misfire_grace_time=None, max_instances=1, replace_existing=True,
                          next_run_time=datetime.now(UTC) + timedelta(seconds=seconds))

    def _daily_job(self, job_id: str, at: str, job: Callable[[], Awaitable[Any]]) -> None:
        assert self._aps is not None
        hour, minute = (int(x) for x in at.split(":"))
        self._aps.add_job(job, "cron", hour=hour, minute=minute, timezone=LONDON, id=job_id,
                          coalesce=True, misfire_grace_time=None, max_instances=1,
                          replace_existing=True)

    def _date_job(self, job_id: str, at: datetime, fn: Callable[[], Any]) -> None:
        assert self._aps is not None
        self._aps.add_job(fn, "date", run_date=at, id=job_id, replace_existing=True,
                          misfire_grace_time=None, coalesce=True)

    async def _boundary(self) -> None:
        """At a shift boundary: reconcile, then plan the boundaries of the next 24 h."""
        await self.reconcile_now()
        await self.rebuild_jobs()

    async def _safety_net(self) -> None:
        await self.reconcile_now()
        await self.run_due_callbacks()

    # -- reconciliation -----------------------------------------------------------------------
    async def _rota(self, session: AsyncSession) -> tuple[list[Any], list[Any]]:
        rows = await store.all_patterns(session)
        zones = await store.zones(session)
        return reconcile.rota_of([r for r in rows if r["expert_id"] in zones], zones)

    async def picture(self) -> tuple[dict[str, Any], frozenset[str]]:
        async with self._sessions() as session:
            patterns, absences = await self._rota(session)
        minutes = self._config.scheduler.no_voice_offer_last_min
        return reconcile.picture(patterns, absences, self._clock(), minutes)

    async def reconcile_now(self) -> bool:
        """Apply the rota picture now; False when the engine is not there yet."""
        port = self._availability()
        if port is None:
            return False
        on_shift, rostered = await self.picture()
        await port.apply_rota(on_shift, rostered)
        return True

    # -- scheduled callbacks ------------------------------------------------------------------
    async def book_callback(self, *, number: str, skill: str, language: str, due_at: float,
                            org: str | None, ref: str) -> str:
        """A citizen's own booking (out of hours, on ``org``'s line): a pending callback due
        at ``due_at`` (epoch seconds), submitted then on the same line. Idempotent on ``ref``
        (the call or chat it was booked in). Returns its id."""
        callback_id = "scb-" + uuid.uuid5(uuid.NAMESPACE_URL, f"booked:{ref}").hex[:12]
        async with self._sessions() as session, session.begin():
            if await store.get_callback(session, callback_id=callback_id) is not None:
                return callback_id
            session.add(ScheduledCallbackRow(id=callback_id, number=number, skill=skill,
                                             language=language, due_at=due_at,
                                             created_by=LINE + (org or "")))
        log.info("scheduled callback %s booked for %s on %s line", callback_id, skill,
                 f"{org}'s" if org else "the national")
        await self.rebuild_jobs()
        return callback_id

    async def run_due_callbacks(self) -> list[str]:
        """Submit every pending callback that is due; the ids submitted this time."""
        port = self._routing()
        if port is None:
            return []
        async with self._lock:
            due_by = self._clock().timestamp()
            async with self._sessions() as session:
                due = [r.id for r in await store.callbacks(session, state="pending",
                                                           due_by=due_by)]
            return [cid for cid in due if await self._submit(port, cid)]

    async def _submit(self, port: RoutingPort, callback_id: str) -> bool:
        async with self._sessions() as session, session.begin():
            row = await store.get_callback(session, callback_id=callback_id)
            if row is None or row.state != "pending":
                return False
            org = line_of(row.created_by)
            request = ContactRequest(channel=Channel.VOICE, medium=Medium.PHONE, skill=row.skill,
                                     language=row.language, address=row.number,
                                     external_ref=f"scheduled-callback:{row.id}", org=org,
                                     priority=self._line_priority(org, row.skill))
            try:
                ticket = await port.submit(request)
                await port.convert_to_callback(ticket.contact_id, number=row.number)
            except DomainError as exc:
                row.state, row.error = "failed", exc.message[:200]
                log.warning("scheduled callback %s failed: %s", row.id, exc.message)
                return False
            row.state, row.contact_id = "submitted", ticket.contact_id
            row.submitted_at = self._clock().timestamp()
            return True

    def _line_priority(self, org: str | None, skill: str) -> int:
        rules = self._config.local.get(org) if org is not None else None
        return 0 if rules is None or org is None else effective(org, rules, skill).priority

    # -- the daily report ---------------------------------------------------------------------
    async def run_daily_report(self, day: date | None = None) -> dict[str, Any]:
        """Summarise ``day`` (default yesterday, London) into ``daily_report``; rerunning it
        rewrites the same row."""
        day = day or self.today() - timedelta(days=1)
        start = datetime.combine(day, datetime.min.time(), LONDON).timestamp()
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), LONDON).timestamp()
        staffing = self._config.staffing
        async with self._sessions() as session, session.begin():
            rows = await store.contacts_between(session, start=start, end=end)
            promises = {s: (staffing.target_of(s), staffing.level_of(s)) for s in staffing.skills}
            summary = {"date": day.isoformat(), **report.summarise(
                rows, target_s=staffing.target_s, service_level_target=staffing.service_level,
                promises=promises)}
            await store.put_report(session, day=day, summary=summary)
        return summary
