"""Background work: serial per key, observable, cancelled on close.

Announcements from the routing engine and timers must not block the engine or a webhook, and
work about one contact must happen in order (two expert messages are delivered in the order
written). ``Tasks.spawn(key, fn, *args)`` runs ``fn(*args)`` after the previous work with the
same key; ``idle()`` waits until nothing is pending (tests, graceful shutdown); ``close()``
cancels what is left and is safe to call twice. ``Tasks.later`` is the default ``Schedule``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("telephony.tasks")

Job = Callable[[], Awaitable[None]]
Schedule = Callable[[float, str, Job], None]
"""``schedule(delay_s, key, job)``: run ``job`` (serially with ``key``'s work) after a delay."""


class Tasks:
    def __init__(self) -> None:
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self._closed = False

    def spawn(self, key: str, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        if self._closed:
            log.warning("work for %s dropped: telephony is closing", key)
            return
        previous = self._tails.get(key)
        task = asyncio.get_running_loop().create_task(self._run(key, previous, fn, args))
        self._tails[key] = task
        self._running.add(task)
        task.add_done_callback(lambda t: self._finished(key, t))

    async def _run(self, key: str, previous: asyncio.Task[None] | None,
                   fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> None:
        if previous is not None and not previous.done():
            await asyncio.wait([previous])
        try:
            await fn(*args)
        except Exception as exc:
            log.error("background work for %s failed: %r", key, exc)
            log.debug("traceback", exc_info=True)

    def _finished(self, key: str, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if self._tails.get(key) is task:
            del self._tails[key]

    def later(self, delay_s: float, key: str, job: Job) -> None:
        """Run ``job`` after ``delay_s`` seconds (the default scheduler)."""
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        holder: list[asyncio.TimerHandle] = []

        def fire() -> None:
            self._timers.discard(holder[0])
            self.spawn(key, job)

        holder.append(loop.call_later(delay_s, fire))
        self._timers.add(holder[0])

    async def idle(self) -> None:
        """Wait until all spawned work (and work it spawned) has finished; timers are not
        waited for."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)

    async def close(self) -> None:
        self._closed = True
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*list(self._running), return_exceptions=True)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Tasks {state} running={len(self._running)} timers={len(self._timers)}>"
