"""Group commit: the engine's steps are saved many at a time, and announced in order.

The routing core decides a step in microseconds; saving it costs a disk flush (milliseconds).
Holding the engine's lock across each flush made every step wait for the one before it to
reach the disk. Instead, a step is handled by the core under the lock, its writes and news are
queued here (``put``), and the lock is let go. One worker commits everything queued so far in
one transaction (``Store.commit_many``); while it does, the core goes on handling events,
whose batches form the next group. After a group commits, its steps are published (timers
set, desks and channels told) one by one in the order they were queued, and only then does
each step's caller get its answer: persist before announce, in order, as before.

When a group cannot be saved, its steps and every step queued behind it (decided on top of
them) fail with ``CommitFailed``; ``failed`` is told which batches were lost, and the engine
rebuilds its core from the database. Nothing queued after the failure is committed before
that: the engine puts no new step while it is stale.

``observe`` is told how long each committed group's transaction took (the engine's metrics;
a group whose steps write nothing opens none and is not timed).
The worker runs in a context of its own: started by whichever request queued a step first, it
would otherwise write that request's id (``base.logs.REQUEST_ID``) on its log lines for ever.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from router.batch import Batch
from router.live import News

log = logging.getLogger("router.commits")
MAX_GROUP = 512  # steps per transaction: bounds a transaction's size and a group's latency


class CommitFailed(Exception):
    """The step's group was not saved (or its outcome is unknown)."""


@dataclass(slots=True)
class Pending:
    batch: Batch
    news: News
    done: asyncio.Future[None]


Save = Callable[[Sequence[Batch]], Awaitable[None]]
Publish = Callable[[Batch, News], Awaitable[None]]
Failed = Callable[[Sequence[Batch]], None]


class GroupCommit:
    """See the module docstring. ``save`` writes batches in one transaction, ``publish``
    announces one committed step, ``failed`` hears which batches were lost."""

    def __init__(self, save: Save, publish: Publish, failed: Failed, *,
                 max_group: int = MAX_GROUP,
                 observe: Callable[[float], None] | None = None) -> None:
        self._save = save
        self._publish = publish
        self._failed = failed
        self._observe = observe
        self._max_group = max_group
        self._queue: list[Pending] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._worker: asyncio.Task[None] | None = None
        self.groups = 0  # transactions committed (for benchmarks and logs)
        self.steps = 0  # steps in them

    def put(self, batch: Batch, news: News) -> asyncio.Future[None]:
        """Queue one step; the future is done once it is committed and published."""
        done = asyncio.get_running_loop().create_future()
        done.add_done_callback(_retrieved)  # a caller that gave up leaves no warning behind
        self._queue.append(Pending(batch, news, done))
        self._idle.clear()
        self._wake.set()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(
                self._run(), context=contextvars.Context())
        return done

    @property
    def busy(self) -> bool:
        return not self._idle.is_set()

    async def idle(self) -> None:
        """Wait until every step queued so far is committed and published (or failed)."""
        await self._idle.wait()

    async def close(self) -> None:
        await self.idle()
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            group = self._queue[:self._max_group]
            del self._queue[:len(group)]
            if not self._queue:
                self._wake.clear()
            try:
                await self._commit(group)
            finally:
                if not self._queue:
                    self._idle.set()

    async def _commit(self, group: list[Pending]) -> None:
        started = time.perf_counter()
        try:
            await self._save([p.batch for p in group])
        except Exception:
            log.error("could not save %d routing step(s); rebuilding the router from the "
                      "database", len(group), exc_info=True)
            self._fail(group)
            return
        if self._observe is not None and any(p.batch for p in group):
            self._observe(time.perf_counter() - started)
        self.groups += 1
        self.steps += len(group)
        for pending in group:
            try:
                await self._publish(pending.batch, pending.news)
            except Exception:
                log.exception("publishing a committed routing step failed")
            if not pending.done.done():
                pending.done.set_result(None)

    def _fail(self, group: list[Pending]) -> None:
        behind, self._queue = self._queue, []
        self._wake.clear()
        self._failed([p.batch for p in group])
        for pending in group + behind:
            if not pending.done.done():
                pending.done.set_exception(CommitFailed())


def _retrieved(done: asyncio.Future[None]) -> None:
    if not done.cancelled():
        done.exception()
