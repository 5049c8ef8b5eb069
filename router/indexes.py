"""Hot-path indexes: pool data, available experts and waiting contacts.

No structure here is ever scanned whole on a decision:

* ``PoolIndex`` — per requested skill its substitutes sorted by cost, and the reverse (per held
  skill, the requested skills it can serve), both cut at the policy's widest step.
* ``ExpertIndex`` — available experts by (mode, language, skill) -> proficiency -> load ->
  ``{expert_id: record}`` in the order they became available (longest idle first). An expert
  sits under ``None`` (any language) and under each less common language they speak, so a
  Welsh contact only ever sees Welsh speakers.
* ``ContactQueues`` — waiting contacts by (channel, skill) -> escalation step -> a sorted list of
  static queue keys (effective priority, then age), so a contact keeps its place.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator

from router.model import CHANNELS, Channel, ExpertProfile, Pool
from router.policies import COST_EPSILON, Policy
from router.records import FREE, FREE_ONLY, OPEN_MODES, ExpertRec, Membership, QueueKey, Slot

Probe = tuple[str, str | None]  # (held skill, language key) of a servable queue list


class PoolIndex:
    """Substitutes and sharing agreements normalised for lookups."""

    __slots__ = ("_cost_steps", "_costs", "_serves", "_sharing", "_subs", "pool")

    def __init__(self, pool: Pool, policy: Policy) -> None:
        self.pool = pool
        self._subs: dict[str, tuple[tuple[str, float], ...]] = {}
        self._costs: dict[str, dict[str, float]] = {}
        self._cost_steps: dict[str, tuple[float, ...]] = {}
        self._serves: dict[str, tuple[tuple[str, float], ...]] = {}
        if policy.substitutes:
            self._build(pool, policy.max_cost + COST_EPSILON)
        self._sharing = frozenset(pool.sharing) | {(b, a) for a, b in pool.sharing}

    def _build(self, pool: Pool, max_cost: float) -> None:
        serves: dict[str, list[tuple[str, float]]] = {}
        for skill, pairs in pool.substitutes.items():
            best: dict[str, float] = {skill: 0.0}
            for other, cost in pairs:
                if 0 <= cost <= max_cost and cost < best.get(other, float("inf")):
                    best[other] = float(cost)
            ordered = tuple(sorted(best.items(), key=lambda kv: (kv[1], kv[0] != skill, kv[0])))
            self._subs[skill] = ordered
            self._costs[skill] = best
            self._cost_steps[skill] = tuple(cost for _, cost in ordered)
            for other, cost in ordered:
                serves.setdefault(other, []).append((skill, cost))
        for held, served in serves.items():
            served.sort(key=lambda kv: (kv[1], kv[0]))
            self._serves[held] = tuple(served)

    def substitutes(self, skill: str) -> tuple[tuple[str, float], ...]:
        """Skills acceptable for a contact asking for ``skill``, cheapest first (itself first)."""
        return self._subs.get(skill) or ((skill, 0.0),)

    def within(self, skill: str, max_cost: float) -> int:
        """How many of ``substitutes(skill)`` cost at most ``max_cost``."""
        costs = self._cost_steps.get(skill)
        return bisect_right(costs, max_cost) if costs is not None else int(max_cost >= 0)

    def costs(self, skill: str) -> dict[str, float]:
        """Substitute skill -> cost for a contact asking for ``skill`` (itself at 0)."""
        return self._costs.get(skill) or {skill: 0.0}

    def serves(self, held: str) -> tuple[tuple[str, float], ...]:
        """Requested skills an expert holding ``held`` can serve, with the cost of doing so."""
        return self._serves.get(held) or ((held, 0.0),)

    def may_share(self, contact_org: str, expert_org: str | None) -> bool:
        return expert_org is not None and (contact_org, expert_org) in self._sharing


class ExpertIndex:
    """Available experts by (mode, language, skill) -> proficiency -> load -> ``{id: record}``.

    Mode ``free``: nothing in progress, takes either channel (load 0); ``free-voice`` /
    ``free-chat``: nothing in progress, takes only that channel (``records.FREE_ONLY``);
    mode ``voice``/``chat``: already has that channel in progress and room for more
    (load >= 1). So a free expert is filed once, a search for one channel never meets an
    expert who does not take it (``open_modes``: ``records.OPEN_MODES``, less the mode of
    those who take only that channel until one is filed there, so a pool where everyone
    takes both pays nothing for them), and moving between free and busy costs one removal and
    at most one filing.
    Experts are filed under language ``None`` and under each language they speak except
    ``common_language``, which nearly everyone speaks: contacts asking for it read the ``None``
    slots and filter (correct whatever the value; it only saves work).
    ``max_capacity`` per channel bounds the occupancy term of the score.
    """

    __slots__ = ("_slots", "common_language", "max_capacity", "open_modes")

    def __init__(self, common_language: str | None = None) -> None:
        self._slots: dict[tuple[str, str | None, str], Slot] = {}
        self.common_language = common_language
        self.max_capacity: dict[Channel, int] = dict.fromkeys(CHANNELS, 1)
        # per channel, the modes whose slots hold the experts who would take one more
        # contact on it now (see the class docstring)
        self.open_modes: dict[Channel, tuple[str, ...]] = {ch: (FREE, ch) for ch in CHANNELS}

    def language_key(self, language: str | None) -> str | None:
        return None if language == self.common_language else language

    def slot(self, mode: str, language: str | None, skill: str) -> Slot | None:
        """The slot for ``mode`` (FREE or a channel), a language key and a skill."""
        return self._slots.get((mode, language, skill))

    def language_keys(self, languages: frozenset[str]) -> tuple[str | None, ...]:
        """The language keys an expert speaking ``languages`` is filed (and searches) under."""
        common = self.common_language
        return (None, *sorted(lang for lang in languages if lang != common))

    def add(self, mode: str, expert: ExpertRec, load: int) -> Membership:
        """File ``expert`` (at ``load``) at the back of its buckets; returns the membership."""
        members = self._membership(mode, expert, load)
        expert_id = expert.id
        for slot, bucket, level in members:
            bucket[expert_id] = expert
            slot.count += 1
            slot.by_level[level] += 1
        return members

    def _membership(self, mode: str, expert: ExpertRec, load: int) -> Membership:
        """The buckets ``expert`` belongs in at (mode, load): found once per profile and kept
        on the record, so re-filing an expert is a few dict writes, not a tuple hash per skill
        and language (slots and buckets are never dropped, so the references stay valid)."""
        memberships = expert.hot().memberships
        members: Membership | None = memberships.get((mode, load))
        if members is not None:
            return members
        profile: ExpertProfile = expert.profile
        for channel in CHANNELS:
            self.max_capacity[channel] = max(self.max_capacity[channel],
                                             profile.capacity(channel))
            if mode == FREE_ONLY[channel]:
                self.open_modes[channel] = OPEN_MODES[channel]
        members = []
        slots = self._slots
        for language in self.language_keys(profile.languages):
            for skill, level in profile.skills.items():
                key = (mode, language, skill)
                slot = slots.get(key)
                if slot is None:
                    slot = slots[key] = Slot()
                members.append((slot, slot.bucket(level, load), level))
        memberships[(mode, load)] = members
        return members

    @staticmethod
    def remove(expert_id: str, members: Membership) -> None:
        for slot, bucket, level in members:
            del bucket[expert_id]
            slot.count -= 1
            slot.by_level[level] -= 1


class ContactQueues:
    """Waiting contacts, kept two ways (both sorted by the static queue key):

    * by requested skill — (channel, skill) -> keys: positions and live queue figures;
    * by servable skill — (channel, (held skill, language key)) -> step -> keys of the contacts
      at that step that an expert holding the skill may serve (its substitution cost is within
      the step) and that ask for that language (None: no language, or the common one).
      A newly free expert reads only the lists of the skills it holds in the languages it
      speaks, from the first step its proficiency qualifies for: a handful of list heads,
      whatever the size of the queue. Without the language split, contacts waiting for a
      rarer language gather at the heads and every other expert would step over them.
    """

    __slots__ = ("_requested", "_servable", "_steps", "count")

    def __init__(self, steps: int) -> None:
        self._steps = steps
        self.count = 0
        self._requested: dict[Channel, dict[str, list[QueueKey]]] = {ch: {} for ch in CHANNELS}
        self._servable: dict[Channel, dict[Probe, list[list[QueueKey]]]] = {
            ch: {} for ch in CHANNELS}

    def __len__(self) -> int:
        return self.count

    def lists_for(self, channel: Channel, probes: Iterable[Probe]
                  ) -> tuple[list[list[QueueKey]], ...]:
        """Each probe's step lists on ``channel``, created empty if need be. Lists are never
        replaced or dropped, so the references stay valid for as long as the caller likes."""
        group = self._servable[channel]
        found = []
        for probe in probes:
            lists = group.get(probe)
            if lists is None:
                lists = group[probe] = [[] for _ in range(self._steps)]
            found.append(lists)
        return tuple(found)

    def lanes(self, channel: Channel, probes: list[tuple[Probe, int]]
              ) -> tuple[list[QueueKey], ...]:
        """The step lists an expert reading ``probes`` ((held skill, language key), first
        step) scans on ``channel``, as one flat tuple."""
        found = self.lists_for(channel, (probe for probe, _ in probes))
        return tuple(keys for lists, (_, k0) in zip(found, probes, strict=True)
                     for keys in lists[k0:])

    def add(self, channel: Channel, skill: str, key: QueueKey) -> None:
        insort(self._requested[channel].setdefault(skill, []), key)
        self.count += 1

    def remove(self, channel: Channel, skill: str, key: QueueKey) -> None:
        group = self._requested[channel]
        keys = group[skill]
        del keys[bisect_left(keys, key)]
        self.count -= 1
        if not keys:
            del group[skill]

    @staticmethod
    def place(key: QueueKey, step: int, servers: list[list[list[QueueKey]]],
              count: int) -> list[list[QueueKey]]:
        """File ``key`` at ``step`` in the step lists of the first ``count`` servable skills
        (``servers``, from ``lists_for``); returns the lists it joined."""
        placed = []
        for lists in servers[:count]:
            keys = lists[step]
            insort(keys, key)
            placed.append(keys)
        return placed

    @staticmethod
    def unplace(key: QueueKey, placed: list[list[QueueKey]]) -> None:
        for keys in placed:
            del keys[bisect_left(keys, key)]

    def position(self, channel: Channel, skill: str, key: QueueKey) -> int:
        """How many contacts asking for the same skill on the same channel are ahead."""
        keys = self._requested[channel].get(skill)
        return bisect_left(keys, key) if keys else 0

    def queues(self) -> Iterator[tuple[Channel, str, list[QueueKey]]]:
        for channel, group in self._requested.items():
            for skill, keys in group.items():
                yield channel, skill, keys
