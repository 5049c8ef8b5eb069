"""Decisions and their reasons, worded for a supervisor asking "why there / why waiting".

Building a decision is cheap: candidate lists are capped by the search, and the reason for
"nobody eligible" is assembled from per-skill state counters, bucket sizes and the rejections
the search already made, never from a scan of the pool.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from router.matching import ACCREDITATION, DECLINED, LANGUAGE, SHARING, Scored
from router.model import Candidate, Channel, ContactSpec, Decision, ExpertState, Step

STATE_ORDER = (ExpertState.BUSY, ExpertState.OFFERED, ExpertState.WRAPUP, ExpertState.AWAY,
               ExpertState.OFFLINE, ExpertState.AVAILABLE)
STATE_WORDS = {state: str(state.value) for state in ExpertState}


def candidates(top: list[Scored]) -> tuple[Candidate, ...]:
    return tuple(Candidate(s.expert.id, s.skill, s.cost, s.proficiency, round(s.score, 4))
                 for s in top)


@lru_cache(maxsize=64)
def describe_step(step_no: int, step: Step) -> str:
    return (f"step {step_no + 1} (cost <= {step.max_cost:g}, "
            f"proficiency >= {step.min_proficiency})")


def offered(spec: ContactSpec, at: float, step_no: int, policy: str, top: list[Scored],
            reason: str) -> Decision:
    """A decision that made an offer to ``top[0]``."""
    return Decision(spec.id, at, step_no, policy, candidates(top), top[0].expert.id, reason)


def best_score_reason(spec: ContactSpec, step_no: int, step: Step, top: list[Scored]) -> str:
    best = top[0]
    how = "exact skill" if best.skill == spec.skill else f"substitute {best.skill}"
    return (f"best score {best.score:.3f} at {describe_step(step_no, step)} via {how} "
            f"(proficiency {best.proficiency}, cost {best.cost:g}) among {len(top)} shown")


def nobody(spec: ContactSpec, at: float, step_no: int, step: Step, policy: str,
           holders: Mapping[ExpertState, int], gaps: Mapping[str, int],
           tally: Mapping[str, set[str]]) -> Decision:
    """A decision that found nobody eligible, with the reasons counted."""
    return Decision(spec.id, at, step_no, policy, (), None,
                    nobody_reason(spec, step_no, step, holders, gaps, tally))


def nobody_reason(spec: ContactSpec, step_no: int, step: Step,
                  holders: Mapping[ExpertState, int], gaps: Mapping[str, int],
                  tally: Mapping[str, set[str]]) -> str:
    """E.g. "nobody eligible at step 2 (cost <= 0.5, proficiency >= 3) on chat: 12 experts
    hold dementia: 9 busy, 3 available; available with candidate skills: 2 take calls only,
    1 lack cy, 1 outside sharing agreements" (``holders`` counts every holder, whatever the
    channels they take)."""
    total = sum(holders.values())
    if total:
        states = ", ".join([f"{holders[s]} {STATE_WORDS[s]}" for s in STATE_ORDER
                            if holders.get(s)])
        noun = "experts hold" if total != 1 else "expert holds"
        held = f"{total} {noun} {spec.skill}: {states}"
    else:
        held = f"no expert holds {spec.skill}"
    short = _shortfalls(spec, step, gaps, tally) if tally or any(gaps.values()) else None
    tail = f"; available with candidate skills: {', '.join(short)}" if short else ""
    return (f"nobody eligible at {describe_step(step_no, step)} on {spec.channel.value}: "
            f"{held}{tail}")


def _shortfalls(spec: ContactSpec, step: Step, gaps: Mapping[str, int],
                tally: Mapping[str, set[str]]) -> list[str]:
    parts = []
    if gaps.get("other_channel"):
        only = "chats" if spec.channel is Channel.VOICE else "calls"
        parts.append(f"{gaps['other_channel']} take {only} only")
    if gaps.get("below"):
        parts.append(f"{gaps['below']} below proficiency {step.min_proficiency}")
    if gaps.get("language"):
        parts.append(f"{gaps['language']} lack {spec.language}")
    for why in (LANGUAGE, ACCREDITATION, SHARING, DECLINED):
        if tally.get(why):
            parts.append(f"{len(tally[why])} {_word(why, spec)}")
    return parts


def _word(why: str, spec: ContactSpec) -> str:
    if why == LANGUAGE:
        return f"lack {spec.language}"
    if why == ACCREDITATION:
        return f"lack a valid {'/'.join(sorted(spec.required_accreditations))}"
    return "outside sharing agreements" if why == SHARING else "declined or missed it recently"
