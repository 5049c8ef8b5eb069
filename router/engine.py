"""The routing engine: the async shell around the pure core (docs/architecture.md).

It owns the clock and the timers, feeds events to ``RoutingCore`` one at a time (a lock), commits
every transition to the database before it announces anything, many steps per transaction
(``router.commits``: the lock is not held while the disk flushes), and tells the channels
(``router.ports.RoutingPort``, see ``router.channels``) and the expert desks (``router.desk``)
what happened, in the order it happened. On ``start`` it rebuilds the core from the database:
no contact is lost, no offer is made twice, and experts come back offline until they reconnect.

Timers: the core's own (offer expiry, wrap-up, escalation) plus the engine's (desk grace, the
watchdog). ``tick()`` runs whatever is due on the injected clock; with ``autotimers`` (the
default) the event loop calls it at the next deadline. Tests inject a clock and call ``tick``.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from base.config import Config
from base.db import Database
from base.errors import NotLeader, Unavailable
from base.metrics import Metrics
from router import commands as cmd
from router import events as ev
from router.batch import Batch
from router.channels import ChannelPort
from router.commits import CommitFailed, GroupCommit
from router.core import RoutingCore
from router.desk import DeskActions
from router.estimate import WaitEstimator
from router.floor import read_floor
from router.lease import Fence
from router.live import Later, LiveContact, News, Translator
from router.model import (
    Channel,
    ExpertProfile,
    Pool,
    Presence,
    RoutingConfig,
)
from router.pool_view import Capacity, pool_of, profile_of
from router.ports import Assigned, ExpertEndpoint, Floor, Listener, OnShift, ShownExpert
from router.rebuild import disagreements, live_contacts, snapshot_of
from router.store import Live, Store
from router.supervision import Supervision
from skills.graph import SkillGraph, TriageMatch
from skills.snapshot import (
    ExpertRecord,
    PoolSnapshot,
    load_experts,
    load_snapshot,
    load_specs,
)
from skills.watch import PoolChange, PoolWatch

log = logging.getLogger("router.engine")
WATCHDOG = "watchdog"
GRACE = "grace:"


def _new_id(kind: str) -> str:
    return f"{kind}-{secrets.token_hex(6)}"


class Engine(ChannelPort, DeskActions, Supervision):
    """See the module docstring. ``clock`` returns epoch seconds."""

    def __init__(self, database: Database, config: Config, *,
                 clock: Callable[[], float] = time.time, autotimers: bool = True,
                 watch: PoolWatch | None = None, fence: Fence | None = None,
                 on_deposed: Callable[[], None] | None = None,
                 metrics: Metrics | None = None) -> None:
        self.config = config
        self.store = Store(database, fence=fence)
        self._on_deposed = on_deposed  # told once when a fenced commit finds a newer leader
        self.routing_config = RoutingConfig.from_settings(
            config.routing, target_s=config.staffing.target_s,
            targets=tuple((skill, config.staffing.target_of(skill))
                          for skill in config.staffing.skills))
        self.capacity = Capacity(config.routing.voice_capacity, config.routing.chat_capacity)
        self.clock = clock
        self.autotimers = autotimers
        self.watch = watch
        self.core = RoutingCore(self.routing_config, ids=_new_id)
        self._routing_pool: Pool | None = None
        self._stale = False  # a step failed to save: rebuild from the database before the next
        self._lock = asyncio.Lock()  # the core: one event at a time (never across a commit)
        self.metrics = metrics if metrics is not None else Metrics()  # decisions, commits
        self._pipeline = GroupCommit(self.store.commit_many, self._publish, self._commit_failed,
                                     observe=self.metrics.commit_seconds.observe)
        # orders a chat's transcript lines with its desk's session event (see _push_session)
        self._chat_lock = asyncio.Lock()
        self._announced: set[str] = set()  # sessions whose desk event has been pushed
        self._arrivals: dict[str, asyncio.Future[None]] = {}  # contacts not yet saved
        # experts available before a restart: available again if their desk is back in time
        self._resumable: dict[str, float] = {}
        self._live: dict[str, LiveContact] = {}
        self._refs: dict[str, str] = {}
        self._seq = 0
        self._records: dict[str, ExpertRecord] = {}
        self._skills: frozenset[str] = frozenset()
        self.graph: SkillGraph | None = None
        self._listeners: list[Listener] = []
        self._watchers: list[Callable[[], None]] = []  # told after every published step
        self._desks: dict[str, list[Callable[[dict[str, Any]], None]]] = {}
        self._desired: dict[str, Presence] = {}
        self._away_reason: dict[str, str] = {}  # the expert's own reason for being away
        self._takes: dict[str, frozenset[Channel]] = {}  # channels, when not all
        self._rota: tuple[Mapping[str, OnShift], frozenset[str]] | None = None
        self._timers: dict[str, float] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._handle_at: float | None = None
        self._session_started: dict[str, float] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._relay_refs: dict[str, None] = {}
        self.waits = WaitEstimator()  # what waiting citizens are told, kept honest
        self._told: dict[str, float] = {}  # contact -> the first wait it was told
        self._unsubscribe: Callable[[], None] | None = None
        # pool reloads run one at a time, in the order the changes came: a quick one-expert
        # reload must not apply before a slower whole reload that read the database earlier
        self._reloading = asyncio.Lock()
        self._translator = Translator(self._live, presence=self._desired,
                                      endpoint=self.endpoint, shown=self.shown,
                                      forget=self._forget)
        self.started = False

    def __repr__(self) -> str:
        return f"<Engine live={len(self._live)} experts={len(self._records)} {self.core!r}>"

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Load the pool, rebuild the core from the database, arm the timers. Every expert
        starts offline; who was available may resume when their desk reconnects."""
        now = self.clock()
        await self._load_pool(now)
        until = now + self.config.routing.desk_grace_s
        self._resumable = {e: until for e in await self.store.all_offline(now)}
        live = await self.store.load_live()
        async with self._lock:
            await self._restore(live, now)
        for seconds in reversed(await self.store.handle_times()):  # oldest first
            self.waits.note_handle(seconds)
        self._timers[WATCHDOG] = now + self.config.routing.watchdog_every_s
        self._arm()
        if self.watch is not None:
            self._unsubscribe = self.watch.subscribe(self._on_pool_change)
        self.started = True
        log.info("routing engine started: %d live contacts, %d pending offers, %d sessions, "
                 "%d experts", len(live.contacts), len(live.offers), len(live.sessions),
                 len(self._records))

    async def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        await self._pipeline.close()
        if self._handle is not None:
            self._handle.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.started = False

    async def _load_pool(self, now: float) -> None:
        pool, routing_pool = await self._read_pool(now)
        self._adopt(pool)
        self._routing_pool = routing_pool
        self.core.handle(ev.PoolChanged(routing_pool), now)

    async def _restore(self, live: Live, now: float) -> None:
        """Load the database's live state into the (fresh) core: contacts at their places,
        pending offers and sessions as they were, experts offline (the caller holds the lock)."""
        self._seq = live.max_seq
        self._live.clear()
        self._refs.clear()
        for contact in live_contacts(live):
            self._remember(contact)
        profiles = tuple(self._profile(r) for r in self._records.values() if r.active)
        await self._save_now(self.core.restore(snapshot_of(live, profiles), now), now)
        self._session_started.update({s.id: s.started_at for s in live.sessions})
        # their desks hear of them in their hello, and their chats' lines are pushed live
        self._announced.update(s.id for s in live.sessions)

    def _adopt(self, pool: PoolSnapshot) -> None:
        """Take a whole pool's records and graph as the engine's own."""
        self._records = dict(pool.experts)
        self._skills = frozenset(pool.graph)
        self.graph = pool.graph

    async def _read_pool(self, now: float) -> tuple[PoolSnapshot, Pool]:
        """The whole pool and what the core needs of it. Building the skills graph and its
        substitutes table is CPU work of seconds at national scale: it runs in a worker
        thread, so webhooks and desks are served meanwhile."""
        today = datetime.fromtimestamp(now, UTC).date()
        async with self.store.db.session() as session:
            specs = await load_specs(session)
            graph = await asyncio.to_thread(SkillGraph.build, specs,
                                            taxonomy_cost=self.config.routing.taxonomy_cost)
            pool = await load_snapshot(session, today=today, graph=graph)
        return pool, await asyncio.to_thread(pool_of, pool, self.routing_config)

    # -- the one write path -------------------------------------------------------------------
    async def _step(self, event: ev.Event, *,
                    prepare: Callable[[Batch, News], None] | None = None) -> list[cmd.Command]:
        """Handle ``event`` at ``clock()``, then return once what it changed is committed and
        announced. The lock is held only while the core decides; the commit joins the next
        group (``router.commits``).

        A ``DomainError`` from the core's validation changes nothing and propagates."""
        async with self._lock:
            await self._fresh()
            now = self.clock()
            commands = self.core.handle(event, now)
            saved = self._commit(commands, now, prepare)
        await self._saved(saved)
        return commands

    def _commit(self, commands: list[cmd.Command], now: float,
                prepare: Callable[[Batch, News], None] | None = None) -> asyncio.Future[None]:
        """Translate the step and queue it for the next group commit (the caller holds the
        lock); the caller awaits ``_saved`` on the result once it has let the lock go."""
        batch, news = self._translate(commands, now, prepare)
        return self._pipeline.put(batch, news)

    async def _saved(self, saved: asyncio.Future[None]) -> None:
        """Wait for a queued step to be committed and announced. When its group could not be
        saved, the core is being rebuilt from the database (the two never disagree for
        long) and the caller gets a 503 to retry."""
        try:
            await asyncio.shield(saved)
        except CommitFailed:
            raise Unavailable("the routing engine could not save this change; try again"
                              ) from None

    def _translate(self, commands: list[cmd.Command], now: float,
                   prepare: Callable[[Batch, News], None] | None) -> tuple[Batch, News]:
        """What the step writes and what it announces; announcements carry each contact's
        view as the step left it."""
        batch, news = Batch(at=now), News()
        if prepare is not None:
            prepare(batch, news)
        self._translator.apply(commands, batch, news)
        news.announcements = [a.build() if isinstance(a, Later) else a
                              for a in news.announcements]
        return batch, news

    def _commit_failed(self, unsaved: Sequence[Batch]) -> None:
        """A group was not saved (or its outcome is unknown): the core, which has applied
        it and perhaps more, is rebuilt from the database before any further step. A leader
        that was deposed does not rebuild: it stops routing and says so (``on_deposed``)."""
        self._stale = True
        if self.store.deposed:
            self._step_down()
            return
        self._spawn(self._recover(list(unsaved)))

    def _step_down(self) -> None:
        epoch = self.store.fence.epoch if self.store.fence is not None else None
        log.warning("another process leads routing now (epoch %s is over): this one stops "
                    "routing", epoch)
        if self._on_deposed is not None:
            self._on_deposed()
            self._on_deposed = None

    async def _fresh(self) -> None:
        """Before a step: if an earlier step could not be saved, rebuild first (503 while the
        database stays unreachable, or for good once another process leads)."""
        if self.store.deposed:
            raise NotLeader("this process no longer leads routing; another one does: try again")
        if self._stale:
            try:
                await self._rebuild()
            except Exception:
                log.warning("the database is still unreachable; routing waits for it",
                            exc_info=True)
                raise Unavailable("the routing engine is waiting for its database; try "
                                  "again shortly") from None

    async def _recover(self, unsaved: list[Batch]) -> None:
        """Rebuild now if the database answers, otherwise before the next step or watchdog
        run. A session the lost group made that the database did keep (a connection lost
        during COMMIT) is announced now, so its citizen is still connected."""
        async with self._lock:
            if self._stale:
                try:
                    await self._rebuild()
                except Exception:
                    log.warning("could not rebuild the router from the database yet; will "
                                "retry", exc_info=True)
                    return
            await self._announce(self._kept_sessions(unsaved))

    @asynccontextmanager
    async def _quiet(self, *, fresh: bool = False) -> AsyncIterator[None]:
        """Hold the core with nothing in flight: every step so far is committed and announced,
        so the core and what desks were told agree; with ``fresh``, a core that could not
        save a step is rebuilt first, so it also agrees with the database (or 503)."""
        async with self._lock:
            await self._pipeline.idle()
            if fresh:
                await self._fresh()
            yield

    def _kept_sessions(self, unsaved: list[Batch]) -> News:
        news = News()
        for batch in unsaved:
            for made in batch.connected:
                contact = self._live.get(made.contact_id)
                if contact is None or self.core.session(made.session_id) is None:
                    continue
                waited = max(batch.at - contact.arrived_at, 0.0)
                news.announcements.append(Assigned(
                    contact.view(), self.endpoint(made.expert_id), waited,
                    self.shown(made.expert_id)))
        return news

    async def _rebuild(self) -> None:
        """Throw the core's state away and load it again from the database, as on a restart,
        then give each expert back the presence they asked for and tell every open desk what
        it now holds. Nothing half done survives: an offer or session the database does not
        have is gone, and one it has is live again (the caller holds the lock)."""
        await self._pipeline.idle()
        now = self.clock()
        live = await self.store.load_live()
        core = RoutingCore(self.routing_config, ids=_new_id)
        if self._routing_pool is not None:
            core.handle(ev.PoolChanged(self._routing_pool), now)
        self.core = core
        for key in [k for k in self._timers if k != WATCHDOG and not k.startswith(GRACE)]:
            del self._timers[key]
        await self._restore(live, now)
        for expert_id in sorted(self._desired):
            presence, reason = self.effective(expert_id)
            if presence is not Presence.OFFLINE and core.expert(expert_id) is not None:
                await self._save_now(
                    core.handle(ev.ExpertStatus(expert_id, presence, reason), now), now)
        self._stale = False
        self._arm()
        for expert_id in list(self._desks):
            hello = await self._hello(expert_id)
            for sink in list(self._desks.get(expert_id, ())):
                sink(hello)
        log.info("router rebuilt from the database: %d live contacts, %d pending offers, "
                 "%d sessions", len(live.contacts), len(live.offers), len(live.sessions))

    async def _save_now(self, commands: list[cmd.Command], now: float) -> None:
        """Commit and announce one step at once, outside the group commit: for restoring the
        core, when the caller holds the lock and nothing is in flight."""
        batch, news = self._translate(commands, now, None)
        started = time.perf_counter()
        try:
            await self.store.commit(batch)
        except Exception as exc:
            log.error("could not save a routing step (%s)", type(exc).__name__, exc_info=True)
            raise _NotSaved(batch) from exc
        if batch:  # one that writes nothing opens no transaction
            self.metrics.commit_seconds.observe(time.perf_counter() - started)
        await self._publish(batch, news)

    async def _publish(self, batch: Batch, news: News) -> None:
        """A committed step takes effect: its timers, its handle times, its news."""
        for timer in news.timers:
            self._set_timer(timer)
        self._note_handle_times(batch)
        self.metrics.decided(len(batch.offers), len(batch.decisions))
        for session_id in [s for s, _by, _d in batch.sessions_ended] + batch.sessions_failed:
            self._announced.discard(session_id)
        await self._announce(news)
        for watcher in list(self._watchers):
            watcher()

    async def _announce(self, news: News) -> None:
        """Push the desk events (a ``session`` event with the chat so far), then hand the
        announcements to the channels, which only queue their work."""
        for expert_id, event in news.desk:
            if event.get("type") == "session":
                await self._push_session(expert_id, event)
                continue
            for sink in list(self._desks.get(expert_id, ())):
                sink(event)
        for announcement in news.announcements:
            assert not isinstance(announcement, Later)  # built by _translate
            for listener in list(self._listeners):
                try:
                    await listener(announcement)
                except Exception:
                    log.exception("a channel failed to handle %s", type(announcement).__name__)

    async def _push_session(self, expert_id: str, event: dict[str, Any]) -> None:
        """A new session's desk event, with the chat so far. Under the chat lock, so every
        citizen line is either in it or pushed after it (``relay_to_expert``), never both."""
        async with self._chat_lock:
            self._announced.add(event["session_id"])
            if self._desks.get(expert_id):
                event = await self._with_chat(event)
            for sink in list(self._desks.get(expert_id, ())):
                sink(event)

    def _note_handle_times(self, batch: Batch) -> None:
        """Handle times, and how long each answered contact waited against what it was
        told, teach the wait estimates."""
        for session_id, _by, _distressing in batch.sessions_ended:
            started = self._session_started.pop(session_id, None)
            if started is not None:
                self.waits.note_handle(batch.at - started)
        for made in batch.connected:
            self._session_started[made.session_id] = batch.at
            told = self._told.pop(made.contact_id, None)
            contact = self._live.get(made.contact_id)
            if told is not None and contact is not None:
                self.waits.learn(told, batch.at - contact.arrived_at)

    # -- timers -------------------------------------------------------------------------------
    def _set_timer(self, timer: cmd.StartTimer | cmd.CancelTimer) -> None:
        if isinstance(timer, cmd.StartTimer):
            self._timers[timer.key] = timer.at
        else:
            self._timers.pop(timer.key, None)
        self._arm()

    def _arm(self) -> None:
        if not self.autotimers or not self._timers:
            return
        at = min(self._timers.values())
        if self._handle is not None:
            if self._handle_at == at:
                return
            self._handle.cancel()
        loop = asyncio.get_running_loop()
        self._handle_at = at
        # in a context of its own: not the request's that happened to arm it (its log id)
        self._handle = loop.call_later(max(at - self.clock(), 0.0), self._fire,
                                       context=contextvars.Context())

    def _fire(self) -> None:
        self._handle = None
        self._handle_at = None
        self._spawn(self.tick())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)

    def next_deadline(self) -> float | None:
        """When the next timer falls due (epoch seconds), or None."""
        return min(self._timers.values(), default=None)

    async def tick(self) -> None:
        """Run whatever is due at ``clock()``: desk graces, the watchdog, the core's timers.
        A failing part is logged and the rest still runs; the watchdog is always rescheduled,
        and a core timer whose step could not be saved is tried again at the next watchdog."""
        now = self.clock()
        due = [key for key, at in self._timers.items() if at <= now]
        for key in due:
            self._timers.pop(key, None)
        if WATCHDOG in due:
            self._timers[WATCHDOG] = now + self.config.routing.watchdog_every_s
        try:
            for key in due:
                if key.startswith(GRACE):
                    await self._safely(self._grace_over(key[len(GRACE):]), key)
                elif key == WATCHDOG:
                    await self._safely(self.watchdog(), key)
            await self._safely(self._step(ev.Tick()), "tick")
        finally:
            self._arm()

    async def _safely(self, work: Awaitable[Any], what: str) -> None:
        try:
            await work
        except Exception:
            log.warning("routing %s failed; it is retried at the next watchdog run", what,
                        exc_info=True)

    # -- the watchdog -------------------------------------------------------------------------
    async def watchdog(self) -> None:
        """Rebuild from the database if a step could not be saved, then end or re-queue
        whatever outlived its lease, with an audit record each."""
        if self._stale:
            async with self._lock:
                await self._fresh()
        routing = self.config.routing
        now = self.clock()
        offers, sessions = self.core.stale(now - routing.offer_lease_s,
                                           now - routing.session_lease_s)
        for offer_id in offers:
            await self._step(ev.OfferTimedOut(offer_id), prepare=_audited(
                "offer", offer_id, f"offer outlived its lease of {routing.offer_lease_s:g} s"))
        for session_id in sessions:
            found = self.core.session(session_id)
            if found is not None:
                await self._end(found[0], session_id, by="system",
                                reason=f"session outlived its lease of "
                                       f"{routing.session_lease_s:g} s",
                                audit=("system:watchdog", "watchdog"))

    # -- the rota (router.ports.AvailabilityPort) ------------------------------------------
    async def apply_rota(self, on_shift: Mapping[str, OnShift], rostered: frozenset[str]
                         ) -> None:
        old = self._rota
        self._rota = (dict(on_shift), frozenset(rostered))
        before_on, before_ros = old if old is not None else ({}, frozenset())
        touched = set(rostered) | set(before_ros)
        for expert_id in sorted(touched):
            if expert_id not in self._records:
                continue
            was, now_ = before_on.get(expert_id), on_shift.get(expert_id)
            changed_shift = (expert_id in before_ros) != (expert_id in rostered) or (
                (was is None) != (now_ is None))
            if (was and now_ and was.voice_ok != now_.voice_ok) or changed_shift or old is None:
                await self._refresh_expert(expert_id)

    def off_shift(self, expert_id: str) -> bool:
        if self._rota is None:
            return False
        on_shift, rostered = self._rota
        return expert_id in rostered and expert_id not in on_shift

    def _voice_ok(self, expert_id: str) -> bool:
        if self._rota is None:
            return True
        found = self._rota[0].get(expert_id)
        return found is None or found.voice_ok

    def effective(self, expert_id: str) -> tuple[Presence, str]:
        """What the expert asked for, limited by the rota."""
        desired = self._desired.get(expert_id, Presence.OFFLINE)
        if desired is Presence.AVAILABLE and self.off_shift(expert_id):
            return Presence.AWAY, "off shift"
        if desired is Presence.AWAY:
            return desired, self._away_reason.get(expert_id, "")
        return desired, ""

    async def _refresh_expert(self, expert_id: str) -> None:
        record = self._records[expert_id]
        profile = self._profile(record)
        if self.core.profile(expert_id) != profile:
            await self._step(ev.ProfileChanged(profile))
        presence, reason = self.effective(expert_id)
        view = self.core.expert(expert_id)
        if view is not None and (view.presence is not presence or view.reason != reason):
            await self._step(ev.ExpertStatus(expert_id, presence, reason))

    def _profile(self, record: ExpertRecord) -> ExpertProfile:
        if not record.active:
            return ExpertProfile(id=record.id, skills={}, org=record.org)
        profile = profile_of(record, self.capacity, voice_ok=self._voice_ok(record.id))
        takes = self._takes.get(record.id)
        if takes is None:
            return profile
        return replace(profile,
                       voice_capacity=profile.voice_capacity if Channel.VOICE in takes else 0,
                       chat_capacity=profile.chat_capacity if Channel.CHAT in takes else 0)

    # -- the pool changed ---------------------------------------------------------------------
    async def _on_pool_change(self, change: PoolChange) -> None:
        self._spawn(self._reload_pool(change))

    async def _reload_pool(self, change: PoolChange) -> None:
        """Bring the engine up to date with a committed pool change: the whole pool when the
        taxonomy or sharing agreements changed, otherwise only the experts the change names
        (one expert's edit must not stall routing while a national pool reloads)."""
        async with self._reloading:
            await self._reload(change)

    async def _reload(self, change: PoolChange) -> None:
        if change.graph or change.sharing or change.everything:
            pool, routing_pool = await self._read_pool(self.clock())
            before = self._records
            self._adopt(pool)
            await self._step(ev.PoolChanged(routing_pool))
            named = set(before) | set(self._records)
        else:
            today = datetime.fromtimestamp(self.clock(), UTC).date()
            async with self.store.db.session() as session:
                fresh = await load_experts(session, change.experts, today=today)
            before = {i: self._records.pop(i) for i in change.experts if i in self._records}
            self._records.update(fresh)  # one named but not found was deleted
            named = set(change.experts)
        await self._refresh_changed(before, sorted(named))

    async def _refresh_changed(self, before: dict[str, ExpertRecord],
                               expert_ids: list[str]) -> None:
        """Tell the core about every expert whose record differs from ``before``; one no
        longer in the database is kept as an inactive record with no skills."""
        for expert_id in expert_ids:
            record = self._records.get(expert_id)
            if record is None:
                if expert_id not in before:
                    continue  # named by the change, but never known and not in the database
                record = self._records[expert_id] = replace(before[expert_id], active=False,
                                                            skills={})
            if before.get(expert_id) != record:
                await self._refresh_expert(expert_id)

    async def disagreements(self) -> list[str]:
        """How the router and the database differ about live work, read together under the
        engine's lock with nothing in flight: empty when they agree. An operator's check,
        and the fault tests'."""
        async with self._quiet(fresh=True):
            live = await self.store.load_live()
            return disagreements(live, self.core.snapshot(), list(self._live.values()))

    def unservable(self, *, language: str, org: str | None,
                   accreditations: frozenset[str]) -> tuple[str, str] | None:
        """``(field, why)`` when no active expert in the pool could ever take a contact with
        these requirements (whatever their status or shift), else None. Hard constraints never
        relax, so such a contact would wait for ever."""
        active = [r for r in self._records.values() if r.active]
        if org is not None and not any(r.org == org for r in active):
            return "org", f"no active expert belongs to organisation {org!r}"
        if not any(language in r.languages for r in active):
            return "language", f"no expert in the pool speaks {language!r}"
        for kind in sorted(accreditations):
            if not any(kind in r.accreditations for r in active):
                return "accreditations", f"no expert in the pool holds {kind!r}"
        return None

    def triage(self, text: str) -> list[TriageMatch]:
        """The skills graph's triage of free text (what the IVR and chat use)."""
        return [] if self.graph is None else list(self.graph.triage(text))

    # -- helpers shared with the channel and desk mixins ---------------------------------------
    def endpoint(self, expert_id: str) -> ExpertEndpoint:
        record = self._records.get(expert_id)
        if record is None:
            return ExpertEndpoint(expert_id)
        return ExpertEndpoint(expert_id, phone=record.phone,
                              client_identity=record.client_identity,
                              sip_address=record.sip_address)

    def shown(self, expert_id: str) -> ShownExpert:
        """What a citizen may be told about the expert: only what the expert chose to show."""
        record = self._records.get(expert_id)
        if record is None:
            return ShownExpert()
        return ShownExpert(record.public_name, record.public_role, record.public_organisation)

    def _remember(self, contact: LiveContact) -> None:
        self._live[contact.id] = contact
        self._refs[contact.external_ref] = contact.id

    def _forget(self, contact: LiveContact) -> None:
        self._told.pop(contact.id, None)
        self._live.pop(contact.id, None)
        self._refs.pop(contact.external_ref, None)

    # -- the floor now (router.ports.FloorPort: the scheduler's breach alerts) ---------------
    def floor(self) -> Floor:
        return read_floor(self.core, self._records, self.clock())

    def related(self, skill: str, max_cost: float) -> tuple[str, ...]:
        graph = self.graph
        if graph is None or skill not in graph:
            return ()
        return tuple(other for other, _ in graph.substitutes(skill, max_cost) if other != skill)

    def knows_skill(self, skill: str) -> bool:
        """Whether the skills graph holds ``skill`` (what a new contact is checked against)."""
        return skill in self._skills

    def expert_org(self, expert_id: str) -> str | None:
        """The organisation of an expert in the pool, None when unknown."""
        record = self._records.get(expert_id)
        return None if record is None else record.org

    def experts_of(self, orgs: frozenset[str]) -> frozenset[str]:
        """The pool's experts of these organisations."""
        return frozenset(r.id for r in self._records.values() if r.org in orgs)

    def live_contacts(self) -> list[LiveContact]:
        """Contacts not yet finished, longest-waiting first."""
        return sorted(self._live.values(), key=lambda c: (c.arrived_at, c.seq))

    def watch_steps(self, watcher: Callable[[], None]) -> Callable[[], None]:
        """Call ``watcher()`` after every committed and announced step (the wallboard's
        cue to read the figures again); returns the function that stops it."""
        self._watchers.append(watcher)

        def stop() -> None:
            if watcher in self._watchers:
                self._watchers.remove(watcher)

        return stop

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe


def _audited(entity: str, entity_id: str, reason: str) -> Callable[[Batch, News], None]:
    def prepare(batch: Batch, _news: News) -> None:
        batch.audits.append({"actor": "system:watchdog", "action": "watchdog",
                             "entity": entity, "entity_id": entity_id,
                             "after": {"reason": reason}})
    return prepare


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("routing task failed", exc_info=task.exception())


class _NotSaved(Exception):
    """A step's batch did not commit (or its outcome is unknown)."""

    def __init__(self, batch: Batch) -> None:
        super().__init__("a routing step was not saved")
        self.batch = batch
