"""WebSockets that last no longer than the sign-in they were opened with.

The auth middleware puts a ``Credential`` on every request it lets in: ``key`` names the secret
the request presented (``session:<sha256>`` for a browser's session cookie, ``token:<sha256>``
for an API token; never the secret itself) and ``check`` asks the database whether that secret
still works. A socket handler holds its socket with ``held(request, ws)`` for as long as it
serves it, in the application's ``OpenSockets`` (``OPEN_SOCKETS``) under that key. Then:

* ``OpenSockets.end(key, why)`` closes every socket held under the key at once: what sign-out
  (and revoking a token through the API) does in the process that handled it;
* ``OpenSockets.check()``, run every ``every_s`` (``EVERY_S``, 30 s) by ``OpenSockets.run``,
  asks once per key held and closes the sockets of every key that no longer works: a session
  that expired or went idle, or one ended or a token revoked by another process (another
  server on the same PostgreSQL database, the ``expertline token revoke`` command). A check
  that cannot reach the database closes nothing; the next one asks again.

A socket closed for either reason ends with code ``CLOSE_CODE`` (4401) and the reason in
words ("signed out", "session expired", "token revoked"); the desk and the wallboard then
reload, and the page asks the person to sign in. The handler may call the function ``held``
yields whenever the socket carried an action of its user (a desk's status change, a message):
the next check then counts that as use of the session, as a request would, so an expert at
work over their desk is not taken for idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

from aiohttp import web

log = logging.getLogger("base.socket_auth")
CLOSE_CODE = 4401
EVERY_S = 30.0
MAX_REASON = 123  # bytes: what a WebSocket close frame may carry

Check = Callable[[bool], Awaitable[str | None]]
"""``check(used)``: None while the credential works, else why not (a few words). ``used``: the
sockets held under it carried their user's actions since the last check."""


@dataclass(frozen=True, slots=True)
class Credential:
    """What a request signed in with: ``key`` names it, ``check`` asks whether it still works."""

    key: str
    check: Check


CREDENTIAL = web.RequestKey("base.credential", Credential)


class OpenSockets:
    """The WebSockets this process serves, by the credential each was opened with."""

    def __init__(self, every_s: float = EVERY_S,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.every_s = every_s
        self._sleep = sleep
        self._held: dict[str, set[web.WebSocketResponse]] = {}
        self._checks: dict[str, Check] = {}
        self._used: set[str] = set()
        self._closing: set[asyncio.Future[bool]] = set()

    def count(self, key: str) -> int:
        """How many sockets are held under ``key``."""
        return len(self._held.get(key, ()))

    @contextlib.contextmanager
    def holding(self, credential: Credential,
                ws: web.WebSocketResponse) -> Iterator[Callable[[], None]]:
        """Hold ``ws`` under ``credential`` until the block ends; yields the function that
        marks the credential used."""
        key = credential.key
        sockets = self._held.setdefault(key, set())
        sockets.add(ws)
        self._checks[key] = credential.check
        try:
            yield lambda: self._used.add(key)
        finally:
            sockets.discard(ws)
            if not sockets and self._held.get(key) is sockets:
                del self._held[key]
                self._checks.pop(key, None)
                self._used.discard(key)

    def end(self, key: str, why: str = "signed out") -> int:
        """Close every socket held under ``key`` (code ``CLOSE_CODE``, ``why`` as the reason),
        without waiting for their desks to answer; how many there were."""
        sockets = list(self._held.get(key, ()))
        reason = why.encode("utf-8")[:MAX_REASON]
        for ws in sockets:
            closing = asyncio.ensure_future(ws.close(code=CLOSE_CODE, message=reason))
            self._closing.add(closing)
            closing.add_done_callback(self._closed)
        if sockets:
            log.info("closed %d socket(s) of %s…: %s", len(sockets), key[:20], why)
        return len(sockets)

    def _closed(self, closing: asyncio.Future[bool]) -> None:
        self._closing.discard(closing)
        if not closing.cancelled() and closing.exception() is not None:
            log.debug("a socket did not close cleanly: %r", closing.exception())

    async def check(self) -> int:
        """Ask once per key held whether it still works; close the sockets of those that do
        not. How many sockets were closed."""
        closed = 0
        for key, check in list(self._checks.items()):
            used = key in self._used
            self._used.discard(key)
            try:
                why = await check(used)
            except Exception:  # the database did not answer: close nothing, ask again later
                log.warning("could not check the sign-in of %d socket(s); keeping them open",
                            self.count(key), exc_info=True)
                if used:
                    self._used.add(key)
                continue
            if why is not None:
                closed += self.end(key, why)
        return closed

    async def run(self) -> None:
        """``check`` every ``every_s``, until cancelled."""
        while True:
            await self._sleep(self.every_s)
            await self.check()


OPEN_SOCKETS = web.AppKey("base.open_sockets", OpenSockets)


def _unused() -> None:
    return None


@contextlib.contextmanager
def held(request: web.Request, ws: web.WebSocketResponse) -> Iterator[Callable[[], None]]:
    """Hold ``ws`` in the application's ``OpenSockets`` under the credential the request
    signed in with, while the block runs (nothing to hold without either); yields the function
    that marks the credential used."""
    sockets, credential = request.app.get(OPEN_SOCKETS), request.get(CREDENTIAL)
    if sockets is None or credential is None:
        yield _unused
        return
    with sockets.holding(credential, ws) as used:
        yield used


async def keep_checking(app: web.Application) -> AsyncIterator[None]:
    """A cleanup context: ``OPEN_SOCKETS``'s ``run`` while the application serves."""
    task = asyncio.create_task(app[OPEN_SOCKETS].run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
