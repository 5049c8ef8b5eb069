"""Hypothesis strategies for the routing core: small pools, experts, contacts and event scripts.

A script is a list of abstract operations (``Op``) whose targets are indices, resolved against
whatever exists when the operation runs (``tests/test_router_properties.py`` plays them), so
every generated script is valid whatever happened before.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from router.model import Channel, ContactSpec, ExpertProfile, Pool, RoutingConfig, Step

SKILLS = ("dementia", "memory", "carers", "housing")
LANGUAGES = ("en", "cy")
ORGS = ("o1", "o2", "o3")
ACCREDITATIONS = ("dbs",)
# operation kinds, repeated to weight them: arrivals, answers and session ends dominate
KINDS = ("arrive",) * 5 + ("accept",) * 3 + ("end",) * 3 + ("decline",) * 2 + ("tick",) * 2 + (
    "online", "away", "offline", "timeout", "wrapup_end", "abandon", "profile", "pool")


@dataclass(frozen=True)
class Op:
    """One step of a script: ``kind`` with an index ``target``, after ``dt`` seconds."""

    kind: str
    dt: float
    target: int = 0
    flag: bool = False
    contact: ContactSpec | None = None
    profile: ExpertProfile | None = None
    pool: Pool | None = None


costs = st.sampled_from((0.0, 0.5, 1.0, 1.5, 2.5, 4.0))


@st.composite
def pools(draw: st.DrawFn) -> Pool:
    """Substitutes between the four skills (with costs) and some sharing agreements."""
    substitutes = {}
    for skill in SKILLS:
        others = draw(st.lists(st.sampled_from(SKILLS), unique=True, max_size=3))
        substitutes[skill] = tuple((o, draw(costs)) for o in others if o != skill)
    pairs = draw(st.lists(st.tuples(st.sampled_from(ORGS), st.sampled_from(ORGS)), max_size=3))
    return Pool(substitutes=substitutes, sharing=frozenset(pairs))


expiries = st.one_of(st.none(), st.sampled_from((0.0, 50.0, 400.0, 1e9)))


@st.composite
def profiles(draw: st.DrawFn, expert_id: str) -> ExpertProfile:
    skills = draw(st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5), min_size=1,
                                  max_size=3))
    languages = draw(st.sampled_from(({"en"}, {"en"}, {"en", "cy"}, {"cy"}, set())))
    accreditations = draw(st.dictionaries(st.sampled_from(ACCREDITATIONS), expiries,
                                          max_size=1))
    return ExpertProfile(id=expert_id, org=draw(st.sampled_from(ORGS)), skills=skills,
                         languages=languages, accreditations=accreditations,
                         voice_capacity=draw(st.sampled_from((0, 1, 1, 2))),
                         chat_capacity=draw(st.integers(0, 3)))


@st.composite
def contacts(draw: st.DrawFn, contact_id: str) -> ContactSpec:
    return ContactSpec(
        id=contact_id, arrived_at=0.0,  # the player stamps the real arrival time
        channel=draw(st.sampled_from(tuple(Channel))), skill=draw(st.sampled_from(SKILLS)),
        language=draw(st.sampled_from((None, None, *LANGUAGES))),
        priority=draw(st.integers(0, 2)),
        org=draw(st.sampled_from((None, None, *ORGS))),
        required_accreditations=draw(st.sampled_from(
            (frozenset(), frozenset(), frozenset(), frozenset(ACCREDITATIONS)))),
        extra_skills=tuple(draw(st.lists(st.sampled_from(SKILLS), unique=True, max_size=1))))


def configs(policies: tuple[str, ...] = ("exact", "graph", "optimal")) -> st.SearchStrategy:
    steps = (Step(0, 0.0, 4), Step(20, 0.5, 3), Step(60, 1.5, 2), Step(120, 3.0, 1))
    return st.builds(
        RoutingConfig, policy=st.sampled_from(policies), steps=st.just(steps),
        offer_timeout_s=st.sampled_from((10.0, 30.0)), max_missed_offers=st.integers(0, 3),
        wrapup_s=st.sampled_from((0.0, 15.0)), recovery_s=st.sampled_from((0.0, 40.0)),
        reoffer_cooldown_s=st.sampled_from((0.0, 25.0)),
        batch_window_s=st.sampled_from((0.0, 0.0, 3.0)),
        # which language the indexes treat as everyone's changes where experts and contacts
        # are filed, never who is eligible
        common_language=st.sampled_from(("en", "en", "cy", None)))


@st.composite
def ops(draw: st.DrawFn, n_experts: int) -> Op:
    kind = draw(st.sampled_from(KINDS))
    dt = draw(st.sampled_from((0.0, 0.0, 0.0, 1.0, 2.0, 5.0, 12.0, 25.0, 70.0)))
    target = draw(st.integers(0, 20))
    flag = draw(st.booleans())
    if kind == "arrive":
        return Op(kind, dt, contact=draw(contacts(f"c{draw(st.integers(0, 10**6))}")))
    if kind == "profile":
        i = target % n_experts
        return Op(kind, dt, i, profile=draw(profiles(f"e{i}")))
    if kind == "pool":
        return Op(kind, dt, pool=draw(pools()))
    return Op(kind, dt, target, flag)


@st.composite
def scenarios(draw: st.DrawFn, policies: tuple[str, ...] = ("exact", "graph", "optimal"),
              max_ops: int = 40) -> tuple[RoutingConfig, Pool, list[ExpertProfile], list[Op]]:
    """A configuration, a pool, a few experts (with fixed capacities) and a script that starts
    by bringing every expert online."""
    n = draw(st.integers(1, 5))
    experts = [draw(profiles(f"e{i}")) for i in range(n)]
    script = draw(st.lists(ops(n), min_size=8, max_size=max_ops))
    fixed = []
    for drawn in script:  # keep each expert's capacities: the capacity property stays simple
        op = drawn
        if drawn.profile is not None:
            base = experts[drawn.target]
            op = Op(drawn.kind, drawn.dt, drawn.target, profile=ExpertProfile(
                id=base.id, org=drawn.profile.org, skills=drawn.profile.skills,
                languages=drawn.profile.languages, accreditations=drawn.profile.accreditations,
                voice_capacity=base.voice_capacity, chat_capacity=base.chat_capacity))
        fixed.append(op)
    fixed[:0] = [Op("online", 0.0, i) for i in range(n)]
    return draw(configs(policies)), draw(pools()), experts, fixed
