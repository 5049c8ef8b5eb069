"""``expertline serve``: one process on SQLite, or one of several on one PostgreSQL database.

On SQLite the process serves the whole application until it is stopped: it is the only one.

On PostgreSQL every process takes part in the routing lease (``router.lease``). The one that
holds it *leads*: it runs the whole application (routing core, watchdog, scheduler, webhooks,
API, pages, WebSockets) fenced by its epoch, renews the lease every ``cluster.renew_every_s``,
and answers ``/healthz`` with ``{"status": "ok", "role": "leader", "epoch": N}``. Every other
process *follows*: it takes any request and relays it to the leader (``expertline.relay``),
answering ``{"status": "ok", "role": "follower", "epoch": N}``, or 503 ``"standby"`` while no
live leader is known. A follower looks every ``cluster.standby_poll_s`` whether the lease has
lapsed and, if so, takes it and leads.

A leader steps down, back to following, when a renewal finds the lease taken, when it could
not renew for a whole lease (by its own monotonic clock), or when a routing commit finds a
newer epoch. On SIGTERM or SIGINT it stops serving, then lets its lease expire at once so
another process takes over without waiting it out.

The listening sockets are bound once, before anything else (a busy port fails fast); each
phase serves on duplicates of them, so connections arriving between two phases wait in the
kernel's backlog instead of being refused.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from base.config import Config
from base.db import Database, Guard
from base.errors import NotLeader
from base.http import database_down
from expertline import schema
from expertline.relay import Leader, LeaderView, follower_app
from router.lease import Deposed, Fence, Lease

log = logging.getLogger("expertline.serving")
ACCESS_LOG_FORMAT = '%a "%r" %s %b %Tfs'
SHUTDOWN_TIMEOUT_S = 5.0  # open WebSockets are closed after this; desks and chats reconnect
FOLLOWER_SHUTDOWN_S = 1.0  # a follower that takes the lease drops its relayed sockets quickly


@dataclass(frozen=True, slots=True)
class Leadership:
    """The routing epoch this process leads in (None on SQLite, where there is no lease) and
    what to call when a fenced write finds that another process leads now."""

    epoch: int | None
    deposed: Callable[[], None]
    relay_secret: str = ""  # followers prove with it that a request was relayed by them

    def health(self) -> dict[str, object]:
        return {"status": "ok", "role": "leader", "epoch": self.epoch}

    @property
    def fence(self) -> Fence | None:
        """What every routing commit checks (none on SQLite, where there is no lease)."""
        return None if self.epoch is None else Fence(self.epoch)

    def guard(self) -> Guard | None:
        """For writes that only the leader makes outside the routing engine (phone bridges):
        the same fence as a routing commit, in the write's own transaction. A deposed leader
        gets ``NotLeader`` and steps down."""
        fence, deposed = self.fence, self.deposed
        if fence is None:
            return None

        async def fenced(session: AsyncSession) -> None:
            try:
                await fence.check(await session.connection())
            except Deposed:
                deposed()
                raise NotLeader("another process leads routing now") from None

        return fenced


ALONE = Leadership(None, lambda: None)

AppFactory = Callable[[Leadership], web.Application]


async def serve(config: Config, socks: list[socket.socket], app: AppFactory,
                announce: Callable[[], None]) -> None:
    """Serve until SIGINT or SIGTERM. ``app(leadership)`` makes the whole application;
    ``announce()`` is called each time it is serving on every socket."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if Database(config.database_url).dialect != "postgresql":
        runner = await _start(app(ALONE), socks)
        announce()
        await stop.wait()
        await runner.cleanup()
        return
    database = schema.database(config.database_url, echo=config.database.echo)
    await database.open()
    try:
        lease = Lease(database, holder=_holder(socks), ttl_s=config.cluster.lease_ttl_s,
                      address=advertised(config, socks))
        await Member(config, lease, socks, app, announce).run(stop)
    finally:
        await database.close()


def advertised(config: Config, socks: list[socket.socket]) -> str:
    """Where the other processes relay requests to this one when it leads."""
    if config.cluster.advertise_url:
        return config.cluster.advertise_url.rstrip("/")
    host = config.server.host
    if host in ("", "0.0.0.0", "::"):
        host = socket.getfqdn()
    port = socks[0].getsockname()[1] if socks else config.server.port
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _holder(socks: list[socket.socket]) -> str:
    port = socks[0].getsockname()[1] if socks else 0
    return f"{socket.gethostname()}:{os.getpid()}:{port}"


async def _start(app: web.Application, socks: list[socket.socket], *,
                 shutdown_timeout_s: float = SHUTDOWN_TIMEOUT_S) -> web.AppRunner:
    runner = web.AppRunner(app, access_log_format=ACCESS_LOG_FORMAT,
                           shutdown_timeout=shutdown_timeout_s)
    await runner.setup()
    try:
        for sock in socks:
            await web.SockSite(runner, sock.dup()).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


@dataclass(frozen=True, slots=True)
class Term:
    """One spell as leader: its epoch, the event set when it is over, the renewal task."""

    epoch: int
    lost: asyncio.Event
    renewal: asyncio.Future[None]


class Member:
    """One process of a cluster: a follower until it takes the lease, then leader until it
    loses it or is stopped (see the module docstring)."""

    def __init__(self, config: Config, lease: Lease, socks: list[socket.socket],
                 app: AppFactory, announce: Callable[[], None]) -> None:
        self.full = config
        self.config = config.cluster
        self.lease = lease
        self.socks = socks
        self.app = app
        self.announce = announce
        self._database_down = False

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            term = await self._follow(stop)
            if term is not None:
                await self._lead(term, stop)

    async def _follow(self, stop: asyncio.Event) -> Term | None:
        """Serve as a follower, relaying to the leader, until this process takes the lease
        or stops. The lease is renewed from the moment it is taken: winding the follower
        down and starting the application may take longer than a lease."""
        view = LeaderView()
        view.refresh = lambda: self._look(view)
        app = follower_app(view, max_body_bytes=self.full.server.max_body_bytes)
        runner = await _start(app, self.socks, shutdown_timeout_s=FOLLOWER_SHUTDOWN_S)
        log.info("following: another process leads routing; taking over if its lease lapses")
        try:
            while not stop.is_set():
                epoch = await self._try_acquire()
                if epoch is not None:
                    log.info("took the routing lease: this process leads routing (epoch %d)",
                             epoch)
                    lost = asyncio.Event()
                    return Term(epoch, lost, asyncio.ensure_future(self._renew(epoch, lost)))
                await self._look(view)
                await _wait(stop, self.config.standby_poll_s)
            return None
        finally:
            await runner.cleanup()

    async def _look(self, view: LeaderView) -> None:
        try:
            holder = await self.lease.current()
        except Exception:
            holder = None
        if holder is None or not holder.live or not holder.address:
            view.leader = None
        else:
            view.leader = Leader(holder.epoch, holder.address, holder.secret)
        if holder is not None:
            view.epoch = holder.epoch

    async def _try_acquire(self) -> int | None:
        """The new epoch if this process took the lease. An unreachable database is logged
        when it goes and when it comes back, not at every look."""
        try:
            epoch = await self.lease.acquire()
        except Exception as exc:
            if not self._database_down:
                log.warning("cannot reach the database to look at the routing lease (%s); "
                            "looking again every %g s", type(exc).__name__,
                            self.config.standby_poll_s)
            self._database_down = True
            return None
        if self._database_down:
            log.info("the database answers again")
            self._database_down = False
        return epoch

    async def _lead(self, term: Term, stop: asyncio.Event) -> None:
        epoch, lost, renewal = term.epoch, term.lost, term.renewal
        try:
            leadership = Leadership(epoch, lost.set, self.lease.secret)
            runner = await _start(self.app(leadership), self.socks)
        except Deposed:
            log.warning("deposed while starting (epoch %d): back to following", epoch)
            renewal.cancel()
            return
        except BaseException as exc:
            renewal.cancel()
            await self._release(epoch)
            if isinstance(exc, Exception) and database_down(exc):
                # the database went away as this process began to lead: follow, and try
                # again when it is back (a cluster outlives a database failover)
                log.warning("lost the database while starting to lead (epoch %d, %s): back "
                            "to following", epoch, type(exc).__name__)
                return
            raise
        self.announce()
        ends: list[asyncio.Future[Any]] = [asyncio.ensure_future(stop.wait()),
                                           asyncio.ensure_future(lost.wait()), renewal]
        await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
        for end in ends:
            end.cancel()
        await runner.cleanup()
        if stop.is_set() and not lost.is_set():
            await self._release(epoch)
        else:
            log.warning("stepped down: another process leads routing now (epoch %d is over)",
                        epoch)

    async def _renew(self, epoch: int, lost: asyncio.Event) -> None:
        """Renew until the lease is found taken, or could not be renewed for a whole lease
        (by this process's own monotonic clock, since it may have been paused)."""
        renewed_at = time.monotonic()
        ttl = self.lease.ttl_s
        while not lost.is_set():
            await _wait(lost, self.config.renew_every_s)
            asked_at = time.monotonic()
            try:
                async with asyncio.timeout(ttl / 2):
                    ours = await self.lease.renew(epoch)
            except Exception as exc:
                log.warning("could not renew the routing lease (%s)", type(exc).__name__)
                if time.monotonic() - renewed_at < ttl:
                    continue
                log.error("the routing lease was not renewed for %.1f s: it may have lapsed",
                          time.monotonic() - renewed_at)
                ours = False
            if not ours:
                lost.set()
                return
            renewed_at = asked_at

    async def _release(self, epoch: int) -> None:
        try:
            await self.lease.release(epoch)
            log.info("released the routing lease (epoch %d)", epoch)
        except Exception as exc:
            log.warning("could not release the routing lease (%s); it lapses by itself",
                        type(exc).__name__)


async def _wait(event: asyncio.Event, seconds: float) -> None:
    """Wait ``seconds``, or less if ``event`` is set meanwhile."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        pass
