"""Scenario builders and Hypothesis strategies for the simulator tests.

``to_toml(doc)`` writes a scenario dict (``simulation``, ``skill``, ``team``, ``demand``) as
TOML text, so tests build scenarios as data and still go through the real parser.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def _table(values: dict[str, Any]) -> list[str]:
    return [f"{key} = {_value(value)}" for key, value in values.items()]


def to_toml(doc: dict[str, Any]) -> str:
    """TOML text for a scenario given as ``{"simulation": {...}, "skill": [...], ...}``."""
    lines = ["[simulation]", *_table(doc.get("simulation", {}))]
    for section in ("skill", "team", "demand"):
        for item in doc.get(section, []):
            lines += ["", f"[[{section}]]", *_table(item)]
    return "\n".join(lines) + "\n"


def single_skill(agents: int, per_hour: float, aht_s: float, *, hours: float = 8.0,
                 warmup_h: float = 0.5, patience_s: float | None = None,
                 policy: str = "graph", target_s: float = 20) -> dict[str, Any]:
    """One skill, one team, one Poisson stream: the M/M/N(+M) of Erlang C (and A)."""
    demand: dict[str, Any] = {"skill": "advice", "per_hour": per_hour, "aht_s": aht_s}
    if patience_s is not None:
        demand["patience_s"] = patience_s
    return {
        "simulation": {"duration_h": hours, "warmup_h": warmup_h, "policy": policy,
                       "service_level_target_s": target_s},
        "skill": [{"id": "advice"}],
        "team": [{"name": "advisers", "size": agents, "skills": {"advice": 5}}],
        "demand": [demand],
    }


# -- Hypothesis: small random scenarios ----------------------------------------------------------

SKILL_IDS = ("area", "alpha", "beta", "gamma")


@st.composite
def teams(draw: st.DrawFn, index: int, hours: float) -> dict[str, Any]:
    held = draw(st.lists(st.sampled_from(SKILL_IDS), min_size=1, max_size=3, unique=True))
    team: dict[str, Any] = {
        "name": f"team{index}", "size": draw(st.integers(1, 4)),
        "skills": {s: draw(st.integers(1, 5)) for s in held},
        "chat_capacity": draw(st.integers(0, 3)),
    }
    if team["chat_capacity"] == 0:
        team["voice_capacity"] = 1
    if draw(st.booleans()):
        start = draw(st.sampled_from((0.0, 0.25, 0.5)))
        team["shift"] = {"start_h": start, "end_h": draw(st.sampled_from((hours, start + 0.5)))}
    return team


@st.composite
def demands(draw: st.DrawFn) -> dict[str, Any]:
    demand: dict[str, Any] = {
        "skill": draw(st.sampled_from(SKILL_IDS)),
        "per_hour": draw(st.sampled_from((5, 20, 60))),
        "aht_s": draw(st.sampled_from((30, 120, 400))),
        "channel": draw(st.sampled_from(("voice", "chat"))),
    }
    if draw(st.booleans()):
        demand["patience_s"] = draw(st.sampled_from((10, 60, 300)))
    if draw(st.booleans()):
        demand |= {"handle": "lognormal", "cv": draw(st.sampled_from((0.5, 1.5)))}
    return demand


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """Up to three teams and three streams over a small taxonomy, one or two hours long."""
    hours = draw(st.sampled_from((1.0, 2.0)))
    n_teams = draw(st.integers(1, 3))
    return {
        "simulation": {
            "duration_h": hours, "warmup_h": draw(st.sampled_from((0.0, 0.25))),
            "seed": draw(st.integers(0, 1000)),
            "policy": draw(st.sampled_from(("exact", "graph", "optimal"))),
            "accept_delay_s": draw(st.sampled_from((0, 3))),
            "wrapup_s": draw(st.sampled_from((0, 20))),
        },
        "skill": [{"id": "area"}, {"id": "alpha", "broader": "area"},
                  {"id": "beta", "broader": "area", "related": {"gamma": 1.0}},
                  {"id": "gamma"}],
        "team": [draw(teams(i, hours)) for i in range(n_teams)],
        "demand": draw(st.lists(demands(), min_size=1, max_size=3)),
    }
