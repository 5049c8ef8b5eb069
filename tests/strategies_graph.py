"""Hypothesis strategies for the skills graph: random acyclic taxonomies with related edges."""

from __future__ import annotations

from hypothesis import strategies as st

from skills.graph import SkillGraph, SkillSpec

# substitution costs as a supervisor would type them: 0.05 .. 3.00 in hundredths
costs = st.integers(min_value=5, max_value=300).map(lambda hundredths: hundredths / 100)


@st.composite
def taxonomy_specs(draw: st.DrawFn, max_skills: int = 10) -> list[SkillSpec]:
    """Skills ``k0``.. in a random forest (a parent always comes earlier in a shuffled order),
    with random related edges declared on a random side of each pair, in a shuffled list."""
    n = draw(st.integers(min_value=1, max_value=max_skills))
    order = draw(st.permutations([f"k{i}" for i in range(n)]))
    broader: dict[str, str | None] = {order[0]: None}
    for i in range(1, n):
        parent = draw(st.integers(min_value=-1, max_value=i - 1))  # -1: a root
        broader[order[i]] = None if parent < 0 else order[parent]
    related: dict[str, dict[str, float]] = {skill_id: {} for skill_id in order}
    if n > 1:
        pairs = st.tuples(st.sampled_from(order), st.sampled_from(order), costs, st.booleans())
        for a, b, cost, flip in draw(st.lists(pairs, max_size=2 * n)):
            if a != b and b not in related[a] and a not in related[b]:
                source, target = (b, a) if flip else (a, b)
                related[source][target] = cost
    specs = [
        SkillSpec(
            id=skill_id,
            name=f"Skill {skill_id}",
            broader=broader[skill_id],
            related=related[skill_id],
        )
        for skill_id in order
    ]
    return draw(st.permutations(specs))


@st.composite
def skill_graphs(draw: st.DrawFn, max_skills: int = 10) -> SkillGraph:
    """A built ``SkillGraph`` over ``taxonomy_specs`` with a random taxonomy cost."""
    return SkillGraph.build(draw(taxonomy_specs(max_skills)), taxonomy_cost=draw(costs))


radii = st.sampled_from([0.0, 0.3, 0.5, 1.0, 1.5, 2.0, 3.75]) | costs
