"""The pool's change feed and its cached skills graph.

After each committed change to the pool, the API calls ``PoolWatch.publish(PoolChange(...))``;
subscribers (the routing engine) refresh what the change touched. The watch also keeps the current
``SkillGraph``: built from the database on first use, dropped or swapped when the taxonomy
changes. It sees the changes made through this process only; several processes on one database
need a notification channel (PostgreSQL LISTEN/NOTIFY) on top.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType

from skills.graph import SkillGraph, SkillSpec

log = logging.getLogger("skills.watch")


@dataclass(frozen=True, slots=True)
class PoolChange:
    """What one committed change touched: these experts, the taxonomy, the sharing agreements.

    ``everything`` (with ``graph`` and ``sharing`` set) means any expert may have changed, as
    after an import: reload the pool whole.
    """

    experts: frozenset[str] = field(default_factory=frozenset)
    graph: bool = False
    sharing: bool = False
    everything: bool = False

    def __bool__(self) -> bool:
        return bool(self.experts) or self.graph or self.sharing or self.everything


EVERYTHING = PoolChange(graph=True, sharing=True, everything=True)


Subscriber = Callable[[PoolChange], Awaitable[None] | None]
SpecLoader = Callable[[], Awaitable[Iterable[SkillSpec]]]


class PoolWatch:
    """Subscribers to pool changes, and the cached ``SkillGraph`` (rebuilt after a change)."""

    def __init__(self, *, taxonomy_cost: float = 0.5) -> None:
        self.taxonomy_cost = taxonomy_cost
        self._subscribers: list[Subscriber] = []
        self._graph: SkillGraph | None = None
        self._version = 0
        self._closed = False
        self.taxonomy_lock = asyncio.Lock()  # serialises taxonomy writes in this process

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        graph = "cached" if self._graph is not None else "not loaded"
        return (
            f"<PoolWatch {state} subscribers={len(self._subscribers)} graph={graph}"
            f" version={self._version}>"
        )

    @property
    def version(self) -> int:
        """Bumped by every taxonomy change; a graph built before a bump is not cached."""
        return self._version

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(change)`` after each committed change; returns an unsubscribe."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    async def publish(self, change: PoolChange, *, graph: SkillGraph | None = None) -> None:
        """Tell subscribers; a taxonomy change drops the cached graph (or swaps in ``graph``)."""
        if change.graph:
            self._version += 1
            self._graph = graph
        if not change:
            return
        for callback in list(self._subscribers):
            try:
                result = callback(change)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("pool change subscriber %r failed on %r", callback, change)

    async def graph(self, load_specs: SpecLoader) -> SkillGraph:
        """The cached graph, or one built from ``load_specs()`` (and cached if still current)."""
        cached = self._graph
        if cached is not None:
            return cached
        version = self._version
        built = SkillGraph.build(await load_specs(), taxonomy_cost=self.taxonomy_cost)
        if version == self._version:
            self._graph = built
        return built

    def close(self) -> None:
        """Drop subscribers and the cached graph; safe to call twice."""
        self._subscribers.clear()
        self._graph = None
        self._closed = True

    async def __aenter__(self) -> PoolWatch:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
