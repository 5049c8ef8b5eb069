"""Demo desks: with ``serve --demo`` in loopback mode, the demo experts sign in and answer.

Nobody staffs a demo, so without this a simulated call (``expertline call``) would wait forever.
Each active demo expert signs in available for calls; an offer is accepted after
``ACCEPT_AFTER_S``, and the session is completed after ``TALK_S`` (wrap-up then follows the
routing config). Chats are left to people: the experts in ``FOR_PEOPLE`` are not signed in at
all, so the person trying the demo signs in as one of them at ``/desk`` (``expertline
sign-in-link --expert exp-0332``) and answers the chats they start at ``/chat``.
Real deployments never run this: experts use the desk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from base.errors import DomainError
from router.context import engine_of
from router.engine import Engine

log = logging.getLogger("expertline.demo")
ACCEPT_AFTER_S = 3.0
# Left for a person: Nia Morgan (carers' support, Welsh and English), Rebecca Clarke (general
# advice, Welsh and English) and Michał Baran (carers' support, dementia, English and Polish),
# each with the role a citizen is shown beside their first name and organisation.
PUBLIC_ROLES = {"exp-0332": "carers' support worker", "exp-0245": "advice worker",
                "exp-0002": "carers' support worker"}
FOR_PEOPLE = frozenset(PUBLIC_ROLES)
TALK_S = 45.0


class DemoDesks:
    def __init__(self, engine: Engine, *, accept_after_s: float = ACCEPT_AFTER_S,
                 talk_s: float = TALK_S) -> None:
        self.engine = engine
        self.accept_after_s = accept_after_s
        self.talk_s = talk_s
        self._tasks: set[asyncio.Task[Any]] = set()
        self._disconnects: list[Callable[[], None]] = []

    async def start(self) -> int:
        signed_in = 0
        for expert_id, record in sorted(self.engine._records.items()):
            if not record.active or not record.skills or expert_id in FOR_PEOPLE:
                continue
            self._disconnects.append(self.engine.connect_desk(expert_id, self._sink(expert_id)))
            await self.engine.set_status(expert_id, "available", takes=["voice"])
            signed_in += 1
        log.info("demo desks: %d experts signed in; offers are accepted after %.0f s, "
                 "sessions end after %.0f s", signed_in, self.accept_after_s, self.talk_s)
        return signed_in

    def _sink(self, expert_id: str) -> Callable[[dict[str, Any]], None]:
        def sink(event: dict[str, Any]) -> None:
            if event.get("type") == "offer":
                offer_id = event["offer_id"]
                self._later(self.accept_after_s, lambda: self.engine.accept(expert_id, offer_id))
            elif event.get("type") == "session":
                session_id = event["session_id"]
                self._later(self.talk_s, lambda: self.engine.complete(expert_id, session_id))
        return sink

    def _later(self, delay: float, action: Callable[[], Awaitable[Any]]) -> None:
        """Run ``action()`` after ``delay``; the coroutine is made only then, so a shutdown
        meanwhile leaves none un-awaited."""
        async def run() -> None:
            await asyncio.sleep(delay)  # the demo's stand-in for a person taking their time
            with contextlib.suppress(DomainError):  # rescinded or already over meanwhile
                await action()

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def demo_desks_ctx(app: web.Application) -> AsyncIterator[None]:
    desks = DemoDesks(engine_of(app))
    await desks.start()
    yield
    await desks.close()
