"""``expertline serve``: one process on SQLite, or one of several on one PostgreSQL database.

On SQLite the process serves the whole application until it is stopped: it is the only one.

On PostgreSQL every process takes part in the routing lease (``router.lease``). A process that
does not hold it is on *standby*: ``GET /healthz`` answers 503 ``{"status": "standby",
"role": "follower", "epoch": N}`` (N the current leader's epoch) and every other request 503
``not_leader`` with ``Retry-After``, so a load balancer that checks ``/healthz`` sends it
nothing. It looks every ``cluster.standby_poll_s`` whether the lease has lapsed; when it takes
the lease it starts the whole application (routing core, watchdog, scheduler, webhooks, API,
pages) fenced by its new epoch, renews the lease every ``cluster.renew_every_s``, and answers
``{"status": "ok", "role": "leader", "epoch": N}``. It steps down, back to standby, when a
renewal finds the lease taken, when it could not renew for a whole lease (its own monotonic
clock), or when a routing commit finds a newer epoch. On SIGTERM or SIGINT it stops serving,
then lets its lease expire at once so another process takes over without waiting it out.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

from base.config import Config
from base.db import Database
from base.http import error_middleware, json_response
from expertline import schema
from router.lease import Deposed, Lease

log = logging.getLogger("expertline.serving")
ACCESS_LOG_FORMAT = '%a "%r" %s %b %Tfs'
SHUTDOWN_TIMEOUT_S = 5.0  # open WebSockets are closed after this; desks and chats reconnect
RETRY_AFTER_S = 1


@dataclass(frozen=True, slots=True)
class Leadership:
    """The routing epoch this process leads in (None on SQLite, where there is no lease) and
    what to call when a fenced write finds that another process leads now."""

    epoch: int | None
    deposed: Callable[[], None]

    def health(self) -> dict[str, object]:
        return {"status": "ok", "role": "leader", "epoch": self.epoch}


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
        lease = Lease(database, holder=_holder(socks), ttl_s=config.cluster.lease_ttl_s)
        await Member(config, lease, socks, app, announce).run(stop)
    finally:
        await database.close()


def _holder(socks: list[socket.socket]) -> str:
    port = socks[0].getsockname()[1] if socks else 0
    return f"{socket.gethostname()}:{os.getpid()}:{port}"


async def _start(app: web.Application, socks: list[socket.socket]) -> web.AppRunner:
    runner = web.AppRunner(app, access_log_format=ACCESS_LOG_FORMAT,
                           shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    try:
        for sock in socks:
            await web.SockSite(runner, sock.dup()).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


class Member:
    """One process of a cluster: standby until it takes the lease, then leader until it
    loses it or is stopped (see the module docstring)."""

    def __init__(self, config: Config, lease: Lease, socks: list[socket.socket],
                 app: AppFactory, announce: Callable[[], None]) -> None:
        self.config = config.cluster
        self.lease = lease
        self.socks = socks
        self.app = app
        self.announce = announce

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            epoch = await self._standby(stop)
            if epoch is not None:
                await self._lead(epoch, stop)

    async def _standby(self, stop: asyncio.Event) -> int | None:
        """Serve the standby app until this process takes the lease (its epoch) or stops."""
        runner = await _start(standby_app(self.lease), self.socks)
        log.info("standby: another process leads routing; taking over when its lease lapses")
        try:
            while not stop.is_set():
                epoch = await self._try_acquire()
                if epoch is not None:
                    return epoch
                await _wait(stop, self.config.standby_poll_s)
            return None
        finally:
            await runner.cleanup()

    async def _try_acquire(self) -> int | None:
        try:
            return await self.lease.acquire()
        except Exception as exc:
            log.warning("could not reach the database to look at the routing lease (%s)",
                        type(exc).__name__)
            return None

    async def _lead(self, epoch: int, stop: asyncio.Event) -> None:
        log.info("took the routing lease: this process leads routing (epoch %d)", epoch)
        lost = asyncio.Event()
        renewal = asyncio.ensure_future(self._renew(epoch, lost))
        try:
            runner = await _start(self.app(Leadership(epoch, lost.set)), self.socks)
        except Deposed:
            log.warning("deposed while starting (epoch %d): back to standby", epoch)
            renewal.cancel()
            return
        except BaseException:
            renewal.cancel()
            await self._release(epoch)
            raise
        self.announce()
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait([stopped, asyncio.ensure_future(lost.wait()), renewal],
                           return_when=asyncio.FIRST_COMPLETED)
        renewal.cancel()
        stopped.cancel()
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


def standby_app(lease: Lease) -> web.Application:
    """What a process that does not lead serves: 503 everywhere, and on ``/healthz`` who
    leads (the epoch) so an operator sees the cluster from any process."""

    async def healthz(_request: web.Request) -> web.Response:
        try:
            holder = await lease.current()
        except Exception:
            holder = None
        body = {"status": "standby", "role": "follower",
                "epoch": None if holder is None else holder.epoch}
        return _unavailable(body)

    async def elsewhere(_request: web.Request) -> web.Response:
        return _unavailable({"error": {
            "code": "not_leader",
            "message": "this process is on standby; another one serves: try again"}})

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/healthz", healthz)
    app.router.add_route("*", "/{tail:.*}", elsewhere)
    return app


def _unavailable(body: Mapping[str, object]) -> web.Response:
    response = json_response(body, status=503)
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response
