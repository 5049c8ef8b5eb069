"""The skills graph: validation, taxonomy, substitutes, triage, coverage and export."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import networkx as nx
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from base.errors import GraphCycle, InvalidInput, NotFound
from skills.graph import (
    CoverageReport,
    Holder,
    SkillGraph,
    SkillSpec,
    check_broader_change,
)
from skills.triage import STRONG, WEAK, words
from tests.strategies_graph import radii, skill_graphs, taxonomy_specs

REPROMPT_BELOW = 0.35  # the IVR asks again when the best score is under this

UK_SKILLS = (
    SkillSpec("health-care", "Health care"),
    SkillSpec(
        "dementia",
        "Dementia",
        broader="health-care",
        related={"carers-support": 1.0, "mental-health": 1.5},
        synonyms=("memory loss", "alzheimer's", "memory clinic"),
        keywords=("forgetting", "getting lost", "wandering", "confused"),
    ),
    SkillSpec(
        "mental-health",
        "Mental health",
        broader="health-care",
        synonyms=("anxiety", "depression", "panic attacks"),
        keywords=("stressed", "low mood", "can't sleep"),
    ),
    SkillSpec(
        "crisis-support",
        "Crisis support",
        broader="mental-health",
        synonyms=("suicidal", "self-harm", "end my life"),
        keywords=("can't go on", "hopeless"),
    ),
    SkillSpec("social-care", "Social care"),
    SkillSpec(
        "carers-support",
        "Carers support",
        broader="social-care",
        synonyms=("young carer", "respite care", "carer's assessment"),
        keywords=("looking after", "caring for", "exhausted", "full time", "carer's allowance"),
    ),
    SkillSpec(
        "adult-safeguarding",
        "Adult safeguarding",
        broader="social-care",
        related={"domestic-abuse": 0.75},
        synonyms=("elder abuse", "vulnerable adult"),
        keywords=("neglect", "taking advantage", "financial abuse"),
    ),
    SkillSpec(
        "domestic-abuse",
        "Domestic abuse",
        broader="social-care",
        related={"homelessness": 1.5},
        synonyms=("domestic violence", "coercive control"),
        keywords=("hits me", "partner", "scared", "controlling", "threatening"),
    ),
    SkillSpec("housing", "Housing"),
    SkillSpec(
        "homelessness",
        "Homelessness",
        broader="housing",
        synonyms=("homeless", "nowhere to live", "sleeping rough"),
        keywords=("evicted", "kicked out", "sofa surfing", "section 21"),
    ),
    SkillSpec(
        "housing-repairs",
        "Housing repairs",
        broader="housing",
        synonyms=("damp and mould", "disrepair"),
        keywords=("damp", "mould", "leak", "boiler", "landlord"),
    ),
    SkillSpec("money", "Money and benefits"),
    SkillSpec(
        "benefits",
        "Benefits",
        broader="money",
        related={"debt": 0.5},
        synonyms=("universal credit", "pip", "carer's allowance", "attendance allowance"),
        keywords=("sanction", "claim", "dwp", "payment", "stopped"),
    ),
    SkillSpec(
        "debt",
        "Debt",
        broader="money",
        synonyms=("arrears", "bailiffs", "debt advice"),
        keywords=("owe", "can't pay", "council tax", "bills"),
    ),
)


@pytest.fixture(scope="module")
def uk() -> SkillGraph:
    return SkillGraph.build(UK_SKILLS)


def specs(*rows: tuple[str, str | None]) -> list[SkillSpec]:
    """Bare skills from (id, broader) rows."""
    return [SkillSpec(skill_id, skill_id.title(), broader=parent) for skill_id, parent in rows]


# -- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "named", "unknown"),
    [
        ([SkillSpec("a", "A", broader="nope")], "a -> nope (broader)", ["nope"]),
        ([SkillSpec("a", "A", related={"ghost": 1.0})], "a -> ghost (related)", ["ghost"]),
        (
            [SkillSpec("b", "B", broader="zz", related={"yy": 1.0}), SkillSpec("a", "A")],
            "b -> yy (related), b -> zz (broader)",
            ["yy", "zz"],
        ),
    ],
)
def test_unknown_references_are_refused_and_named(
    rows: list[SkillSpec], named: str, unknown: list[str]
) -> None:
    with pytest.raises(InvalidInput) as err:
        SkillGraph.build(rows)
    assert err.value.message == f"unknown skill referenced: {named}"
    assert err.value.details["unknown"] == unknown


@pytest.mark.parametrize("cost", [0, -1, 0.0000001, math.nan, math.inf, "cheap", True, None])
def test_a_related_cost_must_be_a_positive_number(cost: object) -> None:
    rows = [SkillSpec("a", "A", related={"b": cost}), SkillSpec("b", "B")]  # type: ignore[dict-item]
    with pytest.raises(InvalidInput, match="related cost a -> b must be a"):
        SkillGraph.build(rows)


@pytest.mark.parametrize("taxonomy_cost", [0, -0.5, math.nan])
def test_the_taxonomy_cost_must_be_positive(taxonomy_cost: float) -> None:
    with pytest.raises(InvalidInput, match="taxonomy_cost"):
        SkillGraph.build(specs(("a", None)), taxonomy_cost=taxonomy_cost)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([SkillSpec("a", "A"), SkillSpec("a", "Again")], "skill a given twice"),
        ([SkillSpec("a", "A", related={"a": 1.0})], "skill a cannot be related to itself"),
        (
            [SkillSpec("a", "A", related={"b": 1.0}), SkillSpec("b", "B", related={"a": 2.0})],
            "related cost a <-> b given twice with different values",
        ),
        ([SkillSpec("a", "  ")], "a skill needs an id and a name"),
        ([SkillSpec("", "Nameless")], "a skill needs an id and a name"),
        ([SkillSpec("a", "A", synonyms=("?!",))], "term '?!' of skill a has no letters"),
    ],
)
def test_inconsistent_specs_are_refused(rows: list[SkillSpec], message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("?", r"\?")):
        SkillGraph.build(rows)


def test_a_related_edge_may_be_declared_on_both_sides_when_they_agree() -> None:
    rows = [SkillSpec("a", "A", related={"b": 0.7}), SkillSpec("b", "B", related={"a": 0.7})]
    assert SkillGraph.build(rows).distance("b", "a") == 0.7


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("synonyms", "memory loss", "must be a list of phrases"),
        ("keywords", ("lost|found",), "must not contain '|'"),
    ],
)
def test_terms_are_phrase_lists_without_the_export_separator(
    field: str, value: object, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        SkillSpec("a", "A", **{field: value})  # type: ignore[arg-type]


def test_a_spec_keeps_its_own_copy_of_related() -> None:
    related = {"b": 1.0}
    spec = SkillSpec("a", "A", related=related)
    related["c"] = 2.0
    assert dict(spec.related) == {"b": 1.0}
    assert hash(spec) == hash(SkillSpec("a", "A", related={"b": 1.0}))


# -- cycles ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "cycle"),
    [
        ([("a", "a")], "a -> a"),
        ([("a", "b"), ("b", "a")], "a -> b -> a"),
        ([("a", "b"), ("b", "c"), ("c", "d"), ("d", "a"), ("e", "a")], "a -> b -> c -> d -> a"),
        ([("c", "a"), ("a", "b"), ("b", "c"), ("root", None)], "a -> b -> c -> a"),
    ],
    ids=["self", "direct", "long-with-tail", "declared-out-of-order"],
)
def test_a_broader_cycle_is_refused_and_named(rows: list[tuple[str, str]], cycle: str) -> None:
    with pytest.raises(GraphCycle) as err:
        SkillGraph.build(specs(*rows))
    assert err.value.message == f"broader cycle: {cycle}"
    assert err.value.details["cycle"] == cycle.split(" -> ")
    assert err.value.status == 422


@pytest.mark.parametrize(
    ("skill_id", "new_broader", "cycle"),
    [
        ("dementia", "dementia", "dementia -> dementia"),
        ("health-care", "dementia", "health-care -> dementia -> health-care"),
        (
            "health-care",
            "crisis-support",
            "health-care -> crisis-support -> mental-health -> health-care",
        ),
    ],
)
def test_a_patch_closing_a_cycle_is_refused_before_anything_is_built(
    uk: SkillGraph, skill_id: str, new_broader: str, cycle: str
) -> None:
    for check in (
        lambda: uk.check_broader_change(skill_id, new_broader),
        lambda: check_broader_change(UK_SKILLS, skill_id, new_broader),
    ):
        with pytest.raises(GraphCycle, match=f"^broader cycle: {cycle}$"):
            check()


@pytest.mark.parametrize(
    ("skill_id", "new_broader"),
    [("dementia", "social-care"), ("dementia", None), ("health-care", "money")],
)
def test_a_patch_keeping_the_taxonomy_a_forest_is_accepted(
    uk: SkillGraph, skill_id: str, new_broader: str | None
) -> None:
    uk.check_broader_change(skill_id, new_broader)
    moved = uk.with_spec(replace(uk.spec(skill_id), broader=new_broader))
    assert moved.broader_of(skill_id) == new_broader
    assert uk.broader_of(skill_id) == dict((s.id, s.broader) for s in UK_SKILLS)[skill_id]


def test_a_patch_naming_unknown_skills_is_refused(uk: SkillGraph) -> None:
    with pytest.raises(NotFound, match="unknown skill: nope"):
        uk.check_broader_change("nope", "dementia")
    with pytest.raises(InvalidInput, match=r"dementia -> nope \(broader\)"):
        uk.check_broader_change("dementia", "nope")


def test_removing_a_skill_others_refer_to_is_refused(uk: SkillGraph) -> None:
    with pytest.raises(InvalidInput, match=r"dementia -> health-care \(broader\)"):
        uk.without("health-care")
    smaller = uk.without("crisis-support")
    assert "crisis-support" not in smaller
    assert "crisis-support" in uk
    assert len(smaller) == len(uk) - 1


# -- taxonomy -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("skill_id", "transitive", "expected"),
    [
        ("health-care", True, {"health-care", "dementia", "mental-health", "crisis-support"}),
        ("health-care", False, {"health-care", "dementia", "mental-health"}),
        ("mental-health", True, {"mental-health", "crisis-support"}),
        ("dementia", True, {"dementia"}),
    ],
)
def test_narrower_is_the_skill_and_everything_under_it(
    uk: SkillGraph, skill_id: str, transitive: bool, expected: set[str]
) -> None:
    assert uk.narrower(skill_id, transitive=transitive) == expected


@pytest.mark.parametrize(
    ("skill_id", "broader", "ancestors"),
    [
        ("crisis-support", "mental-health", ("mental-health", "health-care")),
        ("dementia", "health-care", ("health-care",)),
        ("housing", None, ()),
    ],
)
def test_broader_and_ancestors(
    uk: SkillGraph, skill_id: str, broader: str | None, ancestors: tuple[str, ...]
) -> None:
    assert uk.broader_of(skill_id) == broader
    assert uk.ancestors(skill_id) == ancestors


def test_lookups_of_an_unknown_skill_are_not_found(uk: SkillGraph) -> None:
    for lookup in (uk.broader_of, uk.ancestors, uk.narrower, uk.spec):
        with pytest.raises(NotFound, match="unknown skill: nope"):
            lookup("nope")
    with pytest.raises(NotFound):
        uk.substitutes("nope", 1.0)


def test_the_graph_reads_as_a_collection_of_ids(uk: SkillGraph) -> None:
    assert len(uk) == len(UK_SKILLS)
    assert "dementia" in uk
    assert "nope" not in uk
    assert 3 not in uk
    assert uk.ids() == tuple(sorted(s.id for s in UK_SKILLS)) == tuple(uk)
    assert repr(uk) == "<SkillGraph skills=14 broader=10 related=5 taxonomy_cost=0.5>"


# -- distance and substitutes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "taxonomy_cost", "expected"),
    [
        ("dementia", "dementia", 0.5, 0.0),
        ("dementia", "health-care", 0.5, 0.5),  # one taxonomy hop
        ("crisis-support", "health-care", 0.5, 1.0),  # two hops up
        ("dementia", "mental-health", 0.5, 1.0),  # siblings beat the 1.5 related edge
        ("dementia", "mental-health", 1.0, 1.5),  # ... until the taxonomy costs more
        ("dementia", "carers-support", 0.5, 1.0),  # related edge across trees
        ("carers-support", "dementia", 0.5, 1.0),  # declared on one side, symmetric
        ("dementia", "domestic-abuse", 0.5, 2.0),  # related, up, down
        ("domestic-abuse", "adult-safeguarding", 0.5, 0.75),  # related beats siblings
        ("crisis-support", "carers-support", 0.5, 2.5),
        ("dementia", "housing-repairs", 0.5, 4.5),
        ("dementia", "debt", 0.5, math.inf),  # nothing links health to money
    ],
)
def test_distance(a: str, b: str, taxonomy_cost: float, expected: float) -> None:
    graph = SkillGraph.build(UK_SKILLS, taxonomy_cost=taxonomy_cost)
    assert graph.distance(a, b) == expected
    assert graph.distance(b, a) == expected


@pytest.mark.parametrize(
    ("skill_id", "radius", "expected"),
    [
        ("dementia", 0.0, [("dementia", 0.0)]),
        ("dementia", 0.5, [("dementia", 0.0), ("health-care", 0.5)]),
        ("dementia", 0.99, [("dementia", 0.0), ("health-care", 0.5)]),
        (
            "dementia",
            1.0,
            [
                ("dementia", 0.0),
                ("health-care", 0.5),
                ("carers-support", 1.0),
                ("mental-health", 1.0),
            ],
        ),
        ("benefits", 0.5, [("benefits", 0.0), ("debt", 0.5), ("money", 0.5)]),
        ("benefits", math.inf, [("benefits", 0.0), ("debt", 0.5), ("money", 0.5)]),
    ],
)
def test_substitutes_within_a_radius_sorted_by_cost_then_id(
    uk: SkillGraph, skill_id: str, radius: float, expected: list[tuple[str, float]]
) -> None:
    assert uk.substitutes(skill_id, radius) == tuple(expected)
    assert uk.substitutes_table(radius)[skill_id] == tuple(expected)


def test_costs_add_up_exactly_at_the_radius() -> None:
    rows = [
        SkillSpec("a", "A", related={"b": 0.1}),
        SkillSpec("b", "B", related={"c": 0.2}),
        SkillSpec("c", "C"),
    ]
    assert SkillGraph.build(rows).substitutes("a", 0.3) == (("a", 0.0), ("b", 0.1), ("c", 0.3))


@pytest.mark.parametrize("radius", [-0.1, math.nan, "far"])
def test_a_radius_must_be_a_number_at_least_zero(uk: SkillGraph, radius: float) -> None:
    with pytest.raises(InvalidInput, match="radius"):
        uk.substitutes("dementia", radius)
    with pytest.raises(InvalidInput, match="radius"):
        uk.substitutes_table(radius)


def test_the_substitutes_table_covers_every_skill_and_is_reused() -> None:
    uk = SkillGraph.build(UK_SKILLS)
    table = uk.substitutes_table(2.0)
    assert set(table) == set(uk.ids())
    assert all(entries[0] == (skill_id, 0.0) for skill_id, entries in table.items())
    again = uk.substitutes_table(2.0)
    assert all(again[skill_id] is table[skill_id] for skill_id in table)


# -- triage ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Forgetting", ("forget",)),
        ("wandering off", ("wander", "off")),
        ("Alzheimer\u2019s", ("alzheimer",)),
        ("ALZHEIMERS", ("alzheimer",)),
        ("gets lost", ("get", "lost")),
        ("got lost", ("get", "lost")),
        ("houses, housing!", ("hous", "hous")),
        ("worried", ("worry",)),
        ("self-harm", ("self", "harm")),
        ("can't pay", ("cant", "pay")),
        ("na\u00efve caf\u00e9", ("naiv", "caf")),
        ("calling", ("call",)),
        ("needed", ("need",)),
        ("!!! ...", ()),
    ],
)
def test_words_normalise_and_stem(text: str, expected: tuple[str, ...]) -> None:
    assert words(text) == expected


@pytest.mark.parametrize(
    ("text", "skill_id", "matched"),
    [
        (
            "my mum keeps forgetting things and getting lost",
            "dementia",
            ("forgetting", "getting lost"),
        ),
        (
            "Dad's got Alzheimer\u2019s and he keeps wandering off at night",
            "dementia",
            ("alzheimer's", "wandering"),
        ),
        ("SHE KEEPS WANDERING OFF AND GETS CONFUSED!!", "dementia", ("wandering", "confused")),
        (
            "I look after my husband full time and I'm exhausted",
            "carers-support",
            ("looking after", "full time", "exhausted"),
        ),
        ("I'm a young carer for my mum", "carers-support", ("young carer",)),
        (
            "my partner hits me and I'm scared to go home",
            "domestic-abuse",
            ("partner", "hits me", "scared"),
        ),
        ("he's very controlling and threatening", "domestic-abuse", ("controlling", "threatening")),
        (
            "we've been evicted and have nowhere to live",
            "homelessness",
            ("evicted", "nowhere to live"),
        ),
        ("I'm sleeping rough", "homelessness", ("sleeping rough",)),
        (
            "there's damp and mould all over the kids' bedroom",
            "housing-repairs",
            ("damp and mould",),
        ),
        (
            "my Universal Credit payment has been stopped",
            "benefits",
            ("universal credit", "payment", "stopped"),
        ),
        ("I need help with my PIP claim", "benefits", ("pip", "claim")),
        ("my mum's carer's allowance has stopped", "benefits", ("carer's allowance", "stopped")),
        (
            "I can't pay my council tax and the bailiffs are coming",
            "debt",
            ("can't pay", "council tax", "bailiffs"),
        ),
        ("I've had anxiety and depression for months", "mental-health", ("anxiety", "depression")),
        ("I want to end my life", "crisis-support", ("end my life",)),
        (
            "it's elder abuse, they're taking advantage of him",
            "adult-safeguarding",
            ("elder abuse", "taking advantage"),
        ),
        ("can I speak to someone about debt", "debt", ("Debt",)),
    ],
)
def test_triage_of_what_citizens_say(
    uk: SkillGraph, text: str, skill_id: str, matched: tuple[str, ...]
) -> None:
    best = uk.triage(text)[0]
    assert (best.skill_id, best.matched) == (skill_id, matched)
    assert best.score >= REPROMPT_BELOW


@pytest.mark.parametrize(
    "text", ["", "   ", "?!", "asdf qwerty", "hello, is anyone there", "\u0645"]
)
def test_triage_of_nothing_useful_is_empty(uk: SkillGraph, text: str) -> None:
    assert uk.triage(text) == []


def test_one_weak_hint_is_not_enough_to_route_but_two_are(uk: SkillGraph) -> None:
    one = uk.triage("she gets confused")[0]
    two = uk.triage("she gets confused and forgetting")[0]
    three = uk.triage("she gets confused, forgetting, wandering")[0]
    strong = uk.triage("memory loss")[0]
    assert one.score == WEAK < REPROMPT_BELOW
    assert REPROMPT_BELOW <= two.score < 2 * WEAK
    assert two.score < three.score < 1.0
    assert strong.score > STRONG


def test_a_repeated_or_overlapping_hint_counts_once() -> None:
    graph = SkillGraph.build([SkillSpec("d", "Dementia", keywords=("lost", "getting lost"))])
    once = graph.triage("getting lost")
    assert graph.triage("getting lost, getting lost, getting lost") == once
    assert once[0].matched == ("getting lost",)


def test_ties_are_broken_by_skill_id_and_limited() -> None:
    graph = SkillGraph.build(
        [SkillSpec(skill_id, skill_id.upper(), synonyms=("help",)) for skill_id in "cab"]
    )
    assert [m.skill_id for m in graph.triage("help")] == ["a", "b", "c"]
    assert [m.skill_id for m in graph.triage("help", limit=2)] == ["a", "b"]
    with pytest.raises(InvalidInput, match="limit"):
        graph.triage("help", limit=0)


def test_an_ambiguous_phrase_ranks_the_synonym_above_the_keyword(uk: SkillGraph) -> None:
    ranked = [m.skill_id for m in uk.triage("carer's allowance")]
    assert ranked == ["benefits", "carers-support"]


# -- coverage -------------------------------------------------------------------------------------

E1, E2, E3 = Holder("e1", "nhs-leeds"), Holder("e2", "age-uk"), Holder("e3", "age-uk")
E4, E5 = Holder("e4", "cardiff-council"), Holder("e5", "cardiff-council")
POOL = SkillGraph.build(specs(("a", None), ("b", "a"), ("c", "a"), ("d", None)))


@pytest.mark.parametrize(
    ("holders", "fragile_max", "expected"),
    [
        (
            {"b": [E1, E1], "c": [E1, E2, E3], "d": [E4, E5]},
            2,
            {
                "uncovered": ["a"],
                "fragile": [
                    {"skill_id": "b", "holders": [{"expert_id": "e1", "org_id": "nhs-leeds"}]},
                    {
                        "skill_id": "d",
                        "holders": [
                            {"expert_id": "e4", "org_id": "cardiff-council"},
                            {"expert_id": "e5", "org_id": "cardiff-council"},
                        ],
                    },
                ],
                "single_org": [
                    {"skill_id": "b", "org_id": "nhs-leeds", "holders": 1},
                    {"skill_id": "d", "org_id": "cardiff-council", "holders": 2},
                ],
            },
        ),
        (
            {"a": [E3, E2], "b": [E1, E4], "c": [E1, E2, E4], "d": []},
            0,
            {
                "uncovered": ["d"],
                "fragile": [],
                "single_org": [{"skill_id": "a", "org_id": "age-uk", "holders": 2}],
            },
        ),
        ({}, 2, {"uncovered": ["a", "b", "c", "d"], "fragile": [], "single_org": []}),
    ],
)
def test_coverage_finds_gaps_and_single_points_of_failure(
    holders: dict[str, list[Holder]], fragile_max: int, expected: dict[str, object]
) -> None:
    report = POOL.coverage(holders, fragile_max=fragile_max)
    assert isinstance(report, CoverageReport)
    assert report.to_json() == expected
    assert json.loads(json.dumps(report.to_json())) == expected


def test_coverage_refuses_unknown_skills_and_a_negative_threshold() -> None:
    with pytest.raises(InvalidInput, match="unknown skill\\(s\\): zz"):
        POOL.coverage({"zz": [E1]})
    with pytest.raises(InvalidInput, match="fragile_max"):
        POOL.coverage({}, fragile_max=-1)


# -- export ---------------------------------------------------------------------------------------


def test_node_link_is_json_and_round_trips(uk: SkillGraph) -> None:
    data = json.loads(json.dumps(uk.to_node_link()))
    dementia = next(node for node in data["nodes"] if node["id"] == "dementia")
    assert dementia["synonyms"] == ["memory loss", "alzheimer's", "memory clinic"]
    assert {(e["source"], e["target"], e["kind"], e["cost"]) for e in data["edges"]} >= {
        ("dementia", "health-care", "broader", 0.5),
        ("carers-support", "dementia", "related", 1.0),
    }
    again = SkillGraph.from_node_link(data)
    assert again.to_node_link() == data
    assert again.triage("getting lost") == uk.triage("getting lost")


@pytest.mark.parametrize(
    "data",
    [{}, {"nodes": "x"}, {"nodes": [{"id": "a"}], "edges": [{"source": "a", "target": "a"}]}],
)
def test_node_link_that_is_not_a_skills_graph_is_refused(data: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        SkillGraph.from_node_link(data)


def test_graphml_parses_back_with_networkx(uk: SkillGraph) -> None:
    parsed = nx.parse_graphml(uk.to_graphml(), force_multigraph=True)
    assert sorted(parsed.nodes) == sorted(uk.ids())
    assert parsed.graph["taxonomy_cost"] == 0.5
    assert parsed.nodes["dementia"]["name"] == "Dementia"
    assert parsed.nodes["dementia"]["keywords"].split("|") == list(uk.spec("dementia").keywords)
    edges = {(a, b, d["kind"], d["cost"]) for a, b, d in parsed.edges(data=True)}
    assert ("crisis-support", "mental-health", "broader", 0.5) in edges
    assert ("adult-safeguarding", "domestic-abuse", "related", 0.75) in edges
    assert len(edges) == 10 + 5
    keys = [key for _, _, key in parsed.edges(keys=True)]
    assert len(set(keys)) == len(keys)


# -- properties -----------------------------------------------------------------------------------


def floyd_warshall(graph: SkillGraph) -> dict[tuple[str, str], float]:
    """Distances by the book, from the specs alone: the oracle for ``distance``."""
    ids = graph.ids()
    dist = {(a, b): 0.0 if a == b else math.inf for a in ids for b in ids}

    def link(a: str, b: str, cost: float) -> None:
        dist[a, b] = dist[b, a] = min(dist[a, b], cost)

    for spec in graph.specs():
        if spec.broader is not None:
            link(spec.id, spec.broader, graph.taxonomy_cost)
        for other, cost in spec.related.items():
            link(spec.id, other, cost)
    for k in ids:
        for i in ids:
            for j in ids:
                dist[i, j] = min(dist[i, j], dist[i, k] + dist[k, j])
    return dist


@given(skill_graphs())
def test_distance_is_the_shortest_path_symmetric_and_zero_on_itself(graph: SkillGraph) -> None:
    oracle = floyd_warshall(graph)
    for (a, b), expected in oracle.items():
        assert graph.distance(a, b) == pytest.approx(expected, abs=1e-9)
        assert graph.distance(a, b) == graph.distance(b, a)
    assert all(graph.distance(a, a) == 0.0 for a in graph.ids())


@given(skill_graphs(max_skills=7))
def test_distance_obeys_the_triangle_inequality(graph: SkillGraph) -> None:
    ids = graph.ids()
    d = {(a, b): graph.distance(a, b) for a in ids for b in ids}
    for a in ids:
        for b in ids:
            for c in ids:
                assert d[a, c] <= d[a, b] + d[b, c] + 1e-9


@given(skill_graphs(), radii, radii)
def test_substitutes_are_exactly_the_skills_within_the_radius(
    graph: SkillGraph, first: float, second: float
) -> None:
    table = graph.substitutes_table(first)  # the cache, then a wider or narrower ask
    for a in graph.ids():
        for radius in (first, second):
            within = [(b, graph.distance(a, b)) for b in graph.ids()]
            expected = sorted(
                ((b, d) for b, d in within if d <= radius), key=lambda e: (e[1], e[0])
            )
            assert graph.substitutes(a, radius) == tuple(expected)
        assert table[a] == graph.substitutes(a, first)


@given(skill_graphs(), st.data())
def test_a_broader_change_into_the_skill_s_own_subtree_is_always_refused(
    graph: SkillGraph, data: st.DataObject
) -> None:
    x = data.draw(st.sampled_from(graph.ids()))
    y = data.draw(st.sampled_from(sorted(graph.narrower(x))))
    with pytest.raises(GraphCycle) as checked:
        graph.check_broader_change(x, y)
    assert checked.value.message.startswith(f"broader cycle: {x} -> {y}")
    assert checked.value.message.endswith(f" -> {x}")
    with pytest.raises(GraphCycle) as built:
        graph.with_spec(replace(graph.spec(x), broader=y))
    assert set(built.value.details["cycle"]) == set(checked.value.details["cycle"])


@given(skill_graphs(), st.data())
def test_a_broader_change_outside_the_subtree_is_accepted(
    graph: SkillGraph, data: st.DataObject
) -> None:
    x = data.draw(st.sampled_from(graph.ids()))
    outside = sorted(set(graph.ids()) - graph.narrower(x))
    assume(outside)
    y = data.draw(st.sampled_from(outside))
    graph.check_broader_change(x, y)
    assert graph.with_spec(replace(graph.spec(x), broader=y)).ancestors(x)[0] == y


@given(skill_graphs())
def test_narrower_holds_the_skill_and_is_closed_under_children(graph: SkillGraph) -> None:
    children = {a: {s.id for s in graph.specs() if s.broader == a} for a in graph.ids()}
    for x in graph.ids():
        below = graph.narrower(x)
        assert x in below
        assert all(children[y] <= below for y in below)
        assert all(x in graph.ancestors(y) for y in below - {x})
        assert graph.narrower(x, transitive=False) == {x} | children[x]


@given(taxonomy_specs())
def test_build_does_not_depend_on_the_order_of_specs(rows: list[SkillSpec]) -> None:
    assert SkillGraph.build(rows).to_node_link() == SkillGraph.build(rows[::-1]).to_node_link()


@given(skill_graphs())
def test_node_link_round_trips_any_graph(graph: SkillGraph) -> None:
    again = SkillGraph.from_node_link(json.loads(json.dumps(graph.to_node_link())))
    assert again.to_node_link() == graph.to_node_link()
    assert again.substitutes_table(math.inf) == graph.substitutes_table(math.inf)


@given(skill_graphs(), st.text(max_size=60), st.integers(min_value=1, max_value=4))
def test_triage_answers_any_text_with_ranked_confidences(
    graph: SkillGraph, text: str, limit: int
) -> None:
    matches = graph.triage(text, limit=limit)
    assert len(matches) <= limit
    assert all(0.0 < m.score <= 1.0 and m.skill_id in graph for m in matches)
    assert matches == sorted(matches, key=lambda m: (-m.score, m.skill_id))


@given(skill_graphs())
def test_a_skill_s_own_name_triages_to_it_first(graph: SkillGraph) -> None:
    for spec in graph.specs():
        best = graph.triage(f"I need {spec.name}, please")[0]
        assert best.skill_id == spec.id
        assert best.score >= REPROMPT_BELOW


@given(st.text(min_size=1, max_size=30).filter(lambda t: "|" not in t), st.text(max_size=20))
def test_a_term_is_found_wherever_it_is_said(term: str, noise: str) -> None:
    assume(words(term) and "xylophon" not in words(term))
    graph = SkillGraph.build([SkillSpec("x", "Xylophone", keywords=(term,))])
    best = graph.triage(f"{noise} {term} ok")[0]
    assert best.skill_id == "x"
    assert term in best.matched
