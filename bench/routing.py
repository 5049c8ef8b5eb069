"""Routing decision benchmark: the real core on a synthetic national pool.

``run(experts, skills, waiting)`` builds a random skills taxonomy with related edges (substitutes
precomputed with a plain Dijkstra, as the skills graph does at pool load), experts with ~5 skills
each (popular skills more common, realistic proficiencies, languages, organisations, sharing
agreements and accreditations), brings a tenth of them online, and feeds contacts until
``waiting`` of them queue. It then times individual routing decisions on a virtual clock with
``time.perf_counter_ns``, alternating the two kinds that happen in production:

* a contact arrives (contact-side search over the available experts);
* an expert finishes a session and is free again (expert-side search over the waiting queue).

Offers are accepted at once (untimed) so the queue stays near ``waiting``. Escalations fall due
as the virtual clock runs and are delivered as ``Tick`` events, timed separately.
"""

from __future__ import annotations

import bisect
import gc
import heapq
import itertools
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from router.commands import Connected, MakeOffer, StartTimer
from router.core import RoutingCore
from router.events import ContactArrived, Event, ExpertOnline, OfferAccepted, SessionEnded, Tick
from router.model import Channel, ContactSpec, ExpertProfile, Pool, RoutingConfig
from router.snapshot import Snapshot

SKILLS_PER_EXPERT = 5
PROFICIENCY_CUMULATIVE = (0.10, 0.30, 0.60, 0.85, 1.00)  # levels 1..5
OTHER_LANGUAGES = ("pl", "ur", "pa", "bn", "ar", "so")
ORGS = 40
ONLINE_SHARE = 0.1
STEP_S = 0.02  # virtual seconds between timed decisions
MAX_SUBSTITUTES = 12
MAX_COST = 3.0
TAXONOMY_COST = 0.5


def substitutes(skills: int, rng: random.Random) -> dict[str, tuple[tuple[str, float], ...]]:
    """A random taxonomy (a forest) plus related edges, and per skill its nearest substitutes
    by Dijkstra over both, cut at ``MAX_COST`` and ``MAX_SUBSTITUTES``."""
    edges: list[list[tuple[int, float]]] = [[] for _ in range(skills)]
    roots = max(1, skills // 100)
    for i in range(roots, skills):
        parent = rng.randrange(max(roots, i // 2)) if i >= 2 else 0
        edges[i].append((parent, TAXONOMY_COST))
        edges[parent].append((i, TAXONOMY_COST))
    for i in range(skills):
        for _ in range(2):
            j, cost = rng.randrange(skills), rng.choice((0.5, 1.0, 1.5, 2.0))
            if j != i:
                edges[i].append((j, cost))
                edges[j].append((i, cost))
    return {f"s{i}": _nearest(i, edges) for i in range(skills)}


def _nearest(source: int, edges: list[list[tuple[int, float]]]) -> tuple[tuple[str, float], ...]:
    best = {source: 0.0}
    heap = [(0.0, source)]
    found: list[tuple[str, float]] = []
    while heap and len(found) < MAX_SUBSTITUTES:
        cost, node = heapq.heappop(heap)
        if cost > best.get(node, float("inf")):
            continue
        if node != source:
            found.append((f"s{node}", cost))
        for other, step in edges[node]:
            total = cost + step
            if total <= MAX_COST and total < best.get(other, float("inf")):
                best[other] = total
                heapq.heappush(heap, (total, other))
    return tuple(found)


@dataclass
class Synthetic:
    """Random but reproducible pool members and contacts."""

    skills: int
    rng: random.Random
    cumulative: list[float] = field(init=False)
    serial: int = 0

    def __post_init__(self) -> None:
        self.cumulative = list(itertools.accumulate(1.0 / (i + 1) ** 0.8
                                                    for i in range(self.skills)))

    def skill(self) -> str:
        """A skill, popular ones (low numbers) more often (Zipf-like)."""
        draw = self.rng.random() * self.cumulative[-1]
        return f"s{min(bisect.bisect_right(self.cumulative, draw), self.skills - 1)}"

    def expert(self, i: int) -> ExpertProfile:
        rng = self.rng
        held: dict[str, int] = {}
        while len(held) < min(SKILLS_PER_EXPERT, self.skills):
            held[self.skill()] = rng.choices(range(1, 6), cum_weights=PROFICIENCY_CUMULATIVE)[0]
        languages = {"en"}
        if rng.random() < 0.10:
            languages.add("cy")
        if rng.random() < 0.05:
            languages.add(rng.choice(OTHER_LANGUAGES))
        accreditations: dict[str, float | None] = {}
        if rng.random() < 0.2:
            accreditations["dbs-enhanced"] = -1.0 if rng.random() < 0.1 else None
        return ExpertProfile(id=f"e{i}", org=f"o{rng.randrange(ORGS)}", skills=held,
                             languages=frozenset(languages), accreditations=accreditations,
                             chat_capacity=rng.choice((1, 2, 3)))

    def contact(self, now: float) -> ContactSpec:
        rng = self.rng
        self.serial += 1
        roll = rng.random()
        language = None if roll < 0.6 else "en" if roll < 0.9 else "cy" if roll < 0.97 else (
            rng.choice(OTHER_LANGUAGES))
        return ContactSpec(
            id=f"c{self.serial}", arrived_at=now, skill=self.skill(), language=language,
            channel=Channel.VOICE if rng.random() < 0.7 else Channel.CHAT,
            priority=rng.choices((0, 1, 2), (0.8, 0.15, 0.05))[0],
            org=None if rng.random() < 0.85 else f"o{rng.randrange(ORGS)}",
            required_accreditations=frozenset({"dbs-enhanced"}) if rng.random() < 0.05
            else frozenset())


def sharing(rng: random.Random) -> frozenset[tuple[str, str]]:
    return frozenset((f"o{rng.randrange(ORGS)}", f"o{rng.randrange(ORGS)}")
                     for _ in range(ORGS * 2))


class Driver:
    """Feeds the core on a virtual clock and plays the shell: accepts offers at once, delivers
    due ticks, and ends random sessions to free experts."""

    def __init__(self, core: RoutingCore, synth: Synthetic) -> None:
        self.core = core
        self.synth = synth
        self.now = 0.0
        self.sessions: list[str] = []
        self.tick_at: float | None = None
        self.offers = 0
        self.tick_ns: list[int] = []

    def send(self, event: Event) -> int:
        """Handle ``event`` now; returns the nanoseconds the core took (acceptance untimed)."""
        start = time.perf_counter_ns()
        commands = self.core.handle(event, self.now)
        elapsed = time.perf_counter_ns() - start
        self._absorb(commands)
        return elapsed

    def _absorb(self, commands: Sequence[object]) -> None:
        offers = []
        for command in commands:
            if isinstance(command, MakeOffer):
                offers.append(command.offer_id)
            elif isinstance(command, StartTimer) and command.key == "tick":
                self.tick_at = command.at
            elif isinstance(command, Connected):
                self.sessions.append(command.session_id)
        self.offers += len(offers)
        for offer_id in offers:
            self._absorb(self.core.handle(OfferAccepted(offer_id), self.now))

    def tick_if_due(self) -> None:
        if self.tick_at is not None and self.tick_at <= self.now:
            self.tick_at = None
            self.tick_ns.append(self.send(Tick()))

    def arrive(self) -> int:
        return self.send(ContactArrived(self.synth.contact(self.now)))

    def free_one(self) -> int:
        i = self.synth.rng.randrange(len(self.sessions))
        self.sessions[i], self.sessions[-1] = self.sessions[-1], self.sessions[i]
        return self.send(SessionEnded(self.sessions.pop()))


def build(experts: int, skills: int, waiting: int, seed: int, policy: str) -> Driver:
    """The pool, a tenth of it online and busy, and ``waiting`` contacts in the queue."""
    rng = random.Random(seed)
    pool = Pool(substitutes=substitutes(skills, rng), sharing=sharing(rng))
    synth = Synthetic(skills, rng)
    profiles = tuple(synth.expert(i) for i in range(experts))
    core = RoutingCore(RoutingConfig(policy=policy, wrapup_s=0.0), pool)
    core.restore(Snapshot(experts=profiles), 0.0)
    driver = Driver(core, synth)
    for profile in rng.sample(profiles, max(1, int(experts * ONLINE_SHARE))):
        driver.send(ExpertOnline(profile))
    while core.waiting < waiting:
        driver.now += STEP_S
        driver.tick_if_due()
        driver.arrive()
    driver.tick_ns.clear()
    return driver


def percentile(sorted_ns: list[int], q: float) -> float:
    """The ``q`` quantile (0..1) of sorted nanoseconds, in microseconds."""
    if not sorted_ns:
        return 0.0
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1000


def run(experts: int, skills: int, waiting: int, *, seed: int = 1, policy: str = "graph",
        decisions: int = 20_000, rounds: int = 1) -> dict[str, object]:
    """Time ``decisions`` routing decisions, ``rounds`` times over one pool and queue: the
    documented figures (the median round's, when there are several) plus a few extras.
    The machine is shared: several rounds show how much of a figure is noise."""
    started = time.perf_counter()
    driver = build(experts, skills, waiting, seed, policy)
    setup_s = time.perf_counter() - started
    offers_before = driver.offers
    figures = [_round(driver, decisions) for _ in range(rounds)]
    middle = {key: statistics.median(f[key] for f in figures)
              for key in ("p50_us", "p99_us", "per_s", "p999_us", "tick_p99_us")}
    result: dict[str, object] = {
        "experts": experts, "skills": skills, "waiting": waiting,
        "decisions": decisions * rounds,
        "p50_us": middle["p50_us"], "p99_us": middle["p99_us"], "per_s": round(middle["per_s"]),
        "policy": policy, "seed": seed,
        "p999_us": middle["p999_us"], "max_us": max(f["max_us"] for f in figures),
        "offers": driver.offers - offers_before, "waiting_end": driver.core.waiting,
        "ticks": sum(f["ticks"] for f in figures), "tick_p99_us": middle["tick_p99_us"],
        "setup_s": round(setup_s, 2), "wall_s": round(time.perf_counter() - started, 2),
    }
    if rounds > 1:
        result["rounds"] = rounds
        result["p99_us_by_round"] = [f["p99_us"] for f in figures]
    return result


def _round(driver: Driver, decisions: int) -> dict[str, float]:
    """One timed round: figures of ``decisions`` decisions (and the ticks between them)."""
    driver.tick_ns.clear()
    gc.collect()
    gc.freeze()
    try:
        samples = _timed_loop(driver, decisions)
    finally:
        gc.unfreeze()
    samples.sort()
    ticks = sorted(driver.tick_ns)
    return {
        "p50_us": round(percentile(samples, 0.50), 1),
        "p99_us": round(percentile(samples, 0.99), 1),
        "per_s": len(samples) / (sum(samples) / 1e9) if samples else 0.0,
        "p999_us": round(percentile(samples, 0.999), 1),
        "max_us": round(samples[-1] / 1000, 1) if samples else 0.0,
        "ticks": len(ticks), "tick_p99_us": round(percentile(ticks, 0.99), 1),
    }


def _timed_loop(driver: Driver, decisions: int) -> list[int]:
    samples: list[int] = []
    for i in range(decisions):
        driver.now += STEP_S
        driver.tick_if_due()
        if i % 2 == 0 or not driver.sessions:
            samples.append(driver.arrive())
        else:
            samples.append(driver.free_one())
    return samples
