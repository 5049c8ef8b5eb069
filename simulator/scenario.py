"""Scenario files (docs/simulator.md): parse, validate, and turn into core inputs.

    scenario = load_scenario("examples/erlang-classic.toml")
    scenario.routing_config()     # the RoutingConfig the core runs with
    scenario.pool()               # substitutes from the scenario's skills graph

Every problem is a ``base.errors.BadRequest`` naming the file, line and key, e.g.
``scenario.toml:14: demand[1].per_hour: must be > 0``; unknown keys are refused.

Optional keys (all documented in ``docs/simulator.md``):
``[simulation]`` ``offer_timeout_s`` (20), ``taxonomy_cost`` (0.5), ``steps`` (an array of
``{after_s, max_cost, min_proficiency}``; default ``router.model.DEFAULT_STEPS``),
``escalation`` (``target``: steps come due from the target, ``router.escalation``; ``fixed``:
at each step's ``after_s``), ``service_level`` (0.8) and ``forecast_every_s`` (0: the breach
forecast, ``simulator.breach``, off);
``batch_window_s`` (0: the optimal policy's batch window);
``[[skill]]`` ``name``; ``[[team]]`` ``voice_capacity`` (1); ``[[demand]]`` ``priority`` (0),
``start_h`` and ``end_h`` (the hours the stream runs; default the whole day), ``planned``
(true; false for a surge the breach forecast's plan does not know).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from base.errors import BadRequest, GraphCycle, InvalidInput
from router.model import (
    DEFAULT_STEPS,
    ESCALATIONS,
    MAX_PROFICIENCY,
    MIN_PROFICIENCY,
    POLICIES,
    Channel,
    Pool,
    RoutingConfig,
    Step,
)
from simulator.fields import Source, Table
from skills.graph import SkillGraph, SkillSpec

HANDLE_MODELS = ("exponential", "lognormal")
CHANNEL_NAMES = tuple(c.value for c in Channel)
TICK = 1 / 1024  # every simulated time is a multiple of this (see ``quantize``)


def quantize(seconds: float) -> float:
    """Round to a multiple of ``TICK``: sums and differences of such times are exact floats,
    which the routing core's escalation wake-ups rely on (see docs/simulator.md)."""
    return round(seconds / TICK) * TICK


@dataclass(frozen=True, slots=True)
class Settings:
    """``[simulation]``: times in seconds except where the name says hours."""

    duration_h: float
    warmup_h: float = 0.0
    seed: int = 1
    policy: str = "graph"
    service_level_target_s: float = 20.0
    accept_delay_s: float = 0.0
    wrapup_s: float = 0.0
    offer_timeout_s: float = 20.0
    taxonomy_cost: float = 0.5
    steps: tuple[Step, ...] = DEFAULT_STEPS
    batch_window_s: float = 0.0
    escalation: str = "target"
    service_level: float = 0.8  # the share to answer within the target (breach forecast)
    forecast_every_s: float = 0.0  # run the breach forecast this often (0: not at all)


@dataclass(frozen=True, slots=True)
class Team:
    """``[[team]]``: ``size`` identical experts, on shift from ``start_h`` to ``end_h`` (None =
    to the end of the run)."""

    name: str
    size: int
    skills: Mapping[str, int]
    languages: frozenset[str] = frozenset({"en"})
    chat_capacity: int = 1
    voice_capacity: int = 1
    start_h: float = 0.0
    end_h: float | None = None

    def expert_ids(self) -> list[str]:
        return [f"{self.name}-{n}" for n in range(1, self.size + 1)]


@dataclass(frozen=True, slots=True)
class Demand:
    """``[[demand]]``: a Poisson stream from ``start_h`` to ``end_h`` (hours from the start)."""

    skill: str
    per_hour: float
    aht_s: float
    end_h: float
    handle: str = "exponential"
    cv: float | None = None
    patience_s: float | None = None
    channel: Channel = Channel.VOICE
    language: str | None = None
    priority: int = 0
    start_h: float = 0.0
    planned: bool = True  # false: a surge the plan (the breach forecast's history) never saw


@dataclass(frozen=True, slots=True)
class Scenario:
    """A validated scenario. ``substitutes`` come from the skills graph, cut at the widest
    step's cost."""

    name: str
    settings: Settings
    skills: tuple[SkillSpec, ...]
    teams: tuple[Team, ...]
    demand: tuple[Demand, ...]
    substitutes: Mapping[str, tuple[tuple[str, float], ...]]

    @property
    def duration_s(self) -> float:
        return quantize(self.settings.duration_h * 3600)

    @property
    def warmup_s(self) -> float:
        return quantize(self.settings.warmup_h * 3600)

    def routing_config(self, policy: str | None = None) -> RoutingConfig:
        """The core's configuration: the scenario's policy (or ``policy``), steps and times."""
        s = self.settings
        steps = tuple(Step(quantize(st.after_s), st.max_cost, st.min_proficiency)
                      for st in s.steps)
        return RoutingConfig(policy=policy or s.policy, steps=steps,
                             escalation=s.escalation,
                             target_s=max(quantize(s.service_level_target_s), TICK),
                             offer_timeout_s=quantize(s.offer_timeout_s),
                             wrapup_s=quantize(s.wrapup_s),
                             batch_window_s=quantize(s.batch_window_s))

    def pool(self) -> Pool:
        return Pool(substitutes=self.substitutes)

    def with_options(self, *, policy: str | None = None, seed: int | None = None,
                     scale: float | None = None, escalation: str | None = None) -> Scenario:
        """A copy with another policy, escalation or seed, or with team sizes and demand
        multiplied."""
        settings = self.settings
        if policy is not None:
            settings = replace(settings, policy=policy)
        if escalation is not None:
            settings = replace(settings, escalation=escalation)
        if seed is not None:
            settings = replace(settings, seed=seed)
        teams, demand = self.teams, self.demand
        if scale is not None:
            teams = tuple(replace(t, size=max(1, round(t.size * scale))) for t in teams)
            demand = tuple(replace(d, per_hour=d.per_hour * scale) for d in demand)
        return replace(self, settings=settings, teams=teams, demand=demand)


# -- loading ------------------------------------------------------------------------------------

def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; BadRequest (one line) for anything wrong."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise BadRequest(f"cannot read scenario {path}: {reason}") from None
    return parse_scenario(text, name=str(path))


def parse_scenario(text: str, name: str = "scenario.toml") -> Scenario:
    """Validate TOML ``text``; ``name`` is used in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(name, exc) from None
    source = Source(name, text)
    root = Table(data, (), source)
    settings = _settings(root.table("simulation"))
    skills = tuple(_skill(t) for t in root.tables("skill"))
    known = _check_skills(skills, root)
    teams = tuple(_team(t, known) for t in root.tables("team"))
    demand = tuple(_demand(t, known, settings) for t in root.tables("demand"))
    root.done()
    _check_whole(root, teams, demand)
    graph = _graph(skills, settings, root)
    radius = max(step.max_cost for step in settings.steps)
    return Scenario(name, settings, skills, teams, demand, graph.substitutes_table(radius))


def _toml_error(name: str, exc: tomllib.TOMLDecodeError) -> BadRequest:
    """``name:LINE: invalid TOML: reason`` from tomllib's ``reason (at line L, column C)``."""
    message = str(exc)
    match = re.search(r"\s*\(at line (\d+), column \d+\)$", message)
    if match is None:
        return BadRequest(f"{name}: invalid TOML: {message}")
    return BadRequest(f"{name}:{match.group(1)}: invalid TOML: {message[:match.start()]}",
                      line=int(match.group(1)))


def _settings(table: Table) -> Settings:
    duration = table.number("duration_h", above=0)
    settings = Settings(
        duration_h=duration,
        warmup_h=table.number("warmup_h", 0.0, at_least=0),
        seed=table.integer("seed", 1, low=0),
        policy=table.string("policy", "graph", choices=POLICIES),
        service_level_target_s=table.number("service_level_target_s", 20.0, at_least=0),
        accept_delay_s=table.number("accept_delay_s", 0.0, at_least=0),
        wrapup_s=table.number("wrapup_s", 0.0, at_least=0),
        offer_timeout_s=table.number("offer_timeout_s", 20.0, above=0),
        taxonomy_cost=table.number("taxonomy_cost", 0.5, above=0),
        steps=_steps(table) if table.has("steps") else DEFAULT_STEPS,
        batch_window_s=table.number("batch_window_s", 0.0, at_least=0),
        escalation=table.string("escalation", "target", choices=ESCALATIONS),
        service_level=table.number("service_level", 0.8, above=0),
        forecast_every_s=table.number("forecast_every_s", 0.0, at_least=0),
    )
    if settings.service_level >= 1:
        table.fail("service_level", "must be a fraction below 1")
    if settings.warmup_h >= duration:
        table.fail("warmup_h", "must be less than duration_h")
    if quantize(settings.accept_delay_s) >= quantize(settings.offer_timeout_s):
        table.fail("accept_delay_s", "must be less than offer_timeout_s (offers would expire)")
    table.done()
    return settings


def _steps(table: Table) -> tuple[Step, ...]:
    steps = []
    for step in table.tables("steps"):
        steps.append(Step(step.number("after_s", at_least=0),
                          step.number("max_cost", at_least=0),
                          step.integer("min_proficiency", low=MIN_PROFICIENCY,
                                       high=MAX_PROFICIENCY)))
        step.done()
    try:
        RoutingConfig(steps=tuple(steps))
    except InvalidInput as exc:
        table.fail("steps", exc.message.removeprefix("routing.steps").lstrip(": "))
    return tuple(steps)


def _skill(table: Table) -> SkillSpec:
    skill_id = table.string("id")
    related = table.raw("related", {})
    if not isinstance(related, Mapping):
        table.fail("related", "must be a table of skill = cost")
    for other, cost in related.items():
        if isinstance(cost, bool) or not isinstance(cost, int | float) or not cost > 0:
            table.source.fail((*table.path, "related", other), "must be a cost > 0")
    spec = SkillSpec(id=skill_id, name=table.string("name", skill_id),
                     broader=table.string("broader", None), related=dict(related))
    table.done()
    return spec


def _check_skills(skills: tuple[SkillSpec, ...], root: Table) -> set[str]:
    """Unique ids; broader and related skills declared."""
    known: set[str] = set()
    for i, spec in enumerate(skills):
        if spec.id in known:
            root.source.fail(("skill", i, "id"), f"skill {spec.id!r} given twice")
        known.add(spec.id)
    for i, spec in enumerate(skills):
        if spec.broader is not None and spec.broader not in known:
            root.source.fail(("skill", i, "broader"), f"unknown skill {spec.broader!r}")
        for other in spec.related:
            if other not in known or other == spec.id:
                root.source.fail(("skill", i, "related", other),
                                 f"unknown skill {other!r}" if other not in known
                                 else "a skill cannot be related to itself")
    return known


def _team(table: Table, known: set[str]) -> Team:
    skills = table.raw("skills")
    if not isinstance(skills, Mapping) or not skills:
        table.fail("skills", "must be a non-empty table of skill = proficiency (1..5)")
    for skill, level in skills.items():
        where = (*table.path, "skills", skill)
        if skill not in known:
            table.source.fail(where, f"unknown skill {skill!r} (declare it in [[skill]])")
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 5:
            table.source.fail(where, f"proficiency must be a whole number 1..5, not {level!r}")
    start, end = _shift(table.table("shift")) if table.has("shift") else (0.0, None)
    team = Team(name=table.string("name"), size=table.integer("size", low=1),
                skills=dict(skills), languages=frozenset(table.strings("languages", ("en",))),
                chat_capacity=table.integer("chat_capacity", 1, low=0),
                voice_capacity=table.integer("voice_capacity", 1, low=0),
                start_h=start, end_h=end)
    if team.chat_capacity == team.voice_capacity == 0:
        table.fail("chat_capacity", "a team with no voice and no chat capacity takes nothing")
    table.done()
    return team


def _shift(table: Table) -> tuple[float, float]:
    start = table.number("start_h", at_least=0)
    end = table.number("end_h", above=start)
    table.done()
    return start, end


def _demand(table: Table, known: set[str], settings: Settings) -> Demand:
    skill = table.string("skill")
    if skill not in known:
        table.fail("skill", f"unknown skill {skill!r} (declare it in [[skill]])")
    handle = table.string("handle", "exponential", choices=HANDLE_MODELS)
    cv = table.number("cv", None, above=0)
    if handle == "lognormal" and cv is None:
        table.fail("cv", "missing: a lognormal handle time needs its coefficient of variation")
    if handle == "exponential" and cv is not None:
        table.fail("cv", "only applies to handle = \"lognormal\" (an exponential has cv 1)")
    language = table.string("language", None)
    demand = Demand(
        skill=skill, per_hour=table.number("per_hour", above=0),
        aht_s=table.number("aht_s", above=0), handle=handle, cv=cv,
        patience_s=table.number("patience_s", None, above=0),
        channel=Channel(table.string("channel", "voice", choices=CHANNEL_NAMES)),
        language=language, priority=table.integer("priority", 0),
        start_h=table.number("start_h", 0.0, at_least=0),
        end_h=table.number("end_h", settings.duration_h, above=0),
        planned=table.boolean("planned", True))
    if demand.end_h > settings.duration_h:
        table.fail("end_h", "must be <= simulation.duration_h (arrivals stop there)")
    if demand.start_h >= demand.end_h:
        table.fail("start_h", "must be less than end_h")
    table.done()
    return demand


def _check_whole(root: Table, teams: tuple[Team, ...], demand: tuple[Demand, ...]) -> None:
    if not teams:
        root.fail("team", "a scenario needs at least one [[team]]")
    if not demand:
        root.fail("demand", "a scenario needs at least one [[demand]]")
    seen: dict[str, int] = {}
    for i, team in enumerate(teams):
        if team.name in seen:
            root.source.fail(("team", i, "name"),
                             f"team {team.name!r} given twice (first at team[{seen[team.name]}])")
        seen[team.name] = i


def _graph(skills: tuple[SkillSpec, ...], settings: Settings, root: Table) -> SkillGraph:
    try:
        return SkillGraph.build(skills, taxonomy_cost=settings.taxonomy_cost)
    except GraphCycle as exc:
        first = exc.details.get("cycle", [""])[0]
        index = next(i for i, s in enumerate(skills) if s.id == first)
        root.source.fail(("skill", index, "broader"), exc.message)
    except InvalidInput as exc:
        root.source.fail(("skill",), exc.message)


def stream_window(demand: Demand) -> tuple[float, float]:
    """The stream's arrival window in seconds."""
    return quantize(demand.start_h * 3600), quantize(demand.end_h * 3600)


def shift_window(team: Team) -> tuple[float, float]:
    """The team's shift in seconds (``inf`` when it never goes offline)."""
    end = math.inf if team.end_h is None else quantize(team.end_h * 3600)
    return quantize(team.start_h * 3600), end
