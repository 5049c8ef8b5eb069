"""The two searches of the hot path, both bounded by the indexes (never a scan of the pool):

* ``experts_for(contact)`` — the best available experts for a waiting contact at its step:
  candidate skills are the substitutes within the step's cost, buckets are visited best first
  (cheapest skill, highest proficiency, lowest load) and pruned by an upper bound of the score,
  and within a bucket experts come longest idle first, so most decisions look at a handful of
  experts. Once one eligible expert is found at most ``scan_limit`` are examined.
* ``contacts_for(expert)`` — the highest-priority waiting contacts a newly free expert can
  serve: for every skill the expert holds and language it speaks, the lists of contacts it
  may serve from the first step its proficiency qualifies for; each list is sorted, so the
  first eligible entry of each is its best and the rest is cut by the best key so far.
"""

from __future__ import annotations

from dataclasses import dataclass

from router.indexes import ContactQueues, ExpertIndex, PoolIndex
from router.model import CHANNELS, MAX_PROFICIENCY, Channel, ContactSpec, ExpertProfile
from router.policies import COST_EPSILON, Policy
from router.records import CHAT, FREE_ONLY, VOICE, ContactRec, ExpertRec, QueueKey, Slot

LANGUAGE, ACCREDITATION, SHARING, DECLINED = "language", "accreditation", "sharing", "declined"
NEG_INF = float("-inf")


def hard_block(spec: ContactSpec, profile: ExpertProfile, now: float,
               pool: PoolIndex) -> str | None:
    """Which hard constraint keeps this expert from this contact at ``now``, or None.

    Language (if the contact has one), required accreditations (present and unexpired) and
    organisation (the national line, the same organisation or a sharing agreement).
    """
    if spec.language is not None and spec.language not in profile.languages:
        return LANGUAGE
    if spec.required_accreditations:
        held = profile.accreditations
        for name in spec.required_accreditations:
            if name not in held:
                return ACCREDITATION
            expiry = held[name]
            if expiry is not None and expiry <= now:
                return ACCREDITATION
    if spec.org is not None and spec.org != profile.org and not pool.may_share(spec.org,
                                                                               profile.org):
        return SHARING
    return None


def extra_share(spec: ContactSpec, profile: ExpertProfile) -> float:
    """Share of the contact's extra skills the expert holds (0 when it has none)."""
    if not spec.extra_skills:
        return 0.0
    return sum(s in profile.skills for s in spec.extra_skills) / len(spec.extra_skills)


@dataclass(slots=True)
class Scored:
    """An eligible expert with the match that made it eligible (internal Candidate)."""

    score: float
    expert: ExpertRec
    skill: str
    cost: float
    proficiency: int


class _Search:
    """State of one contact-side search (kept off the hot loop's locals)."""

    __slots__ = ("best", "examined", "extra_ub", "limit", "tally", "top", "true_top")

    def __init__(self, limit: int, extra_ub: float, tally: dict[str, set[str]] | None,
                 true_top: bool) -> None:
        self.best = NEG_INF  # the pruning bar: best score so far, or k-th best (true_top)
        self.examined = 0
        self.limit = limit
        self.true_top = true_top
        self.extra_ub = extra_ub
        self.tally = tally
        self.top: list[Scored] = []

    def keep(self, found: Scored) -> None:
        top = self.top
        for i, other in enumerate(top):
            if other.expert is found.expert:
                if found.score <= other.score:
                    return
                del top[i]
                break
        top.append(found)
        top.sort(key=lambda s: -s.score)
        del top[self.limit:]
        if not self.true_top:
            self.best = max(self.best, found.score)
        elif len(top) >= self.limit:
            self.best = top[-1].score


class Matcher:
    """Both searches over the core's indexes; holds references, owns nothing."""

    __slots__ = ("contacts", "index", "policy", "pool", "queues", "scan_limit")

    def __init__(self, policy: Policy, pool: PoolIndex, index: ExpertIndex,
                 queues: ContactQueues, contacts: dict[str, ContactRec], scan_limit: int) -> None:
        self.policy = policy
        self.pool = pool
        self.index = index
        self.queues = queues
        self.contacts = contacts
        self.scan_limit = scan_limit

    # -- contact side ------------------------------------------------------------------------
    def experts_for(self, contact: ContactRec, now: float, limit: int,
                    tally: dict[str, set[str]] | None = None, *,
                    true_top: bool = False) -> list[Scored]:
        """Eligible available experts for ``contact`` at its step, best first: the best one
        exactly, then the others examined on the way (the true top ``limit`` if ``true_top``).

        ``tally`` (optional) collects, per hard-constraint name, the ids of available experts
        that were rejected: the raw material of a "nobody eligible" explanation.
        """
        spec = contact.spec
        step = self.policy.steps[contact.step]
        weights = self.policy.weights
        search = _Search(limit, weights.extra if spec.extra_skills else 0.0, tally, true_top)
        index = self.index
        language = index.language_key(spec.language)
        modes = index.open_modes[spec.channel]
        for skill, cost in self.pool.substitutes(spec.skill):
            if cost > step.max_cost + COST_EPSILON:
                break
            for mode in modes:
                slot = index.slot(mode, language, skill)
                if slot is not None and slot.count and self._scan_slot(
                        contact, slot, skill, cost, step.min_proficiency, now, search):
                    return search.top
        return search.top

    def _scan_slot(self, contact: ContactRec, slot: Slot, skill: str, cost: float, floor: int,
                   now: float, search: _Search) -> bool:
        """Scan one skill's buckets, best first; True when the scan limit is reached."""
        w = self.policy.weights
        max_cap = self.index.max_capacity[contact.spec.channel]
        for level in range(MAX_PROFICIENCY, floor - 1, -1):
            base = w.proficiency * level / 5 - w.cost * cost + search.extra_ub
            for load, bucket in enumerate(slot.levels[level]):
                bound = base - w.occupancy * load / max_cap
                if bound + w.idle <= search.best:
                    break
                if bucket and self._scan_bucket(contact, bucket, bound, (skill, cost, level,
                                                                           load), now, search):
                    return True
        return False

    def _scan_bucket(self, contact: ContactRec, bucket: dict[str, ExpertRec], bound: float,
                     match: tuple[str, float, int, int], now: float, search: _Search) -> bool:
        spec = contact.spec
        policy, pool, channel = self.policy, self.pool, spec.channel
        w = policy.weights
        idle_scale = w.idle / w.idle_cap_s
        skill, cost, level, load = match
        excluded = contact.excluded
        for expert in bucket.values():
            idle = now - expert.since
            if bound + idle_scale * min(idle, w.idle_cap_s) <= search.best:
                break
            # takes this channel: a free expert who does not sits under the other channel's
            # FREE_ONLY mode, which this search never reads
            profile = expert.profile
            capacity = profile.voice_capacity if channel is VOICE else profile.chat_capacity
            search.examined += 1
            why = hard_block(spec, profile, now, pool)
            if why is None and excluded and excluded.get(expert.id, NEG_INF) > now:
                why = DECLINED
            if why is not None:
                if search.tally is not None:
                    search.tally.setdefault(why, set()).add(expert.id)
                continue
            score = policy.score(level, cost, idle, load, capacity, extra_share(spec, profile))
            search.keep(Scored(score, expert, skill, cost, level))
            if search.examined >= self.scan_limit:
                return True
        return False

    def availability_gaps(self, spec: ContactSpec, step_no: int) -> dict[str, int]:
        """Available holders of candidate skills who fall short on proficiency or on a less
        common language, or who take only the other channel, from bucket sizes (an expert
        holding two candidate skills counts twice; shortfalls on the common language are
        tallied by the search instead)."""
        step, index = self.policy.steps[step_no], self.index
        floor = step.min_proficiency
        language = index.language_key(spec.language)
        other = CHAT if spec.channel is VOICE else VOICE
        only_other = FREE_ONLY[other] if FREE_ONLY[other] in index.open_modes[other] else None
        below = lacking = elsewhere = 0
        for skill, cost in self.pool.substitutes(spec.skill):
            if cost > step.max_cost + COST_EPSILON:
                break
            if only_other and (free := index.slot(only_other, None, skill)) is not None:
                elsewhere += free.count
            for mode in index.open_modes[spec.channel]:
                anyone = index.slot(mode, None, skill)
                if anyone is None or not anyone.count:
                    continue
                levels = anyone.by_level
                below += sum(levels[:floor])
                if language is not None:
                    speakers = index.slot(mode, language, skill)
                    spoken = sum(speakers.by_level[floor:]) if speakers else 0
                    lacking += sum(levels[floor:]) - spoken
        return {"below": below, "language": lacking, "other_channel": elsewhere}

    # -- expert side -------------------------------------------------------------------------
    def contacts_for(self, expert: ExpertRec, channels: tuple[Channel, ...], now: float,
                     limit: int = 1) -> list[ContactRec]:
        """The highest-priority waiting contacts ``expert`` may take on any of ``channels``,
        best first. One bar for every list: a list whose head cannot beat what was already
        found costs one comparison."""
        found: list[tuple[QueueKey, ContactRec]] = []
        bar: QueueKey | None = None
        lanes = self._lanes(expert)
        for channel in channels:
            for entries in lanes[channel]:
                if entries and (bar is None or entries[0] < bar):
                    bar = self._scan_queue(expert, entries, now, found, limit)
        return [contact for _, contact in found]

    def _lanes(self, expert: ExpertRec) -> dict[Channel, tuple[list[QueueKey], ...]]:
        """Per channel, the queue lists the expert reads: for each skill it holds and language
        it speaks, the steps from the first its proficiency qualifies for. Kept with the
        profile, so a free expert's search is a walk over list heads, with no lookups."""
        hot = expert.hot()
        lanes = hot.lanes
        if lanes is None:
            profile, floor_step = expert.profile, self.policy.floor_step
            languages = self.index.language_keys(profile.languages)
            probes = [((held, language), k0) for held, level in profile.skills.items()
                      if (k0 := floor_step[level]) is not None for language in languages]
            lanes = hot.lanes = {ch: self.queues.lanes(ch, probes) for ch in CHANNELS}
        return lanes

    def _scan_queue(self, expert: ExpertRec, entries: list[QueueKey], now: float,
                    found: list[tuple[QueueKey, ContactRec]], limit: int) -> QueueKey | None:
        """Add the list's best entries the expert may serve to ``found``; returns the new bar
        (the worst key kept once ``limit`` are found, else None)."""
        profile, pool, contacts = expert.profile, self.pool, self.contacts
        bar = found[-1][0] if len(found) >= limit else None
        for key in entries:
            if bar is not None and key >= bar:
                break
            contact = contacts[key[3]]
            if hard_block(contact.spec, profile, now, pool) is not None:
                continue
            if contact.excluded and contact.excluded.get(expert.id, NEG_INF) > now:
                continue
            if limit > 1 and any(k == key for k, _ in found):
                continue  # the same contact through another of the expert's skills
            found.append((key, contact))
            found.sort(key=lambda pair: pair[0])
            del found[limit:]
            if len(found) >= limit:
                bar = found[-1][0]
        return bar

    def best_match(self, spec: ContactSpec, profile: ExpertProfile,
                   step_no: int) -> tuple[str, float, int] | None:
        """The best (skill, cost, proficiency) through which ``profile`` may serve ``spec`` at
        step ``step_no``, or None. Ties go to the cheaper skill, then the exact skill, then
        the first by name."""
        step = self.policy.steps[step_no]
        w = self.policy.weights
        costs = self.pool.costs(spec.skill)
        max_cost = step.max_cost + COST_EPSILON
        best: tuple[float, float, bool, str, int] | None = None
        for skill, level in profile.skills.items():
            cost = costs.get(skill)
            if cost is None or cost > max_cost or level < step.min_proficiency:
                continue
            rank = (-(w.proficiency * level / 5 - w.cost * cost), cost, skill != spec.skill,
                    skill, level)
            if best is None or rank < best:
                best = rank
        return None if best is None else (best[3], best[1], best[4])
