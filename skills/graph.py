"""The skills graph: taxonomy, substitutes, triage, coverage and export, as one immutable value.

A ``SkillGraph`` is built once from ``SkillSpec``s, validated, and never changes. The pool holds
the current graph; a change to any skill builds a new graph (``with_spec``, ``without`` or
``build``) and the pool swaps it in. So "caches invalidated on change" means the old graph and its
caches are dropped whole; nothing here is ever patched in place. The routing core reads
``substitutes_table`` once per swap and never calls networkx per decision.

Distance between skills is the cheapest path where a broader/narrower hop costs ``taxonomy_cost``
and a related edge its own cost. Costs are held as whole millionths (``UNIT``) so that sums are
exact: distance is symmetric, obeys the triangle inequality, and 0.1 + 0.2 lies within radius 0.3.
"""

from __future__ import annotations

import io
import math
import sys
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any, cast

import networkx as nx

from base.errors import GraphCycle, InvalidInput, NotFound
from skills.triage import TriageIndex, TriageMatch

__all__ = [
    "UNIT",
    "CoverageReport",
    "FragileSkill",
    "Holder",
    "SingleOrgSkill",
    "SkillGraph",
    "SkillSpec",
    "TriageMatch",
    "check_broader_change",
]

UNIT = 1_000_000  # costs are exact to a millionth
_UNBOUNDED = sys.maxsize
_SEPARATOR = "|"  # joins synonyms/keywords in GraphML, so no term may contain it

Substitutes = tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class SkillSpec:
    """One skill as a supervisor writes it; ``related`` is symmetric (declare it on one side)."""

    id: str
    name: str
    broader: str | None = None
    related: Mapping[str, float] = field(default_factory=dict, hash=False)
    synonyms: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "related", MappingProxyType(dict(self.related)))
        object.__setattr__(self, "synonyms", _terms(self.synonyms, "synonyms", self.id))
        object.__setattr__(self, "keywords", _terms(self.keywords, "keywords", self.id))


def _terms(value: Iterable[str], what: str, skill_id: str) -> tuple[str, ...]:
    if isinstance(value, str):
        raise InvalidInput(f"{what} of skill {skill_id} must be a list of phrases, not a string")
    terms = tuple(value)
    if any(_SEPARATOR in term for term in terms):
        raise InvalidInput(f"{what} of skill {skill_id} must not contain {_SEPARATOR!r}")
    return terms


@dataclass(frozen=True, slots=True, order=True)
class Holder:
    """An expert holding a skill, and the organisation they belong to."""

    expert_id: str
    org_id: str


@dataclass(frozen=True, slots=True)
class FragileSkill:
    skill_id: str
    holders: tuple[Holder, ...]


@dataclass(frozen=True, slots=True)
class SingleOrgSkill:
    skill_id: str
    org_id: str
    holders: int


@dataclass(frozen=True, slots=True)
class CoverageReport:
    """Gaps in the pool: skills nobody holds, few hold, or only one organisation holds."""

    uncovered: tuple[str, ...]
    fragile: tuple[FragileSkill, ...]
    single_org: tuple[SingleOrgSkill, ...]

    def to_json(self) -> dict[str, Any]:
        """Plain dicts and lists, sorted by skill id (holders by expert id)."""
        return {
            "uncovered": list(self.uncovered),
            "fragile": [
                {"skill_id": f.skill_id, "holders": [asdict(h) for h in f.holders]}
                for f in self.fragile
            ],
            "single_org": [asdict(s) for s in self.single_org],
        }


class SkillGraph:
    """An immutable, validated skills graph. Make one with ``SkillGraph.build``."""

    __slots__ = (
        "_balls",
        "_distances",
        "_narrower",
        "_parents",
        "_related",
        "_specs",
        "_taxonomy_units",
        "_tree",
        "_triage",
    )

    def __init__(
        self, specs: dict[str, SkillSpec], related: dict[tuple[str, str], int], taxonomy_units: int
    ) -> None:
        """Private: takes already validated parts. Use ``build``."""
        self._specs = specs
        self._related = related
        self._taxonomy_units = taxonomy_units
        self._parents = {sid: spec.broader for sid, spec in specs.items()}
        self._tree = nx.DiGraph()  # broader -> narrower
        self._tree.add_nodes_from(specs)
        self._tree.add_edges_from((p, c) for c, p in self._parents.items() if p is not None)
        self._distances = self._distance_graph()
        self._triage = TriageIndex.build(
            (s.id, (s.name, *s.synonyms), s.keywords) for s in specs.values()
        )
        self._balls: dict[str, tuple[int, Substitutes, tuple[int, ...]]] = {}
        self._narrower: dict[str, frozenset[str]] = {}

    @classmethod
    def build(cls, specs: Iterable[SkillSpec], *, taxonomy_cost: float = 0.5) -> SkillGraph:
        """Validate ``specs`` and build the graph; InvalidInput or GraphCycle says what is wrong."""
        by_id = _by_id(specs)
        _check_references(by_id)
        related = _related_units(by_id)
        cycle = _first_cycle({sid: spec.broader for sid, spec in by_id.items()})
        if cycle is not None:
            raise _cycle_error(cycle)
        return cls(by_id, related, _units(taxonomy_cost, "taxonomy_cost"))

    def with_spec(self, spec: SkillSpec) -> SkillGraph:
        """A new graph with ``spec`` added or replacing the skill of the same id."""
        others = (s for sid, s in self._specs.items() if sid != spec.id)
        return SkillGraph.build([*others, spec], taxonomy_cost=self.taxonomy_cost)

    def without(self, skill_id: str) -> SkillGraph:
        """A new graph without ``skill_id``; InvalidInput if other skills still refer to it."""
        self._require(skill_id)
        others = (s for sid, s in self._specs.items() if sid != skill_id)
        return SkillGraph.build(others, taxonomy_cost=self.taxonomy_cost)

    def _distance_graph(self) -> nx.Graph:
        graph = nx.Graph()
        graph.add_nodes_from(self._specs)
        for child, parent in self._parents.items():
            if parent is not None:
                graph.add_edge(child, parent, weight=self._taxonomy_units)
        for (a, b), units in self._related.items():
            current = graph.get_edge_data(a, b, default={"weight": units})["weight"]
            graph.add_edge(a, b, weight=min(current, units))
        return graph

    # -- plain lookups ------------------------------------------------------------------------

    @property
    def taxonomy_cost(self) -> float:
        return self._taxonomy_units / UNIT

    def ids(self) -> tuple[str, ...]:
        """Every skill id, sorted."""
        return tuple(self._specs)

    def specs(self) -> tuple[SkillSpec, ...]:
        """Every skill spec, sorted by id."""
        return tuple(self._specs.values())

    def spec(self, skill_id: str) -> SkillSpec:
        return self._specs[self._require(skill_id)]

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, skill_id: object) -> bool:
        return isinstance(skill_id, str) and skill_id in self._specs

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __repr__(self) -> str:
        return (
            f"<SkillGraph skills={len(self)} broader={self._tree.number_of_edges()}"
            f" related={len(self._related)} taxonomy_cost={self.taxonomy_cost:g}>"
        )

    def _require(self, skill_id: str) -> str:
        if skill_id not in self._specs:
            raise NotFound(f"unknown skill: {skill_id}", skill=skill_id)
        return skill_id

    # -- taxonomy -----------------------------------------------------------------------------

    def broader_of(self, skill_id: str) -> str | None:
        return self._parents[self._require(skill_id)]

    def ancestors(self, skill_id: str) -> tuple[str, ...]:
        """Broader skills, nearest first, up to the root."""
        chain: list[str] = []
        parent = self._parents[self._require(skill_id)]
        while parent is not None:
            chain.append(parent)
            parent = self._parents[parent]
        return tuple(chain)

    def narrower(self, skill_id: str, *, transitive: bool = True) -> frozenset[str]:
        """The skill itself and what lies under it (only its children when not ``transitive``)."""
        self._require(skill_id)
        if not transitive:
            return frozenset({skill_id, *self._tree.successors(skill_id)})
        if skill_id not in self._narrower:
            self._narrower[skill_id] = frozenset({skill_id, *nx.descendants(self._tree, skill_id)})
        return self._narrower[skill_id]

    def check_broader_change(self, skill_id: str, new_broader: str | None) -> None:
        """Refuse, before anything is written, a new broader skill that would close a cycle."""
        _check_change(self._parents, skill_id, new_broader)

    # -- substitutes --------------------------------------------------------------------------

    def distance(self, a: str, b: str) -> float:
        """Cheapest substitution cost from ``a`` to ``b``; ``math.inf`` when unconnected."""
        self._require(a)
        self._require(b)
        try:
            units = cast(int, nx.dijkstra_path_length(self._distances, a, b))
            return units / UNIT
        except nx.NetworkXNoPath:
            return math.inf

    def substitutes(self, skill_id: str, radius: float) -> Substitutes:
        """Skills within ``radius`` of ``skill_id`` (itself at 0.0), sorted by (cost, id)."""
        return self._within(self._require(skill_id), _radius_units(radius))

    def substitutes_table(self, max_radius: float) -> dict[str, Substitutes]:
        """``substitutes(id, max_radius)`` for every skill: what the routing core consumes."""
        units = _radius_units(max_radius)
        return {skill_id: self._within(skill_id, units) for skill_id in self._specs}

    def _within(self, skill_id: str, units: int) -> Substitutes:
        """Cached per skill at the widest radius asked so far; a narrower ask is a prefix."""
        cached = self._balls.get(skill_id)
        if cached is None or cached[0] < units:
            cutoff = None if units == _UNBOUNDED else units
            lengths = nx.single_source_dijkstra_path_length(self._distances, skill_id, cutoff)
            ordered = sorted((cost, other) for other, cost in lengths.items())
            entries = tuple((other, cost / UNIT) for cost, other in ordered)
            cached = (units, entries, tuple(cost for cost, _ in ordered))
            self._balls[skill_id] = cached
        radius, entries, costs = cached
        return entries if radius == units else entries[: bisect_right(costs, units)]

    # -- triage and coverage ------------------------------------------------------------------

    def triage(self, text: str, *, limit: int = 3) -> list[TriageMatch]:
        """Likely skills for free text, best first; see ``skills.triage`` for the scoring."""
        return self._triage.triage(text, limit=limit)

    def coverage(
        self, holders: Mapping[str, Collection[Holder]], *, fragile_max: int = 2
    ) -> CoverageReport:
        """Skills nobody holds, held by 1..``fragile_max`` experts, or held within one org."""
        unknown = sorted(set(holders) - set(self._specs))
        if unknown:
            raise InvalidInput(f"unknown skill(s): {', '.join(unknown)}", unknown=unknown)
        if fragile_max < 0:
            raise InvalidInput(f"fragile_max must be at least 0, got {fragile_max}")
        uncovered: list[str] = []
        fragile: list[FragileSkill] = []
        single_org: list[SingleOrgSkill] = []
        for skill_id in self._specs:
            held = tuple(sorted(set(holders.get(skill_id, ()))))
            orgs = {h.org_id for h in held}
            if not held:
                uncovered.append(skill_id)
            if 0 < len(held) <= fragile_max:
                fragile.append(FragileSkill(skill_id, held))
            if len(orgs) == 1:
                single_org.append(SingleOrgSkill(skill_id, orgs.pop(), len(held)))
        return CoverageReport(tuple(uncovered), tuple(fragile), tuple(single_org))

    # -- export -------------------------------------------------------------------------------

    def to_node_link(self) -> dict[str, Any]:
        """node-link JSON (networkx): nodes carry name/synonyms/keywords, edges kind and cost."""
        return cast(dict[str, Any], nx.node_link_data(self._export(flat=False), edges="edges"))

    @classmethod
    def from_node_link(cls, data: Mapping[str, Any]) -> SkillGraph:
        """The inverse of ``to_node_link``; InvalidInput when ``data`` is not such a graph."""
        try:
            graph = nx.node_link_graph(data, directed=True, multigraph=True, edges="edges")
            return cls.build(_specs_from_export(graph), **_graph_attrs(graph))
        except (AttributeError, KeyError, TypeError, ValueError, nx.NetworkXError) as exc:
            raise InvalidInput(f"not a skills graph in node-link form: {exc!r}") from None

    def to_graphml(self) -> str:
        """GraphML text (networkx); list attributes are joined with '|'."""
        buffer = io.BytesIO()
        nx.write_graphml(self._export(flat=True), buffer)
        return buffer.getvalue().decode("utf-8")

    def _export(self, *, flat: bool) -> nx.MultiDiGraph:
        """Broader edges run narrower -> broader; related edges once per pair, lower id first.

        An edge's key is its kind; ``flat`` (GraphML) makes keys unique over the whole graph, as
        tools like Gephi read them as edge ids.
        """

        def key(source: str, kind: str, target: str) -> str:
            return f"{source}:{kind}:{target}" if flat else kind

        tax = self.taxonomy_cost
        graph = nx.MultiDiGraph(taxonomy_cost=tax)
        for spec in self._specs.values():
            terms = (spec.synonyms, spec.keywords)
            synonyms, keywords = (_SEPARATOR.join(t) if flat else list(t) for t in terms)
            graph.add_node(spec.id, name=spec.name, synonyms=synonyms, keywords=keywords)
        for child, parent in self._parents.items():
            if parent is not None:
                graph.add_edge(
                    child, parent, key(child, "broader", parent), kind="broader", cost=tax
                )
        for (a, b), units in self._related.items():
            graph.add_edge(a, b, key(a, "related", b), kind="related", cost=units / UNIT)
        return graph


# -- validation helpers -------------------------------------------------------------------------


def _by_id(specs: Iterable[SkillSpec]) -> dict[str, SkillSpec]:
    """Specs keyed by id, sorted; empty ids, empty names and duplicates refused."""
    by_id: dict[str, SkillSpec] = {}
    for spec in specs:
        if not spec.id or not spec.name.strip():
            raise InvalidInput(f"a skill needs an id and a name, got {spec.id!r}/{spec.name!r}")
        if spec.id in by_id:
            raise InvalidInput(f"skill {spec.id} given twice", skill=spec.id)
        by_id[spec.id] = spec
    return dict(sorted(by_id.items()))


def _check_references(by_id: Mapping[str, SkillSpec]) -> None:
    problems: list[tuple[str, str, str]] = []
    for spec in by_id.values():
        if spec.broader is not None and spec.broader not in by_id:
            problems.append((spec.id, spec.broader, "broader"))
        problems.extend((spec.id, ref, "related") for ref in spec.related if ref not in by_id)
    if problems:
        problems.sort()
        listed = ", ".join(f"{src} -> {ref} ({kind})" for src, ref, kind in problems)
        unknown = sorted({ref for _, ref, _ in problems})
        raise InvalidInput(f"unknown skill referenced: {listed}", unknown=unknown)


def _related_units(by_id: Mapping[str, SkillSpec]) -> dict[tuple[str, str], int]:
    """Related costs per unordered pair (lower id first); one pair declared twice must agree."""
    units_by_pair: dict[tuple[str, str], int] = {}
    for spec in by_id.values():
        for other, cost in spec.related.items():
            if other == spec.id:
                raise InvalidInput(f"skill {spec.id} cannot be related to itself")
            units = _units(cost, f"related cost {spec.id} -> {other}")
            pair = (min(spec.id, other), max(spec.id, other))
            if units_by_pair.setdefault(pair, units) != units:
                raise InvalidInput(
                    f"related cost {pair[0]} <-> {pair[1]} given twice with different values"
                )
    return dict(sorted(units_by_pair.items()))


def _units(value: object, what: str) -> int:
    """A positive cost as whole millionths."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{what} must be a number, got {value!r}")
    if not math.isfinite(value) or round(value * UNIT) < 1:
        raise InvalidInput(f"{what} must be a positive number (at least {1 / UNIT:g})")
    return round(value * UNIT)


def _radius_units(radius: float) -> int:
    if isinstance(radius, bool) or not isinstance(radius, int | float) or not radius >= 0:
        raise InvalidInput(f"radius must be a number >= 0, got {radius!r}")
    return _UNBOUNDED if math.isinf(radius) else round(radius * UNIT)


def _walk(
    parents: Mapping[str, str | None], start: str, done: Collection[str] = ()
) -> tuple[list[str], list[str] | None]:
    """Follow broader links from ``start``: the path taken, and the cycle it ran into if any."""
    path: list[str] = []
    position: dict[str, int] = {}
    node: str | None = start
    while node is not None and node not in done:
        if node in position:
            return path, path[position[node] :]
        position[node] = len(path)
        path.append(node)
        node = parents.get(node)
    return path, None


def _first_cycle(parents: Mapping[str, str | None]) -> list[str] | None:
    """A broader cycle, starting at its smallest id; None when the taxonomy is a forest."""
    done: set[str] = set()
    for start in sorted(parents):
        path, cycle = _walk(parents, start, done)
        if cycle is not None:
            first = cycle.index(min(cycle))
            return cycle[first:] + cycle[:first]
        done.update(path)
    return None


def _cycle_error(cycle: list[str]) -> GraphCycle:
    closed = [*cycle, cycle[0]]
    return GraphCycle(f"broader cycle: {' -> '.join(closed)}", cycle=closed)


def _check_change(parents: Mapping[str, str | None], skill_id: str, new: str | None) -> None:
    if skill_id not in parents:
        raise NotFound(f"unknown skill: {skill_id}", skill=skill_id)
    if new is not None and new not in parents:
        raise InvalidInput(
            f"unknown skill referenced: {skill_id} -> {new} (broader)", unknown=[new]
        )
    _, cycle = _walk({**parents, skill_id: new}, skill_id)
    if cycle is not None:
        raise _cycle_error(cycle)


def check_broader_change(
    specs: Iterable[SkillSpec], skill_id: str, new_broader: str | None
) -> None:
    """Refuse setting ``skill_id``'s broader skill to ``new_broader`` if that closes a cycle.

    Raises NotFound (unknown skill), InvalidInput (unknown broader) or GraphCycle naming the
    cycle from ``skill_id``: "a -> b -> a". Nothing is built or written.
    """
    _check_change({spec.id: spec.broader for spec in specs}, skill_id, new_broader)


# -- node-link import ---------------------------------------------------------------------------


def _graph_attrs(graph: nx.MultiDiGraph) -> dict[str, float]:
    return {"taxonomy_cost": graph.graph["taxonomy_cost"]} if "taxonomy_cost" in graph.graph else {}


def _specs_from_export(graph: nx.MultiDiGraph) -> list[SkillSpec]:
    broader: dict[str, str] = {}
    related: dict[str, dict[str, float]] = defaultdict(dict)
    for source, target, attrs in graph.edges(data=True):
        kind = attrs.get("kind")
        if kind == "broader" and broader.setdefault(source, target) == target:
            continue
        if kind == "related":
            related[source][target] = attrs["cost"]
            continue
        raise InvalidInput(f"edge {source} -> {target}: bad kind {kind!r} or a second broader")
    return [
        SkillSpec(
            id=node,
            name=attrs.get("name", node),
            broader=broader.get(node),
            related=related.get(node, {}),
            synonyms=tuple(attrs.get("synonyms", ())),
            keywords=tuple(attrs.get("keywords", ())),
        )
        for node, attrs in graph.nodes(data=True)
    ]
